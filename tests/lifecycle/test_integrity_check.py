"""The fault suite's integrity check holds for a real lifecycle and catches what it must:
a lost event, a changed event, a repeated alarm, a projection that drifted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.calendar import end_of_day
from domain.lifecycle import Stage
from tests.support.integrity import assert_event_log_consistent
from tests.support.lifecycle import (
    COOPERATING,
    COORDINATOR,
    LEAD,
    LifecycleHarness,
    make_task,
    unit,
)
from workflows.task import TaskWorkflow
from workflows.task_contract import (
    Accept,
    DecideExtension,
    Reassign,
    Refuse,
    ReportProgress,
    RequestExtension,
    Review,
    SignOff,
    Submit,
)


async def _lived_task(lifecycle: LifecycleHarness) -> str:
    """A two-milestone task refused, reassigned, extended, escalated, half done, escalated
    again and revised."""
    first_due = await lifecycle.days_ahead(40)
    second_due = first_due + timedelta(days=60)
    handle = await lifecycle.start(make_task([first_due, second_due]))
    await handle.execute_update(
        TaskWorkflow.refuse, Refuse(actor=unit(LEAD), reason="不属于本单位职责")
    )
    new_lead = COOPERATING[0]
    await handle.execute_update(TaskWorkflow.reassign, Reassign(actor=COORDINATOR, unit=new_lead))
    lead = unit(new_lead)
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))
    await lifecycle.settle(handle)
    await handle.execute_update(
        TaskWorkflow.request_extension,
        RequestExtension(actor=lead, new_due=first_due + timedelta(days=5), reason="待资金"),
    )
    await handle.execute_update(
        TaskWorkflow.decide_extension, DecideExtension(actor=COORDINATOR, approve=True)
    )
    await handle.execute_update(
        TaskWorkflow.report_progress, ReportProgress(actor=lead, percent=30, text="启动")
    )
    # Past the extended date by more than the first 督办 rung.
    await lifecycle.sleep(
        end_of_day(first_due + timedelta(days=5)) + timedelta(days=8) - await lifecycle.now()
    )
    await lifecycle.settle(handle)
    await handle.execute_update(TaskWorkflow.submit, Submit(actor=lead, summary="完成第一阶段"))
    await handle.execute_update(
        TaskWorkflow.sign_off, SignOff(actor=unit(COOPERATING[1]), approve=True)
    )
    await handle.execute_update(TaskWorkflow.review, Review(actor=COORDINATOR, approve=True))
    # The second milestone escalates, then a re-import moves its date: a new ladder.
    await lifecycle.sleep(end_of_day(second_due) + timedelta(days=8) - await lifecycle.now())
    assert (await lifecycle.settle(handle)).state.escalation_level == 1
    await handle.execute_update(
        TaskWorkflow.revise, make_task([first_due, second_due + timedelta(days=30)])
    )
    snapshot = await lifecycle.settle(handle)
    assert snapshot.state.stage is Stage.IN_PROGRESS
    assert snapshot.state.current_milestone is not None
    assert snapshot.state.current_milestone.index == 1
    assert snapshot.state.escalation_level == 0
    return handle.id


async def test_a_lived_task_is_consistent_and_each_kind_of_damage_is_caught(
    lifecycle: LifecycleHarness,
) -> None:
    workflow_id = await _lived_task(lifecycle)
    pool, client = lifecycle.pool, lifecycle.client
    kinds = [
        row["kind"]
        for row in await pool.fetch(
            "SELECT kind FROM task_events WHERE workflow_id = $1 ORDER BY seq", workflow_id
        )
    ]
    expected = {"refused", "reassigned", "extension_granted", "escalation", "milestone_done"}
    assert expected | {"revised"} <= set(kinds)
    await assert_event_log_consistent(pool, client, [workflow_id])

    async def damaged(statement: str, expected: str) -> None:
        async with pool.acquire() as connection:
            transaction = connection.transaction()
            await transaction.start()
            try:
                await connection.execute(statement, workflow_id)
                # The check reads through the pool: give it this connection's view.
                with pytest.raises(AssertionError, match=expected):
                    await assert_event_log_consistent(
                        _OneConnection(connection),  # type: ignore[arg-type]
                        client,
                        [workflow_id],
                    )
            finally:
                await transaction.rollback()

    await damaged("DELETE FROM task_events WHERE workflow_id = $1 AND seq = 3", r"missing \[3\]")
    await damaged(
        "UPDATE task_events SET unit = 'x' WHERE workflow_id = $1 AND seq = 2",
        "event 2 .* is recorded as",
    )
    await damaged(
        "INSERT INTO task_events SELECT workflow_id, seq + 1000, plan_id, task_id, kind, at,"
        " actor_role, actor_unit, unit, stage_before, stage_after, milestone, level,"
        " recipients, detail, recorded_at, lineage FROM task_events"
        " WHERE workflow_id = $1 AND kind = 'escalation'",
        "alarm recorded twice",
    )
    await damaged(
        "UPDATE task_states SET progress_percent = 55 WHERE workflow_id = $1",
        "progress_percent = 55, the event log folds to 0",
    )
    await damaged(
        "UPDATE task_states SET escalation_level = 2, cooperating_units = '{}'"
        " WHERE workflow_id = $1",
        "(?s)cooperating_units = .*escalation_level = 2",
    )
    await damaged(
        "DELETE FROM notification_outbox WHERE workflow_id = $1 AND seq = 1",
        "event 1 .* has 0 outbox rows",
    )
    # As a reset leaves an undone event's notification, but still to be sent.
    await damaged(
        "UPDATE notification_outbox SET superseded_at = now() WHERE workflow_id = $1 AND seq = 1",
        "(?s)event 1 .* has 0 outbox rows.*1 superseded outbox rows still pending",
    )
    await damaged(
        "INSERT INTO task_events_superseded (workflow_id, lineage, seq, run_id, sent_at,"
        " plan_id, task_id, kind, at, recipients, detail, recorded_at, superseded_by_run)"
        " SELECT workflow_id, lineage, seq, run_id, sent_at, plan_id, task_id, kind, at,"
        " recipients, detail, recorded_at, 'a-reset-run' FROM task_events"
        " WHERE workflow_id = $1 AND seq = 2",
        r"events both live and superseded: \[2\]",
    )
    # Nothing of the damage stayed.
    await assert_event_log_consistent(pool, client, [workflow_id])


class _OneConnection:
    """A pool's read methods on one connection, inside its transaction."""

    def __init__(self, connection: object) -> None:
        self._connection = connection

    def __getattr__(self, name: str) -> object:
        return getattr(self._connection, name)
