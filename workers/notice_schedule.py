"""The monthly notice's Temporal Schedule, created by every worker at start-up.

Idempotent: the first worker creates it, the others (and every restart) find it running and
leave it as it is. The catch-up window lets a Schedule whose firing fell in an outage of
Temporal run it once Temporal is back, for up to a month.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
)

from runtime.log import get_logger
from workflows.monthly_notice import (
    MONTHLY_NOTICE_SCHEDULE_ID,
    MonthlyNoticeRequest,
    MonthlyNoticeWorkflow,
)

log = get_logger(__name__)

NOTICE_TIME_ZONE = "Asia/Shanghai"
CATCHUP_WINDOW = timedelta(days=31)


def monthly_notice_schedule(task_queue: str) -> Schedule:
    """On the 1st of every month at 09:00 Asia/Shanghai, the previous month's notices."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            MonthlyNoticeWorkflow.run,
            MonthlyNoticeRequest(),
            id=f"{MONTHLY_NOTICE_SCHEDULE_ID}-run",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    day_of_month=[ScheduleRange(1)],
                    hour=[ScheduleRange(9)],
                    minute=[ScheduleRange(0)],
                    second=[ScheduleRange(0)],
                )
            ],
            time_zone_name=NOTICE_TIME_ZONE,
        ),
        # A second firing while one still runs waits for it; the activities would make a
        # parallel run harmless too, but one at a time keeps the history plain.
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.BUFFER_ONE, catchup_window=CATCHUP_WINDOW
        ),
    )


async def ensure_monthly_notice_schedule(
    client: Client, task_queue: str, schedule_id: str = MONTHLY_NOTICE_SCHEDULE_ID
) -> bool:
    """Create the Schedule unless it exists; True when this call created it."""
    try:
        await client.create_schedule(schedule_id, monthly_notice_schedule(task_queue))
    except ScheduleAlreadyRunningError:
        log.info("monthly notice schedule already exists", schedule_id=schedule_id)
        return False
    log.info("monthly notice schedule created", schedule_id=schedule_id, time_zone=NOTICE_TIME_ZONE)
    return True
