"""The lifecycle's side effects: the holiday calendar it counts over, and its record.

``record_task_events`` writes a batch of events, the task's current state and one outbox
row per notification and channel in one transaction, keyed by workflow id, lineage and
sequence number: an activity retried after a timeout finds its rows and adds nothing, so
nothing is counted or notified twice. Delivery is the dispatcher's job
(:mod:`notifications`), so a channel that is down never holds the lifecycle up.

The projection follows the live history, also across workflow resets. A reset run keeps
the first run id (so its lineage) and numbers its new events from the reset point on,
reusing the sequence numbers of events its predecessor made after that point. Making the
reset a lineage of its own would leave those undone events in ``task_events``, counted;
so instead every row carries the run that wrote it, and runs are ordered by when they
sent (a reset run sends after every batch of the run it replaced, as does a run continued
as new or a task added back). When a run writes a lineage another run wrote last:

* if it is the newest, the other runs' events from its first sequence number on (or past
  its state's, for a batch without events) are the undone ones: they move to
  ``task_events_superseded`` with the run that replaced them, and their notifications
  still pending are not sent;
* if a newer run already wrote from some sequence number on, this is a late write of a
  replaced run (an attempt stuck in a worker through the reset): its events from there
  on go straight to ``task_events_superseded``, and the projection keeps the newer state.

``task_states`` keeps the newest write by (send time, sequence number): a newer run or
lineage replaces the row whatever its sequence number, and an older retried write never
overwrites a newer one.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import TypeAdapter
from temporalio import activity

from domain.calendar import CalendarYears, HolidaySource, installed_calendar_years
from domain.lifecycle import TaskEvent
from runtime.log import get_logger
from store.db import Connection
from workflows.task_contract import (
    READ_WORKING_CALENDAR,
    RECORD_TASK_EVENTS,
    CalendarSpan,
    RecordEvents,
)

log = get_logger(__name__)
_EVENTS_JSON = TypeAdapter(list[TaskEvent])


def working_calendar_reader(
    is_workday: HolidaySource | None = None,
) -> Callable[[CalendarSpan], Awaitable[CalendarYears]]:
    """The calendar activity over the installed ``chinesecalendar``, or over ``is_workday``
    (a calendar a test controls)."""

    @activity.defn(name=READ_WORKING_CALENDAR)
    async def read_working_calendar(span: CalendarSpan) -> CalendarYears:
        """The holiday calendar for whole years, as data (a local activity: the answer is
        recorded, and the workflow counts working days over it)."""
        return _calendar_years(span, is_workday)

    return read_working_calendar


# The body outside the decorated function, where mutation testing can reach it.
# Years already warned about by this process: every task of a plan reads the calendar, and
# one warning says it as well as a few hundred.
_WARNED_GUESSED_YEARS: set[tuple[int, ...]] = set()


def _calendar_years(span: CalendarSpan, is_workday: HolidaySource | None = None) -> CalendarYears:
    years = installed_calendar_years(span.first_year, span.last_year, is_workday)
    guessed = tuple(years.guessed_years)
    # A calendar given in (a test's) always warns: it is read for what it says.
    if guessed and (is_workday is not None or guessed not in _WARNED_GUESSED_YEARS):
        if is_workday is None:
            _WARNED_GUESSED_YEARS.add(guessed)
        log.warning(
            "holiday calendar has no data for these years; counted Monday to Friday",
            years=years.guessed_years,
        )
    return years


read_working_calendar = working_calendar_reader()


# A JSON ``\u0000`` escape: preceded by an even number of backslashes, so that the text
# ``\u0000`` typed by a user (serialised as ``\\u0000``) is left alone.
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _storable(document: str) -> str:
    """PostgreSQL's jsonb cannot hold NUL; validators refuse it, this keeps a retry loop
    from ever forming on an old payload that slipped through."""
    return _NUL_ESCAPE.sub(r"\1", document)


class TaskEventActivities:
    def __init__(self, pool: asyncpg.Pool, channels: Sequence[str]) -> None:
        self._pool = pool
        self._channels = list(channels)

    @activity.defn(name=RECORD_TASK_EVENTS)
    async def record_task_events(self, request: RecordEvents) -> int:
        """Record the batch once; returns how many events were new in the live history."""
        return await self._record(request)

    # The body lives in an undecorated method because mutmut leaves decorated ones alone.
    async def _record(self, request: RecordEvents) -> int:
        run_id, sent_at = _sending_run(request)
        added: int = await self._pool.fetchval(
            _RECORD, *self._arguments(request, request.events, run_id, sent_at), False
        )
        if added == _ANOTHER_RUN_WROTE_LAST:
            async with self._pool.acquire() as connection, connection.transaction():
                added = await self._record_over_another_run(connection, request, run_id, sent_at)
        projection = request.projection
        log.info(
            "task events recorded",
            task_id=projection.task_id,
            unit=projection.lead_unit,
            kinds=[event.kind for event in request.events],
            new=added,
        )
        return added

    async def _record_over_another_run(
        self,
        connection: Connection,
        request: RecordEvents,
        run_id: str,
        sent_at: datetime | None,
    ) -> int:
        """The rare path, one transaction: the first batch of a continued, reset or re-added
        run, or a late write of a replaced run."""
        # Writers of one task take turns from here: a late write and the reset run's first
        # one cannot each miss the other's rows.
        await connection.execute(
            "SELECT 1 FROM task_states WHERE workflow_id = $1 FOR UPDATE", request.workflow_id
        )
        newer = await connection.fetchrow(
            _FIRST_EVENT_OF_A_NEWER_RUN, request.workflow_id, request.lineage, run_id, sent_at
        )
        live = request.events
        if newer is not None:
            undone = [event for event in request.events if event.seq >= newer["seq"]]
            live = [event for event in request.events if event.seq < newer["seq"]]
            if undone:
                await connection.execute(
                    _KEEP_SUPERSEDED,
                    request.workflow_id,
                    request.lineage,
                    request.projection.plan_id,
                    request.projection.task_id,
                    _events_json(undone),
                    newer["run_id"],
                    run_id,
                    sent_at,
                )
        else:
            # Past the projection's seq nothing is this run's either: a batch without events
            # (the resync signal) supersedes what the run it replaced made after the point.
            seqs = [event.seq for event in request.events]
            first_seq = min(seqs, default=request.projection.seq + 1)
            await connection.execute(
                _SUPERSEDE_FROM, request.workflow_id, request.lineage, run_id, first_seq
            )
        added: int = await connection.fetchval(
            _RECORD, *self._arguments(request, live, run_id, sent_at), True
        )
        return added

    def _arguments(
        self,
        request: RecordEvents,
        events: Sequence[TaskEvent],
        run_id: str,
        sent_at: datetime | None,
    ) -> list[Any]:
        projection = request.projection
        return [
            request.workflow_id,
            request.lineage,
            projection.plan_id,
            projection.task_id,
            _events_json(events),
            self._channels,
            projection.stage.value,
            projection.lead_unit,
            projection.cooperating_units,
            projection.next_due,
            projection.next_due_at,
            projection.escalation_level,
            projection.extensions_granted,
            projection.progress_percent,
            projection.awaiting_reassignment,
            projection.closed_at,
            projection.seq,
            projection.yellow_from,
            run_id,
            sent_at,
        ]


def _events_json(events: Sequence[TaskEvent]) -> str:
    return _storable(_EVENTS_JSON.dump_json(list(events)).decode())


def _sending_run(request: RecordEvents) -> tuple[str, datetime | None]:
    """Which run sent the batch, and when: as the request says, else (a workflow history
    from before the request said so) as the activity's info says. A direct call with
    neither gets the rules of a single run: a sequence number is a duplicate or new."""
    if request.run_id:
        return request.run_id, request.sent_at
    try:
        info = activity.info()
    except RuntimeError:  # not running as an activity
        return "", None
    return info.workflow_run_id or "", info.scheduled_time


# What _RECORD answers, writing nothing, when another run wrote the task's row last.
_ANOTHER_RUN_WROTE_LAST = -1

# One statement, so one round trip and atomic without a transaction block: the events, the
# task's row and the outbox rows all land or none do. Each event's JSON is stored whole in
# its notifications, so the outbox and task_events say the same thing. Notifications are
# written for the events this statement wrote, so a retry never notifies twice.
#
# Unless $21 (the other run was dealt with), it writes nothing when another run wrote the
# task's row last. Locking that row makes the check see a concurrent writer's commit.
_RECORD = """
WITH batch AS (
    SELECT event, (event ->> 'seq')::integer AS seq
    FROM jsonb_array_elements($5::jsonb) AS event
), last_writer AS (
    SELECT run_id FROM task_states WHERE workflow_id = $1 FOR UPDATE
), another_run AS (
    SELECT NOT $21::boolean AND $19::text <> '' AND EXISTS (
        SELECT 1 FROM last_writer WHERE run_id NOT IN ('', $19::text)
    ) AS wrote_last
), new_events AS (
    INSERT INTO task_events (workflow_id, lineage, seq, plan_id, task_id, kind, at,
        actor_role, actor_unit, unit, stage_before, stage_after, milestone, level,
        recipients, detail, run_id, sent_at)
    SELECT $1, $2, seq, $3, $4, event ->> 'kind', (event ->> 'at')::timestamptz,
        event -> 'actor' ->> 'role', event -> 'actor' ->> 'unit', event ->> 'unit',
        event ->> 'stage_before', event ->> 'stage_after', (event ->> 'milestone')::integer,
        (event ->> 'level')::integer,
        ARRAY(SELECT jsonb_array_elements_text(event -> 'recipients')), event -> 'detail',
        $19, $20
    FROM batch
    WHERE NOT (SELECT wrote_last FROM another_run)
    ON CONFLICT (workflow_id, lineage, seq) DO NOTHING
    RETURNING seq
), outbox AS (
    INSERT INTO notification_outbox (workflow_id, lineage, seq, channel, payload)
    SELECT $1, $2, seq, channel,
        jsonb_build_object('workflow_id', $1::text, 'plan_id', $3::text, 'task_id', $4::text,
                           'event', event)
    FROM batch JOIN new_events USING (seq) CROSS JOIN unnest($6::text[]) AS channel
    WHERE jsonb_array_length(event -> 'recipients') > 0
    ON CONFLICT (workflow_id, lineage, seq, channel) WHERE superseded_at IS NULL DO NOTHING
), state AS (
    INSERT INTO task_states (workflow_id, plan_id, task_id, stage, lead_unit,
        cooperating_units, next_due, next_due_at, escalation_level, extensions_granted,
        progress_percent, awaiting_reassignment, closed_at, seq, lineage, yellow_from,
        run_id, sent_at)
    SELECT $1, $3, $4, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $2, $18, $19, $20
    WHERE NOT (SELECT wrote_last FROM another_run)
    ON CONFLICT (workflow_id) DO UPDATE SET
        stage = EXCLUDED.stage, lead_unit = EXCLUDED.lead_unit,
        cooperating_units = EXCLUDED.cooperating_units,
        next_due = EXCLUDED.next_due, next_due_at = EXCLUDED.next_due_at,
        escalation_level = EXCLUDED.escalation_level,
        extensions_granted = EXCLUDED.extensions_granted,
        progress_percent = EXCLUDED.progress_percent,
        awaiting_reassignment = EXCLUDED.awaiting_reassignment,
        closed_at = EXCLUDED.closed_at, seq = EXCLUDED.seq,
        yellow_from = EXCLUDED.yellow_from, lineage = EXCLUDED.lineage,
        run_id = EXCLUDED.run_id, sent_at = EXCLUDED.sent_at, updated_at = now()
    -- Only forward: the newer send wins, a newer run or lineage whatever its seq; within a
    -- run, the higher seq. A row or write from before runs were recorded (no send time)
    -- keeps the old rule: forward within a lineage, a new lineage replaces.
    WHERE CASE
        WHEN task_states.sent_at IS NULL OR EXCLUDED.sent_at IS NULL
            THEN task_states.seq < EXCLUDED.seq OR task_states.lineage <> EXCLUDED.lineage
        ELSE (task_states.sent_at, task_states.seq) < (EXCLUDED.sent_at, EXCLUDED.seq)
    END
)
SELECT CASE WHEN (SELECT wrote_last FROM another_run) THEN -1
    ELSE (SELECT count(*)::integer FROM new_events) END
"""

# The first live event of the lineage that a run newer than this one wrote: from there on,
# this run's history was undone.
_FIRST_EVENT_OF_A_NEWER_RUN = """
SELECT seq, run_id FROM task_events
WHERE workflow_id = $1 AND lineage = $2 AND run_id NOT IN ('', $3) AND sent_at > $4
ORDER BY seq LIMIT 1
"""

# This run is the newest: the other runs' events from its first seq on were undone by a
# reset; they move out of the live history, and their pending notifications are not sent.
_SUPERSEDE_FROM = """
WITH undone AS (
    DELETE FROM task_events
    WHERE workflow_id = $1 AND lineage = $2 AND run_id NOT IN ('', $3) AND seq >= $4
    RETURNING *
), kept AS (
    INSERT INTO task_events_superseded (workflow_id, lineage, seq, run_id, sent_at, plan_id,
        task_id, kind, at, actor_role, actor_unit, unit, stage_before, stage_after,
        milestone, level, recipients, detail, recorded_at, superseded_by_run)
    SELECT workflow_id, lineage, seq, run_id, sent_at, plan_id, task_id, kind, at,
        actor_role, actor_unit, unit, stage_before, stage_after, milestone, level,
        recipients, detail, recorded_at, $3
    FROM undone
    ON CONFLICT DO NOTHING
)
UPDATE notification_outbox SET superseded_at = now(),
    status = CASE WHEN status = 'pending' THEN 'superseded' ELSE status END
WHERE workflow_id = $1 AND lineage = $2 AND superseded_at IS NULL
    AND seq IN (SELECT seq FROM undone)
"""

# A replaced run's late events: on record as superseded by the newer run ($6), never live.
_KEEP_SUPERSEDED = """
INSERT INTO task_events_superseded (workflow_id, lineage, seq, run_id, sent_at, plan_id,
    task_id, kind, at, actor_role, actor_unit, unit, stage_before, stage_after, milestone,
    level, recipients, detail, recorded_at, superseded_by_run)
SELECT $1, $2, (event ->> 'seq')::integer, $7, $8, $3, $4, event ->> 'kind',
    (event ->> 'at')::timestamptz, event -> 'actor' ->> 'role', event -> 'actor' ->> 'unit',
    event ->> 'unit', event ->> 'stage_before', event ->> 'stage_after',
    (event ->> 'milestone')::integer, (event ->> 'level')::integer,
    ARRAY(SELECT jsonb_array_elements_text(event -> 'recipients')), event -> 'detail',
    now(), $6
FROM jsonb_array_elements($5::jsonb) AS event
ON CONFLICT DO NOTHING
"""
