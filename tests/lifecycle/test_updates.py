"""Updates as the API sends them: idempotent on their id, validated before anything happens."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.lifecycle import Stage
from tests.support.lifecycle import (
    COOPERATING,
    COORDINATOR,
    LEAD,
    LifecycleHarness,
    make_task,
    unit,
    wait_until,
)
from workflows.task import TaskWorkflow
from workflows.task_contract import (
    Accept,
    ActionResult,
    ReportProgress,
    Review,
    SignOff,
    Submit,
    Withdrawal,
    action_update_id,
)


async def _progress_count(lifecycle: LifecycleHarness, handle: WorkflowHandle[Any, Any]) -> int:
    return len(await lifecycle.events(handle, "progress"))


async def test_same_update_id_applies_once(lifecycle: LifecycleHarness) -> None:
    """An update id sent three times records one progress report and answers the same."""
    handle = await lifecycle.start(make_task([await lifecycle.days_ahead(30)]))
    lead = unit(LEAD)
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))
    report = ReportProgress(actor=lead, percent=20, text="完成需求调研")
    results = [
        await handle.execute_update(TaskWorkflow.report_progress, report, id="idem-1")
        for _ in range(3)
    ]
    assert results[0] == results[1] == results[2]
    snapshot = await lifecycle.settle(handle)
    assert await _progress_count(lifecycle, handle) == 1
    assert snapshot.state.progress_percent == 20


def _progress_id(key: str, report: ReportProgress) -> str:
    return action_update_id(key, "report_progress", report)


async def test_a_key_reused_for_another_request_is_rejected(lifecycle: LifecycleHarness) -> None:
    """An Idempotency-Key spent on one request, sent again with another action or other
    content, is refused with a reason, and the second request changes nothing; the true
    retry still answers with the first result."""
    handle = await lifecycle.start(make_task([await lifecycle.days_ahead(30)]))
    lead = unit(LEAD)
    accept = Accept(actor=lead)
    first = await handle.execute_update(
        TaskWorkflow.accept, accept, id=action_update_id("key-1", "accept", accept)
    )
    report = ReportProgress(actor=lead, percent=20, text="完成需求调研")
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(
            TaskWorkflow.report_progress, report, id=_progress_id("key-1", report)
        )
    assert "the idempotency key 'key-1' was already used for another request (accept)" in str(
        failure.value.cause
    )
    await handle.execute_update(
        TaskWorkflow.report_progress, report, id=_progress_id("key-2", report)
    )
    other = report.model_copy(update={"percent": 60, "text": "另一份报告"})
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(
            TaskWorkflow.report_progress, other, id=_progress_id("key-2", other)
        )
    assert "'key-2' was already used for another request (report_progress)" in str(
        failure.value.cause
    )
    retried = await handle.execute_update(
        TaskWorkflow.accept, accept, id=action_update_id("key-1", "accept", accept)
    )
    assert retried == first
    snapshot = await lifecycle.settle(handle)
    assert snapshot.state.progress_percent == 20
    assert await _progress_count(lifecycle, handle) == 1
    assert snapshot.state.seq == 3  # assigned, accepted, one progress report


async def test_update_id_is_remembered_across_continue_as_new(
    lifecycle: LifecycleHarness,
) -> None:
    """An update id applied before continue-as-new is not applied again after it: the retry
    returns the first result and records nothing."""
    handle = await lifecycle.start(
        make_task([await lifecycle.days_ahead(30)]), continue_as_new_after_events=100
    )
    first_run = (await handle.describe()).run_id
    lead = unit(LEAD)
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))
    first_report = ReportProgress(actor=lead, percent=10, text="第1次")
    first = await handle.execute_update(
        TaskWorkflow.report_progress, first_report, id=_progress_id("idem-can-1", first_report)
    )
    latest = lifecycle.client.get_workflow_handle(handle.id)

    async def continued() -> bool:
        return (await latest.describe()).run_id != first_run

    for n in range(2, 60):
        await latest.execute_update(
            TaskWorkflow.report_progress,
            ReportProgress(actor=lead, percent=min(10 + n, 100), text=f"第{n}次"),
            id=f"idem-can-{n}",
        )
        if await continued():
            break
    await wait_until(continued, what="continue-as-new")
    snapshot = await lifecycle.settle(latest)
    before = await _progress_count(lifecycle, handle)
    assert before == n
    assert snapshot.state.seq == before + 2  # assigned, accepted

    again = await latest.execute_update(
        TaskWorkflow.report_progress, first_report, id=_progress_id("idem-can-1", first_report)
    )
    assert again == first
    assert again.seq == 3
    changed = ReportProgress(actor=lead, percent=100, text="换了内容的请求")
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await latest.execute_update(
            TaskWorkflow.report_progress, changed, id=_progress_id("idem-can-1", changed)
        )
    assert "'idem-can-1' was already used for another request" in str(failure.value.cause)
    snapshot = await lifecycle.settle(latest)
    assert await _progress_count(lifecycle, handle) == before
    assert snapshot.state.progress_percent == min(10 + n, 100)
    # A new id after continue-as-new still applies.
    fresh = await latest.execute_update(
        TaskWorkflow.report_progress,
        ReportProgress(actor=lead, percent=100, text="完成"),
        id="idem-can-new",
    )
    assert fresh.seq == snapshot.state.seq + 1
    await lifecycle.settle(latest)
    assert await _progress_count(lifecycle, handle) == before + 1


async def _accepted_update_ids(handle: WorkflowHandle[Any, Any]) -> set[str]:
    history = await handle.fetch_history()
    return {
        event.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id
        for event in history.events
        if event.HasField("workflow_execution_update_accepted_event_attributes")
    }


def _kind_and_details(failure: WorkflowUpdateFailedError) -> tuple[str | None, Any]:
    """The rejection's ApplicationError type and details, as a caller reads them."""
    cause = failure.cause
    assert isinstance(cause, ApplicationError)
    return cause.type, cause.details


async def test_re_import_updates_reject_a_bad_payload_by_kind(
    lifecycle: LifecycleHarness,
) -> None:
    """A revision of another task and a withdrawal without a reason are InvalidActionError,
    with the task's stage, and change nothing; a good withdrawal then cancels the task."""
    task = make_task([await lifecycle.days_ahead(30)])
    handle = await lifecycle.start(task)
    before = (await lifecycle.settle(handle)).state.seq
    with pytest.raises(WorkflowUpdateFailedError) as other_task:
        await handle.execute_update(TaskWorkflow.revise, task.model_copy(update={"id": "8"}))
    assert "task 8 cannot revise task 7" in str(other_task.value.cause)
    assert _kind_and_details(other_task.value) == ("InvalidActionError", ({"stage": "assigned"},))
    with pytest.raises(WorkflowUpdateFailedError) as no_reason:
        await handle.execute_update(TaskWorkflow.withdraw, Withdrawal(reason="  "))
    assert "a withdrawal needs a reason" in str(no_reason.value.cause)
    assert _kind_and_details(no_reason.value) == ("InvalidActionError", ({"stage": "assigned"},))
    assert (await lifecycle.settle(handle)).state.seq == before
    await handle.execute_update(TaskWorkflow.withdraw, Withdrawal(reason="no longer in plan.txt"))
    snapshot = await lifecycle.result(handle)
    assert snapshot.state.stage is Stage.CANCELLED


async def test_validators_reject_without_a_trace(lifecycle: LifecycleHarness) -> None:
    """Wrong actor, wrong stage and a bad payload are each rejected with a reason naming the
    problem, typed by its kind and carrying the task's stage, and leave no event in
    PostgreSQL and no accepted update in history."""
    handle = await lifecycle.start(make_task([await lifecycle.days_ahead(30)]))
    lead = unit(LEAD)
    await lifecycle.settle(handle)

    async def rejected(
        update: Any, action: Any, update_id: str, reason: str, kind: str, stage: Stage
    ) -> None:
        before = (await lifecycle.settle(handle)).state.seq
        with pytest.raises(WorkflowUpdateFailedError) as failure:
            await handle.execute_update(update, action, id=update_id)
        assert reason in str(failure.value.cause)
        assert _kind_and_details(failure.value) == (kind, ({"stage": stage.value},))
        snapshot = await lifecycle.settle(handle)
        assert snapshot.state.seq == before
        assert len(await lifecycle.events(handle)) == before

    cooperating = unit(COOPERATING[0])
    await rejected(
        TaskWorkflow.accept,
        Accept(actor=cooperating),
        "bad-accept",
        f"only the lead unit (牵头单位) {LEAD}",
        "ActorNotAllowedError",
        Stage.ASSIGNED,
    )
    await rejected(
        TaskWorkflow.submit,
        Submit(actor=lead, summary="已完成"),
        "bad-submit",
        "the task is assigned (交办); this needs in_progress (承办)",
        "WrongStageError",
        Stage.ASSIGNED,
    )
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead), id="good-accept")
    await rejected(
        TaskWorkflow.report_progress,
        ReportProgress(actor=lead, percent=150, text="超额完成"),
        "bad-percent",
        "percent must be between 0 and 100",
        "InvalidActionError",
        Stage.IN_PROGRESS,
    )
    await handle.execute_update(TaskWorkflow.submit, Submit(actor=lead, summary="已完成"))
    for name in COOPERATING:
        await handle.execute_update(TaskWorkflow.sign_off, SignOff(actor=unit(name), approve=True))
    await rejected(
        TaskWorkflow.review,
        Review(actor=unit(COOPERATING[1]), approve=True),
        "bad-review",
        "only the coordinator may do this",
        "ActorNotAllowedError",
        Stage.REVIEW,
    )
    result = await handle.execute_update(
        TaskWorkflow.review, Review(actor=COORDINATOR, approve=True), id="good-review"
    )
    assert result == ActionResult(stage=Stage.COMPLETED, seq=result.seq)
    await lifecycle.result(handle)

    accepted = await _accepted_update_ids(handle)
    assert {"good-accept", "good-review"} <= accepted
    assert not accepted & {"bad-accept", "bad-submit", "bad-percent", "bad-review"}
    kinds = [row["kind"] for row in await lifecycle.events(handle)]
    assert "progress" not in kinds
    assert kinds.count("accepted") == 1
