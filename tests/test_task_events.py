"""The recording activity against PostgreSQL, run in Temporal's activity environment: every
field lands in its column, a retry adds nothing, an older write never overwrites a newer
state, and a new lineage starts again. Fast (no Temporal server), so mutation runs use it."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from temporalio.testing import ActivityEnvironment

from activities.task_events import TaskEventActivities, _storable, read_working_calendar
from domain.lifecycle import Actor, Stage, TaskEvent
from workflows.task_contract import CalendarSpan, RecordEvents, TaskProjection

WORKFLOW = "plan-a/7"
AT = datetime(2030, 3, 1, 1, 30, tzinfo=UTC)
LEAD = "市信息办"
COOPERATING = ["市财政局", "市审计局"]
HELPERS = COOPERATING[:1]


def _event(seq: int, kind: str = "progress", **changes: object) -> TaskEvent:
    values: dict[str, object] = {
        "seq": seq,
        "kind": kind,
        "at": AT + timedelta(minutes=seq),
        "actor": Actor(role="unit", unit=LEAD, name="张三 (tok1)"),
        "unit": LEAD,
        "stage_before": Stage.IN_PROGRESS,
        "stage_after": Stage.IN_PROGRESS,
        "milestone": 0,
        "level": None,
        "recipients": [],
        "detail": {"percent": 10 * seq},
    }
    values.update(changes)
    return TaskEvent.model_validate(values)


def _projection(seq: int, **changes: object) -> TaskProjection:
    values: dict[str, object] = {
        "plan_id": "plan-a",
        "task_id": "7",
        "stage": Stage.IN_PROGRESS,
        "lead_unit": LEAD,
        "cooperating_units": COOPERATING,
        "next_due": date(2030, 6, 30),
        "next_due_at": datetime(2030, 6, 30, 15, 59, 59, tzinfo=UTC),
        "escalation_level": 1,
        "extensions_granted": 1,
        "progress_percent": 10 * seq,
        "awaiting_reassignment": False,
        "closed_at": None,
        "seq": seq,
        "yellow_from": datetime(2030, 6, 26, 1, 0, tzinfo=UTC),
    }
    values.update(changes)
    return TaskProjection.model_validate(values)


async def _record(
    pool: asyncpg.Pool,
    events: list[TaskEvent],
    projection: TaskProjection,
    *,
    lineage: str = "run-1",
    run_id: str = "run-1",
    sent_at: datetime | None = None,
    channels: tuple[str, ...] = ("log", "webhook"),
) -> int:
    """Record a batch as a run sends it: by default the first run, a later batch later."""
    activities = TaskEventActivities(pool, channels)
    request = RecordEvents(
        workflow_id=WORKFLOW,
        lineage=lineage,
        run_id=run_id,
        sent_at=sent_at or AT + timedelta(seconds=projection.seq),
        events=events,
        projection=projection,
    )
    added: int = await ActivityEnvironment().run(activities.record_task_events, request)
    return added


async def test_every_field_of_an_event_and_the_state_lands_in_its_column(
    db_pool: asyncpg.Pool,
) -> None:
    escalation = _event(
        2,
        "escalation",
        actor=None,
        unit=LEAD,
        stage_before=Stage.IN_PROGRESS,
        milestone=1,
        level=2,
        recipients=[LEAD, "government_office"],
        detail={"overdue_days": 31},
    )
    added = await _record(db_pool, [_event(1), escalation], _projection(2))
    assert added == 2

    rows = await db_pool.fetch("SELECT * FROM task_events ORDER BY seq")
    assert [(r["workflow_id"], r["lineage"], r["seq"]) for r in rows] == [
        (WORKFLOW, "run-1", 1),
        (WORKFLOW, "run-1", 2),
    ]
    first, second = rows
    assert (first["plan_id"], first["task_id"], first["kind"]) == ("plan-a", "7", "progress")
    assert first["at"] == AT + timedelta(minutes=1)
    assert (first["actor_role"], first["actor_unit"], first["unit"]) == ("unit", LEAD, LEAD)
    assert (first["stage_before"], first["stage_after"]) == ("in_progress", "in_progress")
    assert (first["milestone"], first["level"]) == (0, None)
    assert first["recipients"] == []
    assert json.loads(first["detail"]) == {"percent": 10}
    assert (first["run_id"], first["sent_at"]) == ("run-1", AT + timedelta(seconds=2))
    assert (second["actor_role"], second["actor_unit"]) == (None, None)
    assert (second["kind"], second["milestone"], second["level"]) == ("escalation", 1, 2)
    assert second["recipients"] == [LEAD, "government_office"]
    assert json.loads(second["detail"]) == {"overdue_days": 31}

    state = await db_pool.fetchrow("SELECT * FROM task_states WHERE workflow_id = $1", WORKFLOW)
    assert state is not None
    expected = {
        "workflow_id": WORKFLOW,
        "plan_id": "plan-a",
        "task_id": "7",
        "stage": "in_progress",
        "lead_unit": LEAD,
        "cooperating_units": COOPERATING,
        "next_due": date(2030, 6, 30),
        "next_due_at": datetime(2030, 6, 30, 15, 59, 59, tzinfo=UTC),
        "escalation_level": 1,
        "extensions_granted": 1,
        "progress_percent": 20,
        "awaiting_reassignment": False,
        "closed_at": None,
        "seq": 2,
        "lineage": "run-1",
        "yellow_from": datetime(2030, 6, 26, 1, 0, tzinfo=UTC),
        "run_id": "run-1",
        "sent_at": AT + timedelta(seconds=2),
    }
    assert {column: state[column] for column in expected} == expected


async def test_only_events_with_recipients_reach_the_outbox_once_per_channel(
    db_pool: asyncpg.Pool,
) -> None:
    urge = _event(2, "urge", recipients=[LEAD])
    await _record(db_pool, [_event(1), urge], _projection(2))
    rows = await db_pool.fetch(
        "SELECT workflow_id, lineage, seq, channel, payload FROM notification_outbox"
        " ORDER BY channel"
    )
    assert [(r["workflow_id"], r["lineage"], r["seq"], r["channel"]) for r in rows] == [
        (WORKFLOW, "run-1", 2, "log"),
        (WORKFLOW, "run-1", 2, "webhook"),
    ]
    payload = json.loads(rows[0]["payload"])
    assert payload == {
        "workflow_id": WORKFLOW,
        "plan_id": "plan-a",
        "task_id": "7",
        "event": json.loads(urge.model_dump_json()),
    }
    # The outbox carries the event exactly as task_events stores it.
    stored = await db_pool.fetchval("SELECT detail FROM task_events WHERE seq = 2")
    assert payload["event"]["detail"] == json.loads(stored)


async def test_a_retried_batch_adds_nothing(db_pool: asyncpg.Pool) -> None:
    batch = [_event(1), _event(2, "urge", recipients=[LEAD])]
    assert await _record(db_pool, batch, _projection(2)) == 2
    # The retry overlaps the first batch and brings one new event.
    again = [*batch, _event(3, recipients=[LEAD])]
    assert await _record(db_pool, again, _projection(3)) == 1
    assert await db_pool.fetchval("SELECT count(*) FROM task_events") == 3
    assert await db_pool.fetchval("SELECT count(*) FROM notification_outbox") == 4
    assert await db_pool.fetchval("SELECT seq FROM task_states") == 3


async def test_an_older_write_never_overwrites_a_newer_state(db_pool: asyncpg.Pool) -> None:
    """A retried activity from before (seq 2, sent earlier) arriving after a newer one
    (seq 3) leaves the newer state in place: the projection only moves forward."""
    await _record(db_pool, [_event(1), _event(2), _event(3)], _projection(3, stage=Stage.REVIEW))
    await _record(db_pool, [_event(1), _event(2)], _projection(2, stage=Stage.IN_PROGRESS))
    state = await db_pool.fetchrow("SELECT stage, seq, progress_percent FROM task_states")
    assert state is not None
    assert (state["stage"], state["seq"], state["progress_percent"]) == ("review", 3, 30)
    # The same seq again is no newer either.
    await _record(db_pool, [_event(3)], _projection(3, stage=Stage.SIGNOFF))
    assert await db_pool.fetchval("SELECT stage FROM task_states") == "review"
    # A newer one moves it.
    closed = AT + timedelta(days=1)
    await _record(db_pool, [_event(4)], _projection(4, stage=Stage.COMPLETED, closed_at=closed))
    state = await db_pool.fetchrow("SELECT stage, closed_at FROM task_states")
    assert state is not None
    assert (state["stage"], state["closed_at"]) == ("completed", closed)


async def test_a_new_lineage_records_its_own_events_and_replaces_the_state(
    db_pool: asyncpg.Pool,
) -> None:
    """A task that came back under the same workflow id starts at seq 1 again: its events
    are not taken for duplicates of the old run's, and its state replaces the old one."""
    await _record(db_pool, [_event(1), _event(2), _event(3)], _projection(3))
    added = await _record(
        db_pool,
        [_event(1, "assigned")],
        _projection(1),
        lineage="run-2",
        run_id="run-2",
        sent_at=AT + timedelta(hours=1),
    )
    assert added == 1
    rows = await db_pool.fetch("SELECT lineage, seq, kind FROM task_events ORDER BY lineage, seq")
    assert [(r["lineage"], r["seq"]) for r in rows] == [
        ("run-1", 1),
        ("run-1", 2),
        ("run-1", 3),
        ("run-2", 1),
    ]
    state = await db_pool.fetchrow("SELECT lineage, seq FROM task_states")
    assert state is not None
    assert (state["lineage"], state["seq"]) == ("run-2", 1)


async def test_recording_is_logged_with_what_was_new(
    db_pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="activities.task_events"):
        await _record(db_pool, [_event(1), _event(2, "urge")], _projection(2))
        await _record(db_pool, [_event(2, "urge")], _projection(2))
    lines = [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == "task events recorded"
    ]
    assert [{key: line[key] for key in ("task_id", "unit", "kinds", "new")} for line in lines] == [
        {"task_id": "7", "unit": LEAD, "kinds": ["progress", "urge"], "new": 2},
        {"task_id": "7", "unit": LEAD, "kinds": ["urge"], "new": 0},
    ]


async def test_a_nul_that_slipped_through_is_dropped_not_retried_for_ever(
    db_pool: asyncpg.Pool,
) -> None:
    """jsonb cannot hold NUL; a text with one (from before the validators refused it) is
    stored without it, while a user's literal backslash-u text is kept."""
    event = _event(1, detail={"text": "进度\x00报告", "typed": "\\u0000"})
    assert await _record(db_pool, [event], _projection(1)) == 1
    detail = json.loads(await db_pool.fetchval("SELECT detail FROM task_events"))
    assert detail == {"text": "进度报告", "typed": "\\u0000"}


@pytest.mark.parametrize(
    ("document", "stored"),
    [
        (r'"a\u0000b"', '"ab"'),
        (r'"a\\u0000b"', r'"a\\u0000b"'),  # an escaped backslash, then the text u0000
        (r'"a\\\u0000b"', r'"a\\b"'),  # an escaped backslash, then a NUL
        (r'"\u0000\u0000"', '""'),
    ],
)
def test_only_real_nul_escapes_are_removed(document: str, stored: str) -> None:
    assert _storable(document) == stored


async def test_the_calendar_is_read_as_data_and_an_unknown_year_is_guessed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    environment = ActivityEnvironment()
    known = await environment.run(
        read_working_calendar, CalendarSpan(first_year=2024, last_year=2024)
    )
    assert (known.first_year, known.last_year, known.guessed_years) == (2024, 2024, [])
    assert date(2024, 10, 1) in known.days_off  # 国庆节
    assert date(2024, 10, 12) in known.working_weekends  # a Saturday made up for it
    with caplog.at_level(logging.WARNING, logger="activities.task_events"):
        guessed = await environment.run(
            read_working_calendar, CalendarSpan(first_year=2098, last_year=2099)
        )
    assert guessed.guessed_years == [2098, 2099]
    assert guessed.days_off == []
    warnings = [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and record.levelno == logging.WARNING
    ]
    assert [(w["event"], w.get("years")) for w in warnings] == [
        (
            "holiday calendar has no data for these years; counted Monday to Friday",
            [2098, 2099],
        )
    ]
    # Every task of a plan reads the calendar: the same unknown years warn once a process.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="activities.task_events"):
        again = await environment.run(
            read_working_calendar, CalendarSpan(first_year=2098, last_year=2099)
        )
    assert again.guessed_years == [2098, 2099]
    assert [record for record in caplog.records if record.levelno == logging.WARNING] == []


# ---------------------------------------------------------------- runs of one lineage


async def _live(pool: asyncpg.Pool) -> list[tuple[int, str, str]]:
    rows = await pool.fetch("SELECT seq, run_id, kind FROM task_events ORDER BY seq")
    return [(r["seq"], r["run_id"], r["kind"]) for r in rows]


async def _superseded(pool: asyncpg.Pool) -> list[tuple[int, str, str, str]]:
    rows = await pool.fetch(
        "SELECT seq, run_id, kind, superseded_by_run FROM task_events_superseded ORDER BY seq"
    )
    return [(r["seq"], r["run_id"], r["kind"], r["superseded_by_run"]) for r in rows]


RESET_AT = AT + timedelta(hours=1)


async def _first_run_then_reset(pool: asyncpg.Pool) -> int:
    """Run 1 records seq 1-3 (3 notifies); a reset run 2 then sends its own 3 and 4."""
    await _record(
        pool, [_event(1), _event(2), _event(3, "urge", recipients=[LEAD])], _projection(3)
    )
    return await _record(
        pool,
        [_event(3, "submitted", recipients=HELPERS), _event(4)],
        _projection(4, stage=Stage.SIGNOFF),
        run_id="run-2",
        sent_at=RESET_AT,
    )


async def test_a_reset_run_replaces_the_history_from_its_first_event_on(
    db_pool: asyncpg.Pool,
) -> None:
    assert await _first_run_then_reset(db_pool) == 2
    assert await _live(db_pool) == [
        (1, "run-1", "progress"),
        (2, "run-1", "progress"),
        (3, "run-2", "submitted"),
        (4, "run-2", "progress"),
    ]
    assert await _superseded(db_pool) == [(3, "run-1", "urge", "run-2")]
    kept = await db_pool.fetchrow("SELECT * FROM task_events_superseded")
    assert kept is not None
    assert (kept["unit"], kept["recipients"], kept["sent_at"]) == (
        LEAD,
        [LEAD],
        AT + timedelta(seconds=3),
    )
    outbox = await db_pool.fetch(
        "SELECT seq, channel, status, superseded_at IS NOT NULL AS superseded,"
        " payload -> 'event' ->> 'kind' AS kind FROM notification_outbox ORDER BY seq, kind,"
        " channel"
    )
    assert [(r["seq"], r["kind"], r["channel"], r["status"], r["superseded"]) for r in outbox] == [
        (3, "submitted", "log", "pending", False),
        (3, "submitted", "webhook", "pending", False),
        (3, "urge", "log", "superseded", True),
        (3, "urge", "webhook", "superseded", True),
    ]
    state = await db_pool.fetchrow("SELECT stage, seq, run_id, sent_at FROM task_states")
    assert state is not None
    assert dict(state) == {"stage": "signoff", "seq": 4, "run_id": "run-2", "sent_at": RESET_AT}


async def test_a_late_write_of_the_replaced_run_is_kept_aside_not_live(
    db_pool: asyncpg.Pool,
) -> None:
    """The old run's retried batch arrives after the reset run wrote: what it made before
    the reset point is a duplicate, what it made after is on record as superseded, and the
    projection stays the reset run's."""
    await _first_run_then_reset(db_pool)
    added = await _record(
        db_pool,
        [_event(2), _event(4, "urge", recipients=[LEAD]), _event(5)],
        _projection(5, stage=Stage.REVIEW),
        sent_at=AT + timedelta(seconds=5),
    )
    assert added == 0
    assert [seq for seq, _, _ in await _live(db_pool)] == [1, 2, 3, 4]
    assert await _superseded(db_pool) == [
        (3, "run-1", "urge", "run-2"),
        (4, "run-1", "urge", "run-2"),
        (5, "run-1", "progress", "run-2"),
    ]
    late = await db_pool.fetchrow("SELECT * FROM task_events_superseded WHERE seq = 5")
    assert late is not None
    assert (late["plan_id"], late["task_id"], late["sent_at"]) == (
        "plan-a",
        "7",
        AT + timedelta(seconds=5),
    )
    state = await db_pool.fetchrow("SELECT stage, run_id FROM task_states")
    assert state is not None
    assert (state["stage"], state["run_id"]) == ("signoff", "run-2")
    # Live rows before the reset point still count once: a late duplicate of one adds nothing.
    assert await db_pool.fetchval("SELECT count(*) FROM notification_outbox") == 4


async def test_a_resync_without_events_supersedes_what_came_after_its_state(
    db_pool: asyncpg.Pool,
) -> None:
    """A reset run with nothing to replay tells its state (seq 1): the old run's events
    after it are undone."""
    await _record(db_pool, [_event(1), _event(2), _event(3)], _projection(3))
    added = await _record(db_pool, [], _projection(1), run_id="run-2", sent_at=RESET_AT)
    assert added == 0
    assert await _live(db_pool) == [(1, "run-1", "progress")]
    assert [seq for seq, *_ in await _superseded(db_pool)] == [2, 3]
    assert await db_pool.fetchval("SELECT seq FROM task_states") == 1


async def test_the_sending_run_is_the_activity_s_when_the_request_does_not_say(
    db_pool: asyncpg.Pool,
) -> None:
    """A history from before requests named their run: the activity's own run and scheduled
    time stand in; called outside an activity, neither is known."""
    scheduled = AT + timedelta(minutes=30)
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(
        environment.info, workflow_run_id="run-from-info", scheduled_time=scheduled
    )
    activities = TaskEventActivities(db_pool, ["log"])
    request = RecordEvents(workflow_id=WORKFLOW, events=[_event(1)], projection=_projection(1))
    assert await environment.run(activities.record_task_events, request) == 1
    row = await db_pool.fetchrow("SELECT run_id, sent_at FROM task_events")
    assert row is not None
    assert (row["run_id"], row["sent_at"]) == ("run-from-info", scheduled)

    other = RecordEvents(workflow_id="plan-a/8", events=[_event(1)], projection=_projection(1))
    assert await activities.record_task_events(other) == 1
    row = await db_pool.fetchrow(
        "SELECT run_id, sent_at FROM task_events WHERE workflow_id = 'plan-a/8'"
    )
    assert row is not None
    assert (row["run_id"], row["sent_at"]) == ("", None)
