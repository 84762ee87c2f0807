"""Hand-off and sign-off paths off the happy path: 退回交办, objections, silence, returns."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.calendar import end_of_day
from domain.lifecycle import Stage
from tests.support.lifecycle import (
    COOPERATING,
    COORDINATOR,
    LEAD,
    LifecycleHarness,
    beijing_date,
    make_task,
    unit,
    working_days_from,
)
from workflows.task import TaskWorkflow
from workflows.task_contract import (
    Accept,
    Reassign,
    Refuse,
    Review,
    SignOff,
    Submit,
)

NEW_LEAD = "市数据资源局"
FINANCE, AUDIT = COOPERATING


def _kind(failure: WorkflowUpdateFailedError) -> tuple[str | None, object]:
    """A rejection's type and its first detail (the task's stage)."""
    cause = failure.cause
    assert isinstance(cause, ApplicationError)
    return cause.type, cause.details[0]


async def test_refusal_is_counted_against_the_unit_and_the_new_lead_accepts(
    lifecycle: LifecycleHarness,
) -> None:
    """退回交办 needs a reason; after it the coordinator reassigns, the new lead accepts, and the
    refusal stays recorded against the refusing unit."""
    handle = await lifecycle.start(make_task([await lifecycle.days_ahead(30)]))
    old_lead = unit(LEAD)

    with pytest.raises(WorkflowUpdateFailedError) as no_reason:
        await handle.execute_update(TaskWorkflow.refuse, Refuse(actor=old_lead, reason="  "))
    assert "a reason is required" in str(no_reason.value.cause)
    assert _kind(no_reason.value) == ("InvalidActionError", {"stage": "assigned"})

    refused = await handle.execute_update(
        TaskWorkflow.refuse, Refuse(actor=old_lead, reason="不属于本单位职责")
    )
    assert refused.stage is Stage.ASSIGNED
    with pytest.raises(WorkflowUpdateFailedError) as waiting:
        await handle.execute_update(TaskWorkflow.accept, Accept(actor=old_lead))
    assert "awaits reassignment" in str(waiting.value.cause)
    assert _kind(waiting.value) == ("WrongStageError", {"stage": "assigned"})

    reassigned = await handle.execute_update(
        TaskWorkflow.reassign, Reassign(actor=COORDINATOR, unit=NEW_LEAD)
    )
    assert reassigned.stage is Stage.ASSIGNED
    with pytest.raises(WorkflowUpdateFailedError) as not_lead:
        await handle.execute_update(TaskWorkflow.accept, Accept(actor=old_lead))
    assert f"only the lead unit (牵头单位) {NEW_LEAD}" in str(not_lead.value.cause)
    assert _kind(not_lead.value) == ("ActorNotAllowedError", {"stage": "assigned"})
    accepted = await handle.execute_update(TaskWorkflow.accept, Accept(actor=unit(NEW_LEAD)))
    assert accepted.stage is Stage.IN_PROGRESS

    snapshot = await lifecycle.settle(handle)
    assert snapshot.state.lead_unit == NEW_LEAD
    assert [(r.unit, r.reason) for r in snapshot.state.refusals] == [(LEAD, "不属于本单位职责")]
    events = await lifecycle.events(handle)
    assert [row["kind"] for row in events] == ["assigned", "refused", "reassigned", "accepted"]
    _, refusal, reassignment, acceptance = events
    assert refusal["unit"] == LEAD
    assert json.loads(refusal["detail"])["reason"] == "不属于本单位职责"
    assert refusal["recipients"] == ["coordinator"]
    assert reassignment["unit"] == NEW_LEAD
    assert json.loads(reassignment["detail"])["previous_lead"] == LEAD
    assert acceptance["unit"] == NEW_LEAD
    count = await lifecycle.pool.fetchval(
        "SELECT count(*) FROM task_events WHERE kind = 'refused' AND unit = $1", LEAD
    )
    assert count == 1


async def test_objection_sends_the_task_back_and_resubmission_needs_both_signoffs(
    lifecycle: LifecycleHarness,
) -> None:
    """One cooperating unit's objection returns the task to 承办; a resubmission needs fresh
    sign-offs from both units, including the one that had approved."""
    handle = await lifecycle.start(make_task([await lifecycle.days_ahead(30)]))
    lead = unit(LEAD)
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))
    await handle.execute_update(TaskWorkflow.submit, Submit(actor=lead, summary="已完成"))
    await handle.execute_update(TaskWorkflow.sign_off, SignOff(actor=unit(FINANCE), approve=True))
    with pytest.raises(WorkflowUpdateFailedError) as no_reason:
        await handle.execute_update(
            TaskWorkflow.sign_off, SignOff(actor=unit(AUDIT), approve=False)
        )
    assert "a reason is required" in str(no_reason.value.cause)
    objected = await handle.execute_update(
        TaskWorkflow.sign_off, SignOff(actor=unit(AUDIT), approve=False, reason="数据口径不一致")
    )
    assert objected.stage is Stage.IN_PROGRESS

    await handle.execute_update(TaskWorkflow.submit, Submit(actor=lead, summary="已按意见修改"))
    snapshot = await lifecycle.settle(handle)
    assert snapshot.state.stage is Stage.SIGNOFF
    assert {s.unit: s.decision for s in snapshot.state.signoffs} == {
        FINANCE: "pending",
        AUDIT: "pending",
    }
    first = await handle.execute_update(
        TaskWorkflow.sign_off, SignOff(actor=unit(FINANCE), approve=True)
    )
    assert first.stage is Stage.SIGNOFF  # the earlier approval does not carry over
    second = await handle.execute_update(
        TaskWorkflow.sign_off, SignOff(actor=unit(AUDIT), approve=True)
    )
    assert second.stage is Stage.REVIEW

    await lifecycle.settle(handle)
    events = await lifecycle.events(handle)
    assert [row["kind"] for row in events] == [
        "assigned",
        "accepted",
        "submitted",
        "signed_off",
        "objected",
        "submitted",
        "signed_off",
        "signed_off",
        "signoff_complete",
    ]
    objection = events[4]
    assert objection["unit"] == AUDIT
    assert objection["stage_after"] == Stage.IN_PROGRESS.value
    assert json.loads(objection["detail"])["reason"] == "数据口径不一致"
    assert [row["unit"] for row in events[6:8]] == [FINANCE, AUDIT]


async def test_silent_cooperating_unit_is_deemed_to_consent_after_its_window(
    lifecycle: LifecycleHarness,
) -> None:
    """A cooperating unit silent for 5 working days is deemed to consent, recorded against it
    at the end of its window, and the task moves on to 审核."""
    handle = await lifecycle.start(make_task([await lifecycle.days_ahead(30)]))
    lead = unit(LEAD)
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))
    await handle.execute_update(TaskWorkflow.submit, Submit(actor=lead, summary="已完成"))
    await handle.execute_update(TaskWorkflow.sign_off, SignOff(actor=unit(FINANCE), approve=True))
    snapshot = await lifecycle.settle(handle)
    submitted_at = snapshot.state.last_submitted_at
    assert submitted_at is not None
    window_ends = end_of_day(working_days_from(beijing_date(submitted_at), 5))
    audit = next(s for s in snapshot.state.signoffs if s.unit == AUDIT)
    assert audit.window_ends == window_ends

    # One day short of the window: still waiting.
    await lifecycle.sleep(window_ends - await lifecycle.now() - timedelta(hours=1))
    snapshot = await lifecycle.settle(handle)
    assert snapshot.state.stage is Stage.SIGNOFF
    assert await lifecycle.events(handle, "deemed_consent") == []

    await lifecycle.sleep(timedelta(hours=2))
    snapshot = await lifecycle.settle(handle)
    assert snapshot.state.stage is Stage.REVIEW
    assert {s.unit: s.decision for s in snapshot.state.signoffs} == {
        FINANCE: "approved",
        AUDIT: "deemed",
    }
    deemed = await lifecycle.events(handle, "deemed_consent")
    assert len(deemed) == 1
    assert deemed[0]["unit"] == AUDIT
    assert window_ends <= deemed[0]["at"] < window_ends + timedelta(minutes=1)
    assert json.loads(deemed[0]["detail"])["window_ends"] == window_ends.isoformat()
    kinds = [row["kind"] for row in await lifecycle.events(handle)]
    assert kinds[-2:] == ["deemed_consent", "signoff_complete"]


async def test_review_return_sends_the_task_back_to_the_lead(lifecycle: LifecycleHarness) -> None:
    """审核 return (reason required) puts the task back in the lead's hands, recorded as
    'returned' against the lead; a task without cooperating units goes straight to 审核."""
    handle = await lifecycle.start(make_task([await lifecycle.days_ahead(30)], cooperating=()))
    lead = unit(LEAD)
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))
    submitted = await handle.execute_update(TaskWorkflow.submit, Submit(actor=lead, summary="完成"))
    assert submitted.stage is Stage.REVIEW
    with pytest.raises(WorkflowUpdateFailedError) as no_reason:
        await handle.execute_update(TaskWorkflow.review, Review(actor=COORDINATOR, approve=False))
    assert "a reason is required" in str(no_reason.value.cause)
    returned = await handle.execute_update(
        TaskWorkflow.review, Review(actor=COORDINATOR, approve=False, reason="佐证材料不全")
    )
    assert returned.stage is Stage.IN_PROGRESS

    snapshot = await lifecycle.settle(handle)
    assert snapshot.state.stage is Stage.IN_PROGRESS
    assert snapshot.state.current_milestone is not None
    assert snapshot.state.current_milestone.done_at is None
    rows = await lifecycle.events(handle, "returned")
    assert len(rows) == 1
    assert rows[0]["unit"] == LEAD
    assert rows[0]["recipients"] == [LEAD]
    assert rows[0]["stage_before"] == Stage.REVIEW.value
    assert json.loads(rows[0]["detail"])["reason"] == "佐证材料不全"
    # The lead can submit again.
    again = await handle.execute_update(TaskWorkflow.submit, Submit(actor=lead, summary="已补充"))
    assert again.stage is Stage.REVIEW
