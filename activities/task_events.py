"""The lifecycle's side effects: the holiday calendar it counts over, and its record.

``record_task_events`` writes a batch of events, the task's current state and one outbox
row per notification and channel in one transaction, keyed by workflow id and sequence
number: an activity retried after a timeout finds its rows and adds nothing, so nothing is
counted or notified twice. Delivery is the dispatcher's job (:mod:`notifications`), so a
channel that is down never holds the lifecycle up.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from pydantic import TypeAdapter
from temporalio import activity

from domain.calendar import CalendarYears, HolidaySource, installed_calendar_years
from domain.lifecycle import TaskEvent
from runtime.log import get_logger
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
        years = installed_calendar_years(span.first_year, span.last_year, is_workday)
        if years.guessed_years:
            log.warning(
                "holiday calendar has no data for these years; counted Monday to Friday",
                years=years.guessed_years,
            )
        return years

    return read_working_calendar


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
        """Record the batch once; returns how many events were new."""
        projection = request.projection
        events = _EVENTS_JSON.dump_json(request.events).decode()
        added: int = await self._pool.fetchval(
            _RECORD,
            request.workflow_id,
            request.lineage,
            projection.plan_id,
            projection.task_id,
            _storable(events),
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
        )
        log.info(
            "task events recorded",
            task_id=projection.task_id,
            unit=projection.lead_unit,
            kinds=[event.kind for event in request.events],
            new=added,
        )
        return added


# One statement, so one round trip and atomic without a transaction block: the events, the
# task's row and the outbox rows all land or none do. Each event's JSON is stored whole in
# its notifications, so the outbox and task_events say the same thing.
_RECORD = """
WITH batch AS (
    SELECT event, (event ->> 'seq')::integer AS seq
    FROM jsonb_array_elements($5::jsonb) AS event
), new_events AS (
    INSERT INTO task_events (workflow_id, lineage, seq, plan_id, task_id, kind, at,
        actor_role, actor_unit, unit, stage_before, stage_after, milestone, level,
        recipients, detail)
    SELECT $1, $2, seq, $3, $4, event ->> 'kind', (event ->> 'at')::timestamptz,
        event -> 'actor' ->> 'role', event -> 'actor' ->> 'unit', event ->> 'unit',
        event ->> 'stage_before', event ->> 'stage_after', (event ->> 'milestone')::integer,
        (event ->> 'level')::integer,
        ARRAY(SELECT jsonb_array_elements_text(event -> 'recipients')), event -> 'detail'
    FROM batch
    ON CONFLICT (workflow_id, lineage, seq) DO NOTHING
    RETURNING seq
), outbox AS (
    INSERT INTO notification_outbox (workflow_id, lineage, seq, channel, payload)
    SELECT $1, $2, seq, channel,
        jsonb_build_object('workflow_id', $1::text, 'plan_id', $3::text, 'task_id', $4::text,
                           'event', event)
    FROM batch CROSS JOIN unnest($6::text[]) AS channel
    WHERE jsonb_array_length(event -> 'recipients') > 0
    ON CONFLICT (workflow_id, lineage, seq, channel) DO NOTHING
), state AS (
    INSERT INTO task_states (workflow_id, plan_id, task_id, stage, lead_unit,
        cooperating_units, next_due, next_due_at, escalation_level, extensions_granted,
        progress_percent, awaiting_reassignment, closed_at, seq, lineage, yellow_from)
    VALUES ($1, $3, $4, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $2, $18)
    ON CONFLICT (workflow_id) DO UPDATE SET
        stage = EXCLUDED.stage, lead_unit = EXCLUDED.lead_unit,
        cooperating_units = EXCLUDED.cooperating_units,
        next_due = EXCLUDED.next_due, next_due_at = EXCLUDED.next_due_at,
        escalation_level = EXCLUDED.escalation_level,
        extensions_granted = EXCLUDED.extensions_granted,
        progress_percent = EXCLUDED.progress_percent,
        awaiting_reassignment = EXCLUDED.awaiting_reassignment,
        closed_at = EXCLUDED.closed_at, seq = EXCLUDED.seq,
        yellow_from = EXCLUDED.yellow_from, lineage = EXCLUDED.lineage, updated_at = now()
    -- Only forward within a lineage; a new lineage (the task came back) replaces.
    WHERE task_states.seq < EXCLUDED.seq OR task_states.lineage <> EXCLUDED.lineage
)
SELECT count(*)::integer FROM new_events
"""
