"""The lifecycle's payload checks at their boundaries, and what each transition changes and
records: pure, so a wrong comparison, a lost field or a wrong event fails here in
milliseconds (the mutation run relies on these)."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial

import pytest

from domain import lifecycle
from domain.calendar import end_of_day
from domain.lifecycle import (
    MAX_EXTENSION,
    TIMELINE_LIMIT,
    Actor,
    ExtensionRequest,
    InvalidActionError,
    LifecycleError,
    MilestoneState,
    Offset,
    Signoff,
    Stage,
    TaskState,
    WrongStageError,
)
from tests.support.lifecycle import make_task

LEAD = "市信息办"
HELPERS = ["市财政局", "市审计局"]
DUE = date(2030, 6, 28)
SECOND_DUE = date(2030, 12, 31)
NOW = datetime(2030, 1, 2, 2, 0, tzinfo=UTC)
COORDINATOR = Actor(role="coordinator", name="督查室")
LEAD_ACTOR = Actor(role="unit", unit=LEAD)


def _state(stage: Stage = Stage.IN_PROGRESS, milestones: int = 1, **changes: object) -> TaskState:
    dues = [DUE, SECOND_DUE][:milestones]
    state = TaskState(
        plan_id="p",
        task=make_task(dues),
        stage=stage,
        lead_unit=LEAD,
        cooperating_units=list(HELPERS),
        milestones=[
            MilestoneState(
                index=index,
                due=due,
                plan_due=due,
                due_at=end_of_day(due),
                extension_deadline=end_of_day(due) - timedelta(days=7),
            )
            for index, due in enumerate(dues)
        ],
        assigned_at=NOW,
    )
    return state.model_copy(update=changes)


def _invalid(check: Callable[[], None]) -> str:
    with pytest.raises(LifecycleError) as refused:
        check()
    assert type(refused.value) is InvalidActionError
    return str(refused.value)


# ---------------------------------------------------------------- payload checks


def test_reasons_are_required_and_clean() -> None:
    assigned = _state(Stage.ASSIGNED)
    assert _invalid(lambda: lifecycle.check_refuse(assigned, LEAD_ACTOR, " \n")) == (
        "a reason is required"
    )
    assert _invalid(lambda: lifecycle.check_refuse(assigned, LEAD_ACTOR, "a\x07b")) == (
        "the text contains control characters; remove them"
    )
    lifecycle.check_refuse(assigned, LEAD_ACTOR, "不属于本单位职责\n另见附件\t1")
    assert _invalid(lambda: lifecycle.check_cancel(assigned, COORDINATOR, "")) == (
        "a reason is required"
    )


@pytest.mark.parametrize("character", ["\x00", "\x08", "\x0b", "\x0c", "\x0e", "\x1f", "\x7f"])
def test_every_control_character_is_refused(character: str) -> None:
    state = _state()
    assert "control characters" in _invalid(
        lambda: lifecycle.check_progress(state, LEAD_ACTOR, 10, f"进度{character}")
    )
    assert "control characters" in _invalid(
        lambda: lifecycle.check_submit(state, LEAD_ACTOR, f"完成{character}")
    )


def test_progress_is_a_percent_that_never_goes_back_with_a_text() -> None:
    state = _state(progress_percent=40)
    lifecycle.check_progress(state, LEAD_ACTOR, 40, "同上")  # the same percent again is fine
    lifecycle.check_progress(state, LEAD_ACTOR, 100, "完成")
    assert _invalid(lambda: lifecycle.check_progress(state, LEAD_ACTOR, 39, "t")) == (
        "progress cannot go back from 40%"
    )
    for percent in (-1, 101):
        refused = partial(lifecycle.check_progress, _state(), LEAD_ACTOR, percent, "t")
        assert _invalid(refused) == "percent must be between 0 and 100"
    lifecycle.check_progress(_state(), LEAD_ACTOR, 0, "开始")
    assert _invalid(lambda: lifecycle.check_progress(state, LEAD_ACTOR, 50, "  ")) == (
        "a progress report needs a text"
    )


def test_a_submission_needs_a_summary() -> None:
    assert _invalid(lambda: lifecycle.check_submit(_state(), LEAD_ACTOR, " ")) == (
        "a submission needs a summary of what was done"
    )


def test_an_objection_or_a_return_needs_a_reason_an_approval_does_not() -> None:
    signoff = _state(Stage.SIGNOFF, signoffs=[Signoff(unit=u) for u in HELPERS])
    helper = Actor(role="unit", unit=HELPERS[0])
    lifecycle.check_signoff(signoff, helper, True, None)
    lifecycle.check_signoff(signoff, helper, False, "口径不一致")
    for reason in (None, "  "):
        assert _invalid(partial(lifecycle.check_signoff, signoff, helper, False, reason)) == (
            "a reason is required"
        )
    review = _state(Stage.REVIEW)
    lifecycle.check_review(review, COORDINATOR, True, None)
    lifecycle.check_review(review, COORDINATOR, False, "材料不全")
    assert _invalid(lambda: lifecycle.check_review(review, COORDINATOR, False, None)) == (
        "a reason is required"
    )


def test_an_extension_decision_needs_a_request_and_a_rejection_a_reason() -> None:
    state = _state()
    assert _invalid(lambda: lifecycle.check_decide_extension(state, COORDINATOR, True, "")) == (
        "no extension request is waiting"
    )
    waiting = state.model_copy(
        update={
            "pending_extension": ExtensionRequest(
                milestone=0, requested_due=DUE, reason="r", requested_at=NOW, requested_by=LEAD
            )
        }
    )
    lifecycle.check_decide_extension(waiting, COORDINATOR, True, "")
    lifecycle.check_decide_extension(waiting, COORDINATOR, False, "理由不足")
    assert _invalid(lambda: lifecycle.check_decide_extension(waiting, COORDINATOR, False, "")) == (
        "a reason is required"
    )


def test_a_reassignment_names_a_new_unit() -> None:
    state = _state()
    assert _invalid(lambda: lifecycle.check_reassign(state, COORDINATOR, " ")) == (
        "name the unit that takes the lead"
    )
    assert _invalid(lambda: lifecycle.check_reassign(state, COORDINATOR, LEAD)) == (
        f"{LEAD} already leads this task"
    )
    # After 退回交办 the same unit may be given the task again.
    assert _invalid(lambda: lifecycle.check_reassign(state, COORDINATOR, f" {HELPERS[0]}")) == (
        f"the unit name ' {HELPERS[0]}' has spaces around it"
    )
    with pytest.raises(lifecycle.InvalidActionError, match="control characters"):
        lifecycle.check_reassign(state, COORDINATOR, f"{HELPERS[0]}\x07")
    refused = state.model_copy(update={"stage": Stage.ASSIGNED, "awaiting_reassignment": True})
    lifecycle.check_reassign(refused, COORDINATOR, LEAD)
    lifecycle.check_reassign(state, COORDINATOR, HELPERS[0])


def _extension(state: TaskState, requested: date, now: datetime = NOW) -> None:
    lifecycle.check_request_extension(state, LEAD_ACTOR, requested, "数据未到位", now)


def test_an_extension_request_at_its_boundaries() -> None:
    state = _state()
    milestone = state.milestones[0]
    assert milestone.extension_deadline is not None
    _extension(state, DUE + timedelta(days=1))
    _extension(state, DUE + MAX_EXTENSION)
    _extension(state, DUE + timedelta(days=1), now=milestone.extension_deadline)
    assert _invalid(lambda: _extension(state, DUE)) == f"the new date must be after {DUE}"
    assert _invalid(lambda: _extension(state, DUE + MAX_EXTENSION + timedelta(days=1))) == (
        f"an extension moves the due date by at most {MAX_EXTENSION.days} days "
        f"(to {DUE + MAX_EXTENSION}); a longer delay is a change of plan for the coordinator"
    )
    late = milestone.extension_deadline + timedelta(seconds=1)
    assert _invalid(lambda: _extension(state, DUE + timedelta(days=1), now=late)) == (
        f"extensions must be requested at least 5wd before the due date ({DUE})"
    )
    _extension(
        state.model_copy(update={"extensions_granted": 1}), DUE + timedelta(days=1)
    )  # one below the most allowed (2)


def test_an_extension_past_the_due_date_is_refused_as_overdue() -> None:
    state = _state()
    milestone = state.milestones[0]
    milestone.extension_deadline = milestone.due_at + timedelta(days=1)  # only the due date
    _extension(state, DUE + timedelta(days=1), now=milestone.due_at)
    assert _invalid(
        lambda: _extension(
            state, DUE + timedelta(days=1), now=milestone.due_at + timedelta(seconds=1)
        )
    ) == (
        f"the due date {DUE} has passed: an extension can no longer be requested and the "
        "task stays overdue"
    )


def test_an_extension_needs_an_open_computed_deadline_and_no_other_request() -> None:
    request = ExtensionRequest(
        milestone=0, requested_due=DUE, reason="r", requested_at=NOW, requested_by=LEAD
    )
    cases = {
        "the task has no open deadline to extend": _state(milestones=0),
        "the task's deadlines are being recalculated; try again shortly": _state(),
        "an extension request is already waiting for a decision": _state(pending_extension=request),
        "the task already had 2 extensions, the most allowed": _state(extensions_granted=2),
    }
    cases["the task's deadlines are being recalculated; try again shortly"].milestones[
        0
    ].extension_deadline = None
    for message, state in cases.items():
        assert _invalid(partial(_extension, state, DUE + timedelta(days=1))) == message


# ---------------------------------------------------------------- transitions


def _dump(event: lifecycle.TaskEvent) -> dict[str, object]:
    return event.model_dump(exclude={"at"})


def test_accept_moves_to_in_progress_and_records_the_lead() -> None:
    state = _state(Stage.ASSIGNED)
    later = NOW + timedelta(hours=1)
    [event] = lifecycle.apply_accept(state, LEAD_ACTOR, later)
    assert (state.stage, state.accepted_at, state.seq) == (Stage.IN_PROGRESS, later, 1)
    assert event.at == later
    assert _dump(event) == {
        "seq": 1,
        "kind": "accepted",
        "actor": LEAD_ACTOR.model_dump(),
        "unit": LEAD,
        "stage_before": Stage.ASSIGNED,
        "stage_after": Stage.IN_PROGRESS,
        "milestone": None,
        "level": None,
        "recipients": [],
        "detail": {},
    }
    assert state.timeline == [event]


def test_refuse_keeps_the_stage_and_waits_for_the_coordinator() -> None:
    state = _state(Stage.ASSIGNED)
    [event] = lifecycle.apply_refuse(state, LEAD_ACTOR, "不属于本单位职责", NOW)
    assert state.stage is Stage.ASSIGNED
    assert state.awaiting_reassignment is True
    assert [r.model_dump() for r in state.refusals] == [
        {"unit": LEAD, "reason": "不属于本单位职责", "at": NOW}
    ]
    assert _dump(event) == {
        "seq": 1,
        "kind": "refused",
        "actor": LEAD_ACTOR.model_dump(),
        "unit": LEAD,
        "stage_before": Stage.ASSIGNED,
        "stage_after": Stage.ASSIGNED,
        "milestone": None,
        "level": None,
        "recipients": ["coordinator"],
        "detail": {"reason": "不属于本单位职责"},
    }


def test_progress_is_kept_with_its_text_and_evidence() -> None:
    state = _state()
    [event] = lifecycle.apply_progress(state, LEAD_ACTOR, 40, "目录已梳理", ["a.pdf"], NOW)
    assert (state.progress_percent, state.last_progress_at) == (40, NOW)
    assert (event.kind, event.unit, event.stage_before, event.actor) == (
        "progress",
        LEAD,
        Stage.IN_PROGRESS,
        LEAD_ACTOR,
    )
    assert event.detail == {"percent": 40, "text": "目录已梳理", "evidence": ["a.pdf"]}


def test_submit_opens_a_sign_off_per_cooperating_unit() -> None:
    state = _state(signoffs=[Signoff(unit=HELPERS[0], decision="approved")])
    [event] = lifecycle.apply_submit(state, LEAD_ACTOR, "已完成", ["b.pdf"], NOW)
    assert state.stage is Stage.SIGNOFF
    assert state.milestones[0].submitted_at == NOW
    assert state.last_submitted_at == NOW
    assert [(s.unit, s.decision) for s in state.signoffs] == [(u, "pending") for u in HELPERS]
    assert _dump(event) == {
        "seq": 1,
        "kind": "submitted",
        "actor": LEAD_ACTOR.model_dump(),
        "unit": LEAD,
        "stage_before": Stage.IN_PROGRESS,
        "stage_after": Stage.SIGNOFF,
        "milestone": 0,
        "level": None,
        "recipients": HELPERS,
        "detail": {"summary": "已完成", "evidence": ["b.pdf"]},
    }


def test_submit_without_cooperating_units_goes_to_review_and_tells_the_coordinator() -> None:
    state = _state(cooperating_units=[], milestones=0)
    [event] = lifecycle.apply_submit(state, LEAD_ACTOR, "已完成", [], NOW)
    assert state.stage is Stage.REVIEW
    assert state.signoffs == []
    assert (event.milestone, event.recipients) == (None, ["coordinator"])


def _in_signoff() -> TaskState:
    state = _state()
    lifecycle.apply_submit(state, LEAD_ACTOR, "已完成", [], NOW)
    return state


def test_the_last_approval_closes_the_sign_off() -> None:
    state = _in_signoff()
    first, second = (Actor(role="unit", unit=u) for u in HELPERS)
    later = NOW + timedelta(hours=2)
    [signed] = lifecycle.apply_signoff(state, first, True, None, later)
    assert state.stage is Stage.SIGNOFF
    assert (signed.kind, signed.unit, signed.actor, signed.stage_before, signed.stage_after) == (
        "signed_off",
        HELPERS[0],
        first,
        Stage.SIGNOFF,
        Stage.SIGNOFF,
    )
    assert state.signoffs[0].model_dump(exclude={"window_ends"}) == {
        "unit": HELPERS[0],
        "decision": "approved",
        "at": later,
        "reason": None,
    }
    signed, complete = lifecycle.apply_signoff(state, second, True, None, later)
    assert state.stage in {Stage.REVIEW}  # (not `is`: mypy keeps the earlier narrowing)
    assert _dump(complete) == {
        "seq": 4,
        "kind": "signoff_complete",
        "actor": None,
        "unit": None,
        "stage_before": Stage.SIGNOFF,
        "stage_after": Stage.REVIEW,
        "milestone": None,
        "level": None,
        "recipients": ["coordinator"],
        "detail": {},
    }


def test_an_objection_returns_the_task_to_the_lead() -> None:
    state = _in_signoff()
    helper = Actor(role="unit", unit=HELPERS[1])
    [event] = lifecycle.apply_signoff(state, helper, False, "口径不一致", NOW)
    assert state.stage is Stage.IN_PROGRESS
    assert (state.signoffs[1].decision, state.signoffs[1].reason, state.signoffs[1].at) == (
        "objected",
        "口径不一致",
        NOW,
    )
    assert _dump(event) == {
        "seq": 2,
        "kind": "objected",
        "actor": helper.model_dump(),
        "unit": HELPERS[1],
        "stage_before": Stage.SIGNOFF,
        "stage_after": Stage.IN_PROGRESS,
        "milestone": None,
        "level": None,
        "recipients": [LEAD],
        "detail": {"reason": "口径不一致"},
    }
    orphan = _in_signoff()
    orphan.lead_unit = None
    [event] = lifecycle.apply_signoff(orphan, helper, False, "r", NOW)
    assert event.recipients == []


def test_silence_is_deemed_consent_against_the_silent_unit() -> None:
    state = _in_signoff()
    window = NOW + timedelta(days=7)
    state.signoffs[0].window_ends = window
    state.signoffs[1].decision = "approved"
    deemed, complete = lifecycle.apply_deemed_consent(state, HELPERS[0], window)
    assert (state.signoffs[0].decision, state.signoffs[0].at) == ("deemed", window)
    assert _dump(deemed) == {
        "seq": 2,
        "kind": "deemed_consent",
        "actor": None,
        "unit": HELPERS[0],
        "stage_before": Stage.SIGNOFF,
        "stage_after": Stage.SIGNOFF,
        "milestone": None,
        "level": None,
        "recipients": [HELPERS[0]],
        "detail": {"window_ends": window.isoformat()},
    }
    assert complete.kind == "signoff_complete"
    assert state.stage is Stage.REVIEW
    unknown = _in_signoff()
    [deemed] = lifecycle.apply_deemed_consent(unknown, HELPERS[1], NOW)
    assert deemed.detail == {"window_ends": None}
    assert unknown.stage is Stage.SIGNOFF  # the other unit is still pending


def test_a_review_return_goes_back_to_the_lead() -> None:
    state = _state(Stage.REVIEW)
    [event] = lifecycle.apply_review(state, COORDINATOR, False, "材料不全", NOW)
    assert state.stage is Stage.IN_PROGRESS
    assert state.milestones[0].done_at is None
    assert _dump(event) == {
        "seq": 1,
        "kind": "returned",
        "actor": COORDINATOR.model_dump(),
        "unit": LEAD,
        "stage_before": Stage.REVIEW,
        "stage_after": Stage.IN_PROGRESS,
        "milestone": 0,
        "level": None,
        "recipients": [LEAD],
        "detail": {"reason": "材料不全"},
    }
    orphan = _state(Stage.REVIEW, lead_unit=None, milestones=0)
    [event] = lifecycle.apply_review(orphan, COORDINATOR, False, "r", NOW)
    assert (event.recipients, event.milestone) == ([], None)


def test_approving_a_milestone_moves_to_the_next_one() -> None:
    state = _state(Stage.REVIEW, milestones=2, progress_percent=100)
    state.milestones[0].submitted_at = state.milestones[0].due_at  # on the due instant: on time
    [done] = lifecycle.apply_review(state, COORDINATOR, True, None, NOW)
    assert state.milestones[0].done_at == NOW
    assert (state.stage, state.progress_percent, state.closed_at) == (Stage.IN_PROGRESS, 0, None)
    assert state.current_milestone is state.milestones[1]
    assert _dump(done) == {
        "seq": 1,
        "kind": "milestone_done",
        "actor": COORDINATOR.model_dump(),
        "unit": LEAD,
        "stage_before": Stage.REVIEW,
        "stage_after": Stage.REVIEW,
        "milestone": 0,
        "level": None,
        "recipients": [],
        "detail": {"on_time": True},
    }


def test_approving_the_last_milestone_completes_the_task() -> None:
    state = _state(Stage.REVIEW)
    state.milestones[0].submitted_at = state.milestones[0].due_at + timedelta(seconds=1)
    done, completed = lifecycle.apply_review(state, COORDINATOR, True, None, NOW)
    assert done.detail == {"on_time": False}
    assert (state.stage, state.closed_at) == (Stage.COMPLETED, NOW)
    assert _dump(completed) == {
        "seq": 2,
        "kind": "completed",
        "actor": COORDINATOR.model_dump(),
        "unit": LEAD,
        "stage_before": Stage.REVIEW,
        "stage_after": Stage.COMPLETED,
        "milestone": None,
        "level": None,
        "recipients": [LEAD, *HELPERS],
        "detail": {},
    }
    never_submitted = _state(Stage.REVIEW)
    done, _ = lifecycle.apply_review(never_submitted, COORDINATOR, True, None, NOW)
    assert done.detail == {"on_time": False}
    undated = _state(Stage.REVIEW, milestones=0, lead_unit=None)
    [completed] = lifecycle.apply_review(undated, COORDINATOR, True, None, NOW)
    assert (completed.kind, completed.recipients) == ("completed", HELPERS)


def test_an_extension_request_waits_for_the_coordinator() -> None:
    state = _state()
    [event] = lifecycle.apply_request_extension(state, LEAD_ACTOR, SECOND_DUE, "数据未到位", NOW)
    assert state.pending_extension is not None
    assert state.pending_extension.model_dump() == {
        "milestone": 0,
        "requested_due": SECOND_DUE,
        "reason": "数据未到位",
        "requested_at": NOW,
        "requested_by": LEAD,
    }
    assert _dump(event) == {
        "seq": 1,
        "kind": "extension_requested",
        "actor": LEAD_ACTOR.model_dump(),
        "unit": LEAD,
        "stage_before": Stage.IN_PROGRESS,
        "stage_after": Stage.IN_PROGRESS,
        "milestone": 0,
        "level": None,
        "recipients": ["coordinator"],
        "detail": {"requested_due": SECOND_DUE.isoformat(), "reason": "数据未到位"},
    }


def test_a_granted_extension_moves_the_date_and_restarts_the_ladder() -> None:
    state = _state()
    state.milestones[0].escalation_level = 2
    lifecycle.apply_request_extension(state, LEAD_ACTOR, SECOND_DUE, "数据未到位", NOW)
    new_due_at = end_of_day(SECOND_DUE)
    [event] = lifecycle.apply_decide_extension(state, COORDINATOR, True, "同意", new_due_at, NOW)
    milestone = state.milestones[0]
    assert (milestone.due, milestone.due_at, milestone.plan_due) == (SECOND_DUE, new_due_at, DUE)
    assert (milestone.extension_deadline, milestone.escalation_level) == (None, 0)
    assert (state.extensions_granted, state.pending_extension) == (1, None)
    assert _dump(event) == {
        "seq": 2,
        "kind": "extension_granted",
        "actor": COORDINATOR.model_dump(),
        "unit": LEAD,
        "stage_before": Stage.IN_PROGRESS,
        "stage_after": Stage.IN_PROGRESS,
        "milestone": 0,
        "level": None,
        "recipients": [LEAD],
        "detail": {
            "requested_due": SECOND_DUE.isoformat(),
            "old_due": DUE.isoformat(),
            "reason": "同意",
        },
    }
    # Without an instant computed outside, the date moves and the instant stays.
    again = _state()
    lifecycle.apply_request_extension(again, LEAD_ACTOR, SECOND_DUE, "r", NOW)
    lifecycle.apply_decide_extension(again, COORDINATOR, True, "", None, NOW)
    assert (again.milestones[0].due, again.milestones[0].due_at) == (SECOND_DUE, end_of_day(DUE))


def test_every_granted_extension_is_counted() -> None:
    state = _state()
    for requested in (SECOND_DUE, SECOND_DUE + timedelta(days=10)):
        lifecycle.apply_request_extension(state, LEAD_ACTOR, requested, "r", NOW)
        lifecycle.apply_decide_extension(state, COORDINATOR, True, "", None, NOW)
    assert state.extensions_granted == 2


def test_a_coordinator_naming_a_unit_still_cannot_sign_off_for_it() -> None:
    """The role decides, not a unit name an actor carries."""
    state = _state(Stage.SIGNOFF, signoffs=[Signoff(unit=u) for u in HELPERS])
    impostor = Actor(role="coordinator", unit=HELPERS[0])
    with pytest.raises(lifecycle.ActorNotAllowedError, match="only a cooperating unit"):
        lifecycle.check_signoff(state, impostor, True, None)


def test_a_rejected_extension_changes_no_date() -> None:
    state = _state()
    state.milestones[0].escalation_level = 1
    lifecycle.apply_request_extension(state, LEAD_ACTOR, SECOND_DUE, "数据未到位", NOW)
    [event] = lifecycle.apply_decide_extension(state, COORDINATOR, False, "理由不足", None, NOW)
    milestone = state.milestones[0]
    assert (milestone.due, milestone.escalation_level, state.extensions_granted) == (DUE, 1, 0)
    assert milestone.extension_deadline is not None
    assert state.pending_extension is None
    assert (event.kind, event.unit, event.recipients) == ("extension_rejected", LEAD, [LEAD])
    assert event.detail == {
        "requested_due": SECOND_DUE.isoformat(),
        "old_due": None,
        "reason": "理由不足",
    }


def test_reassignment_to_a_cooperating_unit_takes_it_out_of_the_sign_off() -> None:
    state = _state(accepted_at=NOW, awaiting_reassignment=True)
    later = NOW + timedelta(days=1)
    [event] = lifecycle.apply_reassign(state, COORDINATOR, HELPERS[0], later)
    assert (state.lead_unit, state.cooperating_units) == (HELPERS[0], [HELPERS[1]])
    assert (state.stage, state.awaiting_reassignment) == (Stage.ASSIGNED, False)
    assert (state.assigned_at, state.accepted_at) == (later, None)
    assert _dump(event) == {
        "seq": 1,
        "kind": "reassigned",
        "actor": COORDINATOR.model_dump(),
        "unit": HELPERS[0],
        "stage_before": Stage.IN_PROGRESS,
        "stage_after": Stage.ASSIGNED,
        "milestone": None,
        "level": None,
        "recipients": [HELPERS[0]],
        "detail": {"previous_lead": LEAD},
    }


def test_cancel_closes_the_task_and_tells_every_unit() -> None:
    state = _state()
    [event] = lifecycle.apply_cancel(state, COORDINATOR, "计划调整", NOW)
    assert (event.unit, event.recipients) == (LEAD, [LEAD, *HELPERS])
    state = _state(lead_unit=None)
    [event] = lifecycle.apply_cancel(state, COORDINATOR, "计划调整", NOW)
    assert (state.stage, state.closed_at, state.close_reason) == (Stage.CANCELLED, NOW, "计划调整")
    assert _dump(event) == {
        "seq": 1,
        "kind": "cancelled",
        "actor": COORDINATOR.model_dump(),
        "unit": None,
        "stage_before": Stage.IN_PROGRESS,
        "stage_after": Stage.CANCELLED,
        "milestone": None,
        "level": None,
        "recipients": HELPERS,
        "detail": {"reason": "计划调整"},
    }


# ---------------------------------------------------------------- state and its helpers


def test_the_timeline_keeps_the_most_recent_events() -> None:
    state = _state()
    for _ in range(TIMELINE_LIMIT + 5):
        lifecycle.record(state, "progress", NOW)
    assert len(state.timeline) == TIMELINE_LIMIT
    assert (state.timeline[0].seq, state.timeline[-1].seq) == (6, TIMELINE_LIMIT + 5)
    event = lifecycle.record(state, "escalation", NOW, level=2, recipients=None, milestone=1)
    assert (event.level, event.milestone, event.recipients) == (2, 1, [])


def test_overdue_days_count_from_the_due_instant() -> None:
    state = _state()
    due_at = state.milestones[0].due_at
    assert state.overdue_days(due_at) == 0
    assert state.overdue_days(due_at + timedelta(seconds=1)) == 1
    assert state.overdue_days(due_at + timedelta(days=1)) == 2
    assert _state(Stage.COMPLETED).overdue_days(due_at + timedelta(days=3)) == 0
    assert _state(milestones=0).overdue_days(due_at + timedelta(days=3)) == 0


def test_the_status_light() -> None:
    state = _state()
    due_at = state.milestones[0].due_at
    yellow_from = due_at - timedelta(days=3)
    assert state.status_light(yellow_from - timedelta(seconds=1), yellow_from) == "green"
    assert state.status_light(yellow_from, yellow_from) == "yellow"
    assert state.status_light(due_at, yellow_from) == "yellow"
    assert state.status_light(due_at + timedelta(seconds=1), yellow_from) == "red"
    assert state.status_light(due_at - timedelta(days=1), None) == "green"
    assert _state(milestones=0).status_light(due_at, yellow_from) == "green"
    assert _state(Stage.CANCELLED).status_light(due_at, yellow_from) == "none"


def test_the_escalation_level_is_the_current_milestone_s() -> None:
    state = _state(milestones=2)
    state.milestones[0].escalation_level = 2
    state.milestones[1].escalation_level = 1
    assert state.escalation_level == 2
    state.milestones[0].done_at = NOW
    assert state.escalation_level == 1
    assert _state(milestones=0).escalation_level == 0


def test_stage_labels_and_which_are_open() -> None:
    assert [(s.label, s.is_open) for s in Stage] == [
        ("交办", True),
        ("承办", True),
        ("会签", True),
        ("审核", True),
        ("办结", False),
        ("撤销", False),
    ]


def test_offset_labels_are_exact() -> None:
    assert Offset().label == "0"
    assert Offset(working_days=7).label == "7wd"
    assert Offset(duration=timedelta(seconds=1.5)).label == "1.5s"
    assert Offset(working_days=2, duration=timedelta(hours=1)).label == "2wd+3600s"


def test_an_actor_is_described_by_unit_then_name_then_role() -> None:
    assert Actor(role="unit", unit="市信息办", name="张三").describe() == "市信息办"
    assert Actor(role="coordinator", name="督查室").describe() == "督查室"
    assert Actor(role="coordinator").describe() == "coordinator"
    assert Actor(role="unit", unit="").unit == ""


def test_a_wrong_stage_error_keeps_its_stage_when_copied() -> None:
    error = WrongStageError("the task is review (审核)", Stage.REVIEW)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object, just made
    assert (type(copy), str(copy), copy.stage) == (WrongStageError, str(error), Stage.REVIEW)


def test_a_reassignment_lapses_a_waiting_extension_request_unless_replaying_the_old_rule() -> None:
    request = ExtensionRequest(
        milestone=0,
        requested_due=SECOND_DUE,
        reason="数据未到位",
        requested_at=NOW,
        requested_by=LEAD,
    )
    state = _state(pending_extension=request)
    [event] = lifecycle.apply_reassign(state, COORDINATOR, HELPERS[0], NOW)
    assert state.pending_extension is None
    assert event.detail == {
        "previous_lead": LEAD,
        "lapsed_extension_request": SECOND_DUE.isoformat(),
    }
    old_rule = _state(pending_extension=request)
    [event] = lifecycle.apply_reassign(
        old_rule, COORDINATOR, HELPERS[0], NOW, lapse_extension_request=False
    )
    assert old_rule.pending_extension == request
    assert event.detail == {"previous_lead": LEAD}
