"""Extensions move the timers, cancellation stops them, milestones each carry their own."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError

from domain.calendar import end_of_day
from domain.lifecycle import Stage
from tests.support.lifecycle import (
    COOPERATING,
    COORDINATOR,
    DEADLINE_KINDS,
    LEAD,
    LifecycleHarness,
    beijing_morning,
    make_task,
    unit,
    working_days_from,
)
from workflows.task import TaskWorkflow
from workflows.task_contract import (
    Accept,
    Cancel,
    DecideExtension,
    RequestExtension,
    Review,
    SignOff,
    Submit,
)


async def test_extension_reschedules_and_old_timers_never_fire(
    lifecycle: LifecycleHarness,
) -> None:
    """An extension granted 30 days on: nothing fires at the old due date, the reminders and
    催办 follow the new one; once that has passed, a further request is refused."""
    old_due = await lifecycle.days_ahead(20)
    new_due = old_due + timedelta(days=30)
    handle = await lifecycle.start(make_task([old_due]))
    lead = unit(LEAD)
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))
    await lifecycle.settle(handle)  # the schedule (and the extension deadline) is known
    await handle.execute_update(
        TaskWorkflow.request_extension,
        RequestExtension(actor=lead, new_due=new_due, reason="需财政资金到位"),
    )
    granted = await handle.execute_update(
        TaskWorkflow.decide_extension, DecideExtension(actor=COORDINATOR, approve=True)
    )
    assert granted.stage is Stage.IN_PROGRESS
    snapshot = await lifecycle.settle(handle)
    milestone = snapshot.state.milestones[0]
    assert (milestone.due, milestone.due_at) == (new_due, end_of_day(new_due))
    assert snapshot.state.extensions_granted == 1
    assert snapshot.schedule is not None
    assert all(str(old_due) not in alarm.key for alarm in snapshot.schedule.alarms)

    await lifecycle.sleep(end_of_day(old_due) + timedelta(days=8) - await lifecycle.now())
    snapshot = await lifecycle.settle(handle)
    assert await lifecycle.events(handle, "urge", "escalation") == []
    assert snapshot.overdue_days == 0

    await lifecycle.sleep(end_of_day(new_due) + timedelta(hours=1) - await lifecycle.now())
    await lifecycle.settle(handle)
    deadline = await lifecycle.events(handle, *DEADLINE_KINDS)
    assert [row["kind"] for row in deadline] == ["reminder", "reminder", "urge"]
    reminders = [beijing_morning(working_days_from(new_due, n)) for n in (-7, -1)]
    for row, instant in zip(deadline, [*reminders, end_of_day(new_due)], strict=True):
        assert instant <= row["at"] < instant + timedelta(minutes=1)
    granted_row = (await lifecycle.events(handle, "extension_granted"))[0]
    assert json.loads(granted_row["detail"])["old_due"] == old_due.isoformat()

    with pytest.raises(WorkflowUpdateFailedError) as too_late:
        await handle.execute_update(
            TaskWorkflow.request_extension,
            RequestExtension(actor=lead, new_due=new_due + timedelta(days=30), reason="再延期"),
        )
    assert "has passed" in str(too_late.value.cause)
    snapshot = await lifecycle.settle(handle)
    assert snapshot.state.pending_extension is None
    assert snapshot.overdue_days > 0


async def test_extensions_are_limited_in_number_and_notice(lifecycle: LifecycleHarness) -> None:
    """A request within 5 working days of the due date is refused, and a third request after
    two grants is refused."""
    lead = unit(LEAD)
    short = await lifecycle.start(make_task([await lifecycle.days_ahead(3)]))
    await short.execute_update(TaskWorkflow.accept, Accept(actor=lead))
    await lifecycle.settle(short)
    with pytest.raises(WorkflowUpdateFailedError) as no_notice:
        await short.execute_update(
            TaskWorkflow.request_extension,
            RequestExtension(actor=lead, new_due=await lifecycle.days_ahead(30), reason="来不及"),
        )
    assert "at least 5wd before the due date" in str(no_notice.value.cause)

    due = await lifecycle.days_ahead(40)
    handle = await lifecycle.start(make_task([due]))
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))
    for extra in (10, 20):
        await lifecycle.settle(handle)
        await handle.execute_update(
            TaskWorkflow.request_extension,
            RequestExtension(actor=lead, new_due=due + timedelta(days=extra), reason="延期"),
        )
        await handle.execute_update(
            TaskWorkflow.decide_extension, DecideExtension(actor=COORDINATOR, approve=True)
        )
    await lifecycle.settle(handle)
    with pytest.raises(WorkflowUpdateFailedError) as third:
        await handle.execute_update(
            TaskWorkflow.request_extension,
            RequestExtension(actor=lead, new_due=due + timedelta(days=60), reason="第三次"),
        )
    assert "already had 2 extensions" in str(third.value.cause)
    snapshot = await lifecycle.settle(handle)
    assert snapshot.state.extensions_granted == 2
    assert snapshot.state.milestones[0].due == due + timedelta(days=20)
    assert len(await lifecycle.events(handle, "extension_requested")) == 2


async def test_cancel_stops_every_timer(lifecycle: LifecycleHarness) -> None:
    """撤销 (reason required) closes the workflow; 60 days later no reminder, 催办 or 督办 has
    fired."""
    handle = await lifecycle.start(make_task([await lifecycle.days_ahead(10)]))
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=unit(LEAD)))
    with pytest.raises(WorkflowUpdateFailedError) as no_reason:
        await handle.execute_update(TaskWorkflow.cancel, Cancel(actor=COORDINATOR, reason=""))
    assert "a reason is required" in str(no_reason.value.cause)
    cancelled = await handle.execute_update(
        TaskWorkflow.cancel, Cancel(actor=COORDINATOR, reason="任务调整")
    )
    assert cancelled.stage is Stage.CANCELLED
    result = await lifecycle.result(handle)
    assert result.state.stage is Stage.CANCELLED
    assert result.state.close_reason == "任务调整"

    await lifecycle.sleep(timedelta(days=60))
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    kinds = [row["kind"] for row in await lifecycle.events(handle)]
    assert kinds == ["assigned", "accepted", "cancelled"]


async def test_each_milestone_has_its_own_timers(lifecycle: LifecycleHarness) -> None:
    """Two milestones: finishing the first returns the task to 承办 for the second, whose 催办
    fires when it is late; the task completes only when the second is approved."""
    first_due, second_due = await lifecycle.days_ahead(20), await lifecycle.days_ahead(60)
    handle = await lifecycle.start(make_task([first_due, second_due]))
    lead = unit(LEAD)
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))

    async def complete_milestone() -> Stage:
        await handle.execute_update(TaskWorkflow.submit, Submit(actor=lead, summary="阶段完成"))
        for name in COOPERATING:
            await handle.execute_update(
                TaskWorkflow.sign_off, SignOff(actor=unit(name), approve=True)
            )
        result = await handle.execute_update(
            TaskWorkflow.review, Review(actor=COORDINATOR, approve=True)
        )
        return result.stage

    assert await complete_milestone() is Stage.IN_PROGRESS
    snapshot = await lifecycle.settle(handle)
    assert snapshot.state.current_milestone is not None
    assert snapshot.state.current_milestone.index == 1
    assert snapshot.schedule is not None
    assert {alarm.milestone for alarm in snapshot.schedule.alarms} <= {1, None}

    await lifecycle.sleep(end_of_day(second_due) + timedelta(days=1) - await lifecycle.now())
    snapshot = await lifecycle.settle(handle)
    assert snapshot.state.stage is Stage.IN_PROGRESS
    urges = await lifecycle.events(handle, "urge")
    assert [row["milestone"] for row in urges] == [1]
    assert end_of_day(second_due) <= urges[0]["at"] < end_of_day(second_due) + timedelta(minutes=1)
    assert all(row["milestone"] == 1 for row in await lifecycle.events(handle, *DEADLINE_KINDS))

    assert await complete_milestone() is Stage.COMPLETED
    result = await lifecycle.result(handle)
    assert result.state.stage is Stage.COMPLETED
    done = await lifecycle.events(handle, "milestone_done")
    assert [(row["milestone"], json.loads(row["detail"])["on_time"]) for row in done] == [
        (0, True),
        (1, False),
    ]
    assert [row["kind"] for row in await lifecycle.events(handle)][-1] == "completed"
