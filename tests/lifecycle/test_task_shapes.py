"""Tasks of other shapes than one lead and two cooperating units, on the time-skipping server:
co-leads (several 牵头单位), a reassignment to a unit that was cooperating, refused tasks.

Who may act follows domain/lifecycle.py: the first 牵头单位 leads and the co-leads sign off
as cooperating units; a unit given the lead leaves the sign-off, so it never approves its
own work; the former lead is no unit of the task any more.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from datetime import timedelta

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.lifecycle import Actor, Stage
from tests.support.lifecycle import (
    COORDINATOR,
    LEAD,
    LifecycleHarness,
    make_task,
    unit,
)
from workflows.task import TaskWorkflow
from workflows.task_contract import (
    Accept,
    Cancel,
    DecideExtension,
    Refuse,
    ReportProgress,
    RequestExtension,
    Review,
    SignOff,
    Submit,
    TaskSnapshot,
)

CO_LEAD = "市数据资源局"
FINANCE, AUDIT = "市财政局", "市审计局"


async def _refused(call: Awaitable[object]) -> tuple[str | None, str, object]:
    """Await an update that must be rejected: its type, reason and the stage it names."""
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await call
    cause = rejected.value.cause
    assert isinstance(cause, ApplicationError)
    return cause.type, cause.message, cause.details[0]


async def _signed_off_by(
    handle: WorkflowHandle[TaskWorkflow, TaskSnapshot], units: list[str]
) -> Stage:
    stage = Stage.SIGNOFF
    for name in units:
        stage = (
            await handle.execute_update(
                TaskWorkflow.sign_off, SignOff(actor=unit(name), approve=True)
            )
        ).stage
    return stage


async def test_co_leads_sign_off_the_lead_s_work_and_cannot_act_as_lead(
    lifecycle: LifecycleHarness,
) -> None:
    handle = await lifecycle.start(
        make_task([await lifecycle.days_ahead(60)], co_leads=[CO_LEAD], cooperating=[FINANCE])
    )
    co_lead = unit(CO_LEAD)
    assert await _refused(handle.execute_update(TaskWorkflow.accept, Accept(actor=co_lead))) == (
        "ActorNotAllowedError",
        f"only the lead unit (牵头单位) {LEAD} may do this",
        {"stage": "assigned"},
    )
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=unit(LEAD)))
    for action in (
        handle.execute_update(
            TaskWorkflow.report_progress, ReportProgress(actor=co_lead, percent=50, text="进展")
        ),
        handle.execute_update(TaskWorkflow.submit, Submit(actor=co_lead, summary="完成")),
    ):
        kind, _, stage = await _refused(action)
        assert (kind, stage) == ("ActorNotAllowedError", {"stage": "in_progress"})

    submitted = await handle.execute_update(
        TaskWorkflow.submit, Submit(actor=unit(LEAD), summary="完成")
    )
    assert submitted.stage is Stage.SIGNOFF
    assert await _signed_off_by(handle, [CO_LEAD]) is Stage.SIGNOFF  # the other still pending
    assert await _signed_off_by(handle, [FINANCE]) is Stage.REVIEW
    done = await handle.execute_update(TaskWorkflow.review, Review(actor=COORDINATOR, approve=True))
    assert done.stage is Stage.COMPLETED

    snapshot = await lifecycle.settle(handle)
    assert (snapshot.state.lead_unit, snapshot.state.cooperating_units) == (
        LEAD,
        [CO_LEAD, FINANCE],
    )
    events = {row["kind"]: row for row in await lifecycle.events(handle)}
    assert events["submitted"]["recipients"] == [CO_LEAD, FINANCE]
    assert events["completed"]["recipients"] == [LEAD, CO_LEAD, FINANCE]
    row = await lifecycle.pool.fetchrow(
        "SELECT lead_unit, cooperating_units, stage FROM task_states WHERE workflow_id = $1",
        handle.id,
    )
    assert row is not None
    assert (row["lead_unit"], row["cooperating_units"], row["stage"]) == (
        LEAD,
        [CO_LEAD, FINANCE],
        "completed",
    )


async def test_a_cooperating_unit_given_the_lead_no_longer_signs_off_its_own_work(
    lifecycle: LifecycleHarness,
) -> None:
    """Reassigned in 承办 to 市财政局, which was cooperating: the task starts again at 交办 for
    it, the former lead may do nothing more, and only 市审计局 signs off."""
    handle = await lifecycle.start(make_task([await lifecycle.days_ahead(60)]))
    former = unit(LEAD)
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=former))
    await lifecycle.reassign(handle, FINANCE)

    snapshot = await lifecycle.settle(handle)
    assert (snapshot.state.stage, snapshot.state.lead_unit) == (Stage.ASSIGNED, FINANCE)
    assert snapshot.state.cooperating_units == [AUDIT]
    kind, message, _ = await _refused(
        handle.execute_update(TaskWorkflow.accept, Accept(actor=former))
    )
    assert (kind, message) == (
        "ActorNotAllowedError",
        f"only the lead unit (牵头单位) {FINANCE} may do this",
    )
    new_lead = unit(FINANCE)
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=new_lead))
    await handle.execute_update(TaskWorkflow.submit, Submit(actor=new_lead, summary="完成"))

    for name in (FINANCE, LEAD):
        kind, message, stage = await _refused(
            handle.execute_update(TaskWorkflow.sign_off, SignOff(actor=unit(name), approve=True))
        )
        assert (kind, message, stage) == (
            "ActorNotAllowedError",
            f"{name} is not a cooperating unit of this task",
            {"stage": "signoff"},
        )
    assert await _signed_off_by(handle, [AUDIT]) is Stage.REVIEW

    await lifecycle.settle(handle)
    events = await lifecycle.events(handle)
    assert [row["kind"] for row in events] == [
        "assigned",
        "accepted",
        "reassigned",
        "accepted",
        "submitted",
        "signed_off",
        "signoff_complete",
    ]
    reassigned = events[2]
    assert (reassigned["unit"], reassigned["stage_before"], reassigned["recipients"]) == (
        FINANCE,
        "in_progress",
        [FINANCE],
    )
    assert json.loads(reassigned["detail"])["previous_lead"] == LEAD
    assert events[4]["recipients"] == [AUDIT]
    assert events[3]["unit"] == FINANCE


async def test_a_refused_task_waits_for_the_coordinator_and_its_lead_can_do_nothing(
    lifecycle: LifecycleHarness,
) -> None:
    """After 退回交办 the former lead can neither accept, report, nor ask for more time; the
    coordinator may give the task back to the same unit, which then accepts."""
    handle = await lifecycle.start_refused(make_task([await lifecycle.days_ahead(60)]))
    lead = unit(LEAD)
    due = await lifecycle.days_ahead(90)
    for action in (
        handle.execute_update(TaskWorkflow.accept, Accept(actor=lead)),
        handle.execute_update(
            TaskWorkflow.request_extension,
            RequestExtension(actor=lead, new_due=due, reason="数据未到位"),
        ),
    ):
        assert await _refused(action) == (
            "WrongStageError",
            "the task was returned (退回交办) and awaits reassignment",
            {"stage": "assigned"},
        )
    kind, _, stage = await _refused(
        handle.execute_update(
            TaskWorkflow.report_progress, ReportProgress(actor=lead, percent=10, text="进展")
        )
    )
    assert (kind, stage) == ("WrongStageError", {"stage": "assigned"})

    await lifecycle.reassign(handle, LEAD)
    accepted = await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))
    assert accepted.stage is Stage.IN_PROGRESS
    snapshot = await lifecycle.settle(handle)
    assert snapshot.state.awaiting_reassignment is False
    assert [r.unit for r in snapshot.state.refusals] == [LEAD]


async def test_a_task_refused_twice_keeps_both_refusals_and_can_be_cancelled(
    lifecycle: LifecycleHarness,
) -> None:
    handle = await lifecycle.start_refused(make_task([await lifecycle.days_ahead(60)]))
    await lifecycle.reassign(handle, AUDIT)
    await handle.execute_update(
        TaskWorkflow.refuse,
        Refuse(actor=unit(AUDIT), reason="也不属于本单位"),
    )
    kind, _, _ = await _refused(
        handle.execute_update(
            TaskWorkflow.cancel, Cancel(actor=Actor(role="unit", unit=AUDIT), reason="r")
        )
    )
    assert kind == "ActorNotAllowedError"
    cancelled = await handle.execute_update(
        TaskWorkflow.cancel, Cancel(actor=COORDINATOR, reason="计划调整")
    )
    assert cancelled.stage is Stage.CANCELLED
    snapshot = await lifecycle.result(handle)
    assert [(r.unit, r.reason) for r in snapshot.state.refusals] == [
        (LEAD, "不属于本单位职责"),
        (AUDIT, "也不属于本单位"),
    ]
    rows = await lifecycle.events(handle, "refused", "cancelled")
    assert [(row["kind"], row["unit"]) for row in rows] == [
        ("refused", LEAD),
        ("refused", AUDIT),
        ("cancelled", AUDIT),
    ]
    assert rows[-1]["recipients"] == [AUDIT, FINANCE]


async def test_a_reassignment_lapses_the_former_lead_s_extension_request(
    lifecycle: LifecycleHarness,
) -> None:
    """The former lead's waiting request goes with its lead: the coordinator has nothing
    to decide, and the new lead may ask for its own date."""
    due = await lifecycle.days_ahead(60)
    handle = await lifecycle.start(make_task([due], cooperating=[FINANCE, AUDIT]))
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=unit(LEAD)))
    await handle.execute_update(
        TaskWorkflow.request_extension,
        RequestExtension(actor=unit(LEAD), new_due=due + timedelta(days=30), reason="数据未到位"),
    )
    await lifecycle.reassign(handle, FINANCE)
    refusal = await _refused(
        handle.execute_update(
            TaskWorkflow.decide_extension, DecideExtension(actor=COORDINATOR, approve=True)
        )
    )
    assert refusal[:2] == ("InvalidActionError", "no extension request is waiting")
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=unit(FINANCE)))
    await handle.execute_update(
        TaskWorkflow.request_extension,
        RequestExtension(actor=unit(FINANCE), new_due=due + timedelta(days=10), reason="刚接手"),
    )
    granted = await handle.execute_update(
        TaskWorkflow.decide_extension, DecideExtension(actor=COORDINATOR, approve=True)
    )
    assert granted.stage == Stage.IN_PROGRESS
    await lifecycle.settle(handle)
    [reassigned] = await lifecycle.events(handle, "reassigned")
    assert json.loads(reassigned["detail"]) == {
        "previous_lead": LEAD,
        "lapsed_extension_request": (due + timedelta(days=30)).isoformat(),
    }
    decided = await lifecycle.events(handle, "extension_granted")
    assert [(row["unit"], row["recipients"]) for row in decided] == [(FINANCE, [FINANCE])]
