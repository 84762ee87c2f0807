"""The projection follows the live history: each event once, across retries, out-of-order
writes, new lineages and workflow resets (issue #9).

The recording activity is called directly against the real PostgreSQL where the order of
arrival is the point (a retried write that lands late); a real reset on the dev server
checks the whole path.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from temporalio import workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.task_events import TaskEventActivities
from domain.lifecycle import Stage, TaskEvent
from tests.support.integrity import assert_event_log_consistent
from tests.support.lifecycle import (
    LEAD,
    make_task,
    running_worker,
    settle,
    start_task,
    unit,
    wait_until,
)
from workflows.task import TaskWorkflow
from workflows.task_contract import (
    RECORD_TASK_EVENTS,
    RESYNC_PROJECTION_SIGNAL,
    Accept,
    RecordEvents,
    ReportProgress,
    Submit,
    TaskProjection,
    TaskSnapshot,
)

WORKFLOW_ID = "plan/7"
_NO_RUN = {"run_id": "", "sent_at": None}
T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def _event(
    seq: int, kind: str = "progress", *, text: str = "", recipients: Sequence[str] = ()
) -> TaskEvent:
    return TaskEvent(
        seq=seq,
        kind=kind,
        at=T0 + timedelta(minutes=seq),
        unit=LEAD,
        recipients=list(recipients),
        detail={"text": text} if text else {},
    )


def _batch(
    seqs: Sequence[int],
    *,
    progress: int,
    lineage: str = "run-1",
    run_id: str = "run-1",
    sent_at: datetime | None = None,
    text: str = "",
) -> RecordEvents:
    """A batch of events ``seqs`` whose projection is at the last one, sent by ``run_id``
    at ``sent_at`` (by default, the last event's time, as a workflow sends it)."""
    events = [_event(seq, text=text, recipients=[LEAD]) for seq in seqs]
    last = max(seqs)
    return RecordEvents(
        workflow_id=WORKFLOW_ID,
        lineage=lineage,
        run_id=run_id,
        sent_at=sent_at or T0 + timedelta(minutes=last),
        events=events,
        projection=TaskProjection(
            plan_id="plan",
            task_id="7",
            stage=Stage.IN_PROGRESS,
            lead_unit=LEAD,
            cooperating_units=[],
            next_due=None,
            next_due_at=None,
            escalation_level=0,
            extensions_granted=0,
            progress_percent=progress,
            awaiting_reassignment=False,
            closed_at=None,
            seq=last,
        ),
    )


async def _state(pool: asyncpg.Pool) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT seq, lineage, progress_percent FROM task_states WHERE workflow_id = $1",
        WORKFLOW_ID,
    )
    assert row is not None
    return row


async def _counts(pool: asyncpg.Pool) -> tuple[int, int]:
    events = await pool.fetchval("SELECT count(*) FROM task_events")
    outbox = await pool.fetchval("SELECT count(*) FROM notification_outbox")
    return events, outbox


# ------------------------------------------------------------------ retries


async def test_a_retried_batch_and_an_overlapping_batch_add_nothing(db_pool: asyncpg.Pool) -> None:
    """The same batch twice (a retry after a timeout whose first attempt committed), then a
    batch overlapping it (seq 2-3 after 1-2): each event once, each notification once."""
    recorder = TaskEventActivities(db_pool, ["log", "webhook"])
    assert await recorder.record_task_events(_batch([1, 2], progress=20)) == 2
    assert await recorder.record_task_events(_batch([1, 2], progress=20)) == 0
    assert await _counts(db_pool) == (2, 4)
    assert await recorder.record_task_events(_batch([2, 3], progress=30)) == 1
    assert await _counts(db_pool) == (3, 6)
    outbox = await db_pool.fetch(
        "SELECT seq, channel, count(*) AS n FROM notification_outbox GROUP BY seq, channel"
    )
    assert {(row["seq"], row["channel"]) for row in outbox} == {
        (seq, channel) for seq in (1, 2, 3) for channel in ("log", "webhook")
    }
    assert {row["n"] for row in outbox} == {1}
    assert (await _state(db_pool))["seq"] == 3


# ------------------------------------------------------------------ ordering


@pytest.mark.parametrize("same_instant", [False, True], ids=["later", "same-instant"])
async def test_an_older_retried_write_arriving_late_keeps_the_newer_state(
    db_pool: asyncpg.Pool, same_instant: bool
) -> None:
    """Batch 1-2 (20 %) times out but commits only after batch 3 (30 %) was recorded: the
    projection stays at seq 3, 30 %. Also when both were sent at one instant of the
    workflow's clock (two workflow tasks within a millisecond)."""
    recorder = TaskEventActivities(db_pool, ["log"])
    sent_at = T0 + timedelta(minutes=3) if same_instant else None
    await recorder.record_task_events(_batch([3], progress=30, sent_at=sent_at))
    await recorder.record_task_events(_batch([1, 2], progress=20, sent_at=sent_at))
    state = await _state(db_pool)
    assert (state["seq"], state["progress_percent"]) == (3, 30)
    assert await db_pool.fetchval("SELECT count(*) FROM task_events") == 3


async def test_an_older_write_arriving_late_keeps_the_newer_state_without_run_order(
    db_pool: asyncpg.Pool,
) -> None:
    """The same with batches that carry no run (a workflow recorded before runs were, or a
    row from before the migration): within a lineage the higher seq still wins."""
    recorder = TaskEventActivities(db_pool, ["log"])
    await recorder.record_task_events(_batch([3], progress=30).model_copy(update=_NO_RUN))
    await recorder.record_task_events(_batch([1, 2], progress=20).model_copy(update=_NO_RUN))
    state = await _state(db_pool)
    assert (state["seq"], state["progress_percent"]) == (3, 30)


async def test_a_newer_lineage_replaces_the_row_even_with_a_lower_seq(
    db_pool: asyncpg.Pool,
) -> None:
    """A task withdrawn at seq 9 and added back: the new workflow's first batch (seq 1)
    replaces the old lineage's row."""
    recorder = TaskEventActivities(db_pool, ["log"])
    await recorder.record_task_events(_batch(list(range(1, 10)), progress=90))
    later = T0 + timedelta(days=1)
    await recorder.record_task_events(
        _batch([1], progress=0, lineage="run-2", run_id="run-2", sent_at=later)
    )
    state = await _state(db_pool)
    assert (state["lineage"], state["seq"], state["progress_percent"]) == ("run-2", 1, 0)


async def test_a_late_write_of_an_older_lineage_leaves_the_newer_row(
    db_pool: asyncpg.Pool,
) -> None:
    """The old lineage's retried batch (seq 9) lands after the new lineage recorded seq 1:
    the row stays the new lineage's, and the old lineage's events stay its own."""
    recorder = TaskEventActivities(db_pool, ["log"])
    await recorder.record_task_events(_batch(list(range(1, 9)), progress=80))
    later = T0 + timedelta(days=1)
    await recorder.record_task_events(
        _batch([1], progress=0, lineage="run-2", run_id="run-2", sent_at=later)
    )
    await recorder.record_task_events(_batch([9], progress=90))
    state = await _state(db_pool)
    assert (state["lineage"], state["seq"], state["progress_percent"]) == ("run-2", 1, 0)
    lineages = await db_pool.fetch(
        "SELECT lineage, count(*) AS n FROM task_events GROUP BY lineage ORDER BY lineage"
    )
    assert [(row["lineage"], row["n"]) for row in lineages] == [("run-1", 9), ("run-2", 1)]


# ------------------------------------------------------------------ histories from before


@workflow.defn(name="RecordsWithoutRun", sandboxed=False)
class RecordsWithoutRun:
    """Sends a batch as a TaskWorkflow history recorded before the run order did: without
    its run id and send time."""

    @workflow.run
    async def run(self, request: RecordEvents) -> int:
        added: int = await workflow.execute_activity(
            RECORD_TASK_EVENTS, request, start_to_close_timeout=timedelta(seconds=30)
        )
        return added


async def test_a_batch_without_its_run_is_recorded_under_the_activitys_run(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """A workflow whose history predates the run order still gets it: the recorder takes
    the run id and the scheduled time from the activity's info."""
    client = dev_server_env.client
    recorder = TaskEventActivities(db_pool, ["log"])
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[RecordsWithoutRun],
        activities=[recorder.record_task_events],
    ):
        handle = await client.start_workflow(
            RecordsWithoutRun.run,
            _batch([1, 2], progress=20).model_copy(update=_NO_RUN),
            id=f"records-without-run-{task_queue}",
            task_queue=task_queue,
        )
        assert await handle.result() == 2
    run_id = (await handle.describe()).run_id
    rows = await db_pool.fetch("SELECT run_id, sent_at FROM task_events ORDER BY seq")
    assert [row["run_id"] for row in rows] == [run_id, run_id]
    assert all(row["sent_at"] is not None for row in rows)
    state = await db_pool.fetchrow("SELECT run_id, sent_at FROM task_states")
    assert state is not None
    assert (state["run_id"], state["sent_at"]) == (run_id, rows[0]["sent_at"])


# ------------------------------------------------------------------ resets, directly


async def test_a_run_continued_as_new_supersedes_nothing(db_pool: asyncpg.Pool) -> None:
    """Continue-as-new: the next run (same lineage, a new run id) goes on from seq 4; the
    first run's retried batch 1-3 arriving after it adds nothing and moves nothing."""
    recorder = TaskEventActivities(db_pool, ["log"])
    await recorder.record_task_events(_batch([1, 2, 3], progress=30))
    continued_at = T0 + timedelta(hours=1)
    await recorder.record_task_events(
        _batch([4, 5], progress=50, run_id="run-2", sent_at=continued_at)
    )
    assert await recorder.record_task_events(_batch([1, 2, 3], progress=30)) == 0
    live = await db_pool.fetch("SELECT seq, run_id FROM task_events ORDER BY seq")
    assert [(row["seq"], row["run_id"]) for row in live] == [
        (1, "run-1"),
        (2, "run-1"),
        (3, "run-1"),
        (4, "run-2"),
        (5, "run-2"),
    ]
    assert await db_pool.fetchval("SELECT count(*) FROM task_events_superseded") == 0
    assert await db_pool.fetchval("SELECT count(*) FROM notification_outbox") == 5
    state = await _state(db_pool)
    assert (state["seq"], state["progress_percent"]) == (5, 50)


async def test_a_reset_run_supersedes_the_events_it_replaced(db_pool: asyncpg.Pool) -> None:
    """Run 1 recorded seq 1-5 (50 % "A" at 3-5); an operator reset it back to seq 2; the
    reset run (same lineage, a new run id) records seq 3 anew (70 % "B"). Seq 3-5 of run 1
    are superseded, kept apart and not counted; their pending notifications are not sent;
    the projection is the reset run's."""
    recorder = TaskEventActivities(db_pool, ["log"])
    await recorder.record_task_events(_batch([1, 2], progress=20))
    await recorder.record_task_events(_batch([3, 4, 5], progress=50, text="A"))
    reset_at = T0 + timedelta(hours=1)
    assert (
        await recorder.record_task_events(
            _batch([3], progress=70, run_id="run-1b", sent_at=reset_at, text="B")
        )
        == 1
    )
    live = await db_pool.fetch("SELECT seq, run_id, detail FROM task_events ORDER BY seq")
    assert [(row["seq"], row["run_id"]) for row in live] == [
        (1, "run-1"),
        (2, "run-1"),
        (3, "run-1b"),
    ]
    assert json.loads(live[2]["detail"]) == {"text": "B"}
    superseded = await db_pool.fetch(
        "SELECT seq, run_id, superseded_by_run FROM task_events_superseded ORDER BY seq"
    )
    assert [(row["seq"], row["run_id"], row["superseded_by_run"]) for row in superseded] == [
        (seq, "run-1", "run-1b") for seq in (3, 4, 5)
    ]
    pending = await db_pool.fetch(
        "SELECT seq, payload FROM notification_outbox WHERE status = 'pending' ORDER BY seq"
    )
    assert [row["seq"] for row in pending] == [1, 2, 3]
    assert json.loads(pending[2]["payload"])["event"]["detail"] == {"text": "B"}
    state = await _state(db_pool)
    assert (state["seq"], state["progress_percent"]) == (3, 70)


async def test_a_late_write_of_the_run_a_reset_replaced_is_kept_superseded(
    db_pool: asyncpg.Pool,
) -> None:
    """Run 1's batch 4-5, stuck in a worker when the operator reset the workflow, commits
    after the reset run recorded seq 3: its events go straight to the superseded rows and
    the projection stays the reset run's."""
    recorder = TaskEventActivities(db_pool, ["log"])
    await recorder.record_task_events(_batch([1, 2, 3], progress=30, text="A"))
    reset_at = T0 + timedelta(hours=1)
    await recorder.record_task_events(
        _batch([3], progress=70, run_id="run-1b", sent_at=reset_at, text="B")
    )
    assert await recorder.record_task_events(_batch([4, 5], progress=50, text="A")) == 0
    live = await db_pool.fetch("SELECT seq, run_id FROM task_events ORDER BY seq")
    assert [(row["seq"], row["run_id"]) for row in live] == [
        (1, "run-1"),
        (2, "run-1"),
        (3, "run-1b"),
    ]
    superseded = await db_pool.fetch("SELECT seq FROM task_events_superseded ORDER BY seq")
    assert [row["seq"] for row in superseded] == [3, 4, 5]
    assert (
        await db_pool.fetchval("SELECT count(*) FROM notification_outbox WHERE seq IN (4, 5)") == 0
    )
    state = await _state(db_pool)
    assert (state["seq"], state["progress_percent"]) == (3, 70)


# ------------------------------------------------------------------ a real reset


async def _reset_point_after(
    env: WorkflowEnvironment, workflow_id: str, run_id: str, history_length: int
) -> int:
    """The last WorkflowTaskCompleted event within the first ``history_length`` events."""
    handle = env.client.get_workflow_handle(workflow_id, run_id=run_id)
    history = await handle.fetch_history()
    completed = [
        event.event_id
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
        and event.event_id <= history_length
    ]
    return completed[-1]


async def _report_a(handle: WorkflowHandle[TaskWorkflow, TaskSnapshot]) -> None:
    await handle.execute_update(
        TaskWorkflow.report_progress,
        ReportProgress(actor=unit(LEAD), percent=40, text="A"),
        id="progress-a",
    )


async def _reset_to_before_progress(
    env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    task_queue: str,
    reapply: ResetReapplyType.ValueType = ResetReapplyType.RESET_REAPPLY_TYPE_NONE,
    undone: Callable[[WorkflowHandle[TaskWorkflow, TaskSnapshot]], Awaitable[None]] = _report_a,
) -> tuple[WorkflowHandle[TaskWorkflow, TaskSnapshot], str, str]:
    """A task accepted, then a progress report of 40 % "A" (or the ``undone`` action), then
    `temporal workflow reset` back to before it, by default not replaying it: (live handle,
    first run, reset run)."""
    client = env.client
    handle = await start_task(client, task_queue, make_task())
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=unit(LEAD)), id="accept")
    await settle(handle, pool)
    description = await handle.describe()
    first_run = description.run_id
    assert first_run is not None
    accepted_length = description.raw_description.workflow_execution_info.history_length
    await undone(handle)
    await settle(handle, pool)
    reset_point = await _reset_point_after(env, handle.id, first_run, accepted_length)
    reset = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=first_run),
            reason="operator reset (test)",
            workflow_task_finish_event_id=reset_point,
            request_id=f"reset-{task_queue}",
            reset_reapply_type=reapply,
        )
    )
    live: WorkflowHandle[TaskWorkflow, TaskSnapshot] = client.get_workflow_handle(handle.id)
    assert (await live.describe()).run_id == reset.run_id
    return live, first_run, reset.run_id


async def _assert_projection_is_the_live_history(
    pool: asyncpg.Pool, workflow_id: str, snapshot: TaskSnapshot
) -> None:
    """task_events holds the live workflow's timeline, event for event, and task_states
    its state."""
    state = snapshot.state
    rows = await pool.fetch(
        "SELECT seq, kind, detail FROM task_events WHERE workflow_id = $1 ORDER BY seq",
        workflow_id,
    )
    recorded = [(row["seq"], row["kind"], json.loads(row["detail"])) for row in rows]
    assert recorded == [(event.seq, event.kind, event.detail) for event in state.timeline]
    projection = await pool.fetchrow(
        "SELECT seq, progress_percent, stage FROM task_states WHERE workflow_id = $1",
        workflow_id,
    )
    assert projection is not None
    assert (projection["seq"], projection["progress_percent"], projection["stage"]) == (
        state.seq,
        state.progress_percent,
        state.stage.value,
    )


async def _superseded(
    pool: asyncpg.Pool, workflow_id: str
) -> list[tuple[str, str | None, str, str]]:
    rows = await pool.fetch(
        "SELECT kind, detail ->> 'text' AS text, run_id, superseded_by_run"
        " FROM task_events_superseded WHERE workflow_id = $1 ORDER BY seq",
        workflow_id,
    )
    return [(row["kind"], row["text"], row["run_id"], row["superseded_by_run"]) for row in rows]


@pytest.mark.fault
@pytest.mark.parametrize(
    ("reapply", "live_reports"),
    [
        # The operator resets to undo the report: it is not replayed.
        (ResetReapplyType.RESET_REAPPLY_TYPE_NONE, ["B"]),
        # The CLI's default: the report is applied again by the reset run, anew.
        (ResetReapplyType.RESET_REAPPLY_TYPE_ALL_ELIGIBLE, ["A", "B"]),
    ],
    ids=["undone", "replayed"],
)
async def test_a_reset_workflow_is_followed_by_the_projection(
    dev_server_env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
    task_queue: str,
    reapply: ResetReapplyType.ValueType,
    live_reports: list[str],
) -> None:
    """`temporal workflow reset` back to before a progress report of 40 % "A", then a new
    report of 70 % "B": PostgreSQL's live events and task_states are the reset run's, the
    first run's 40 % report is kept superseded and not counted."""
    async with running_worker(dev_server_env.client, db_pool, task_queue):
        live, first_run, reset_run = await _reset_to_before_progress(
            dev_server_env, db_pool, task_queue, reapply
        )
        await live.execute_update(
            TaskWorkflow.report_progress,
            ReportProgress(actor=unit(LEAD), percent=70, text="B"),
            id="progress-b",
        )
        snapshot = await settle(live, db_pool)
        await assert_event_log_consistent(db_pool, dev_server_env.client, [live.id])
        await live.terminate(reason="test finished")

    assert snapshot.state.progress_percent == 70
    await _assert_projection_is_the_live_history(db_pool, live.id, snapshot)
    progress_texts = await db_pool.fetch(
        "SELECT detail ->> 'text' AS text FROM task_events"
        " WHERE workflow_id = $1 AND kind = 'progress'",
        live.id,
    )
    assert [row["text"] for row in progress_texts] == live_reports
    assert await _superseded(db_pool, live.id) == [("progress", "A", first_run, reset_run)]


@pytest.mark.fault
async def test_a_reset_workflow_without_new_events_is_followed_after_the_resync_signal(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """The same reset, and nothing new happens: the operator's `resync_projection` signal
    makes PostgreSQL drop the undone 40 % report from the live events and the state."""
    async with running_worker(dev_server_env.client, db_pool, task_queue):
        live, first_run, reset_run = await _reset_to_before_progress(
            dev_server_env, db_pool, task_queue
        )
        await live.signal(RESYNC_PROJECTION_SIGNAL)

        async def resynced() -> bool:
            row = await db_pool.fetchrow(
                "SELECT run_id FROM task_states WHERE workflow_id = $1", live.id
            )
            return row is not None and row["run_id"] == reset_run

        await wait_until(resynced, what="the reset run's state in task_states")
        snapshot = await settle(live, db_pool)
        await assert_event_log_consistent(db_pool, dev_server_env.client, [live.id])
        await live.terminate(reason="test finished")

    assert snapshot.state.progress_percent == 0
    await _assert_projection_is_the_live_history(db_pool, live.id, snapshot)
    assert await _superseded(db_pool, live.id) == [("progress", "A", first_run, reset_run)]


async def _submit_a(handle: WorkflowHandle[TaskWorkflow, TaskSnapshot]) -> None:
    await handle.execute_update(
        TaskWorkflow.submit, Submit(actor=unit(LEAD), summary="A"), id="submit-a"
    )


@pytest.mark.fault
async def test_a_reset_that_undoes_a_notified_event_leaves_one_live_notification(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """The reset undoes a submission (报送, which notifies the cooperating units) and the
    unit submits again: the new submission takes the undone one's sequence number. Its
    notifications are the live ones; the undone one's stay on record as superseded, not
    pending, and the event log check holds."""
    async with running_worker(dev_server_env.client, db_pool, task_queue):
        live, first_run, reset_run = await _reset_to_before_progress(
            dev_server_env, db_pool, task_queue, undone=_submit_a
        )
        await live.execute_update(
            TaskWorkflow.submit, Submit(actor=unit(LEAD), summary="B"), id="submit-b"
        )
        snapshot = await settle(live, db_pool)
        await assert_event_log_consistent(db_pool, dev_server_env.client, [live.id])
        await live.terminate(reason="test finished")

    await _assert_projection_is_the_live_history(db_pool, live.id, snapshot)
    submitted = await db_pool.fetchval(
        "SELECT seq FROM task_events WHERE workflow_id = $1 AND kind = 'submitted'", live.id
    )
    outbox = await db_pool.fetch(
        "SELECT payload -> 'event' -> 'detail' ->> 'summary' AS summary, status,"
        " superseded_at IS NOT NULL AS superseded FROM notification_outbox"
        " WHERE workflow_id = $1 AND seq = $2 ORDER BY superseded, channel",
        live.id,
        submitted,
    )
    assert {(row["summary"], row["superseded"]) for row in outbox} == {
        ("B", False),
        ("A", True),
    }
    assert all(row["status"] != "pending" for row in outbox if row["superseded"])
    # (_superseded reads detail.text, which a submission does not have.)
    assert await _superseded(db_pool, live.id) == [("submitted", None, first_run, reset_run)]
