"""Every check of the lifecycle against every stage and every kind of actor.

For each action, the rules say in which stages it may be taken and by whom. Each
(action, stage, actor) is checked: allowed where the rules allow it, otherwise refused with
the typed reason the workflow's validator turns into its rejection: WrongStageError naming
the task's stage when the stage is wrong (the stage is checked first), ActorNotAllowedError
when the stage is right and the actor is not. The API's own check (``domain.access``) comes
before the workflow's; together they refuse every wrong actor, including a coordinator of
another plan and an admin, which the workflow sees as a coordinator (see the last tests).

The task is built as the workflow builds it (``initial_state``), with two 牵头单位: the first
leads, the second (the co-lead) is a cooperating unit for the lifecycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from domain import lifecycle
from domain.access import AccessDeniedError, ActionKind, Principal, TaskAccess, require_action
from domain.lifecycle import (
    ActorNotAllowedError,
    ExtensionRequest,
    LifecycleError,
    Signoff,
    Stage,
    TaskState,
    WrongStageError,
)
from tests.support.lifecycle import COOPERATING, make_task
from workflows.task import initial_state
from workflows.task_contract import TaskWorkflowInput

LEAD = "市信息办"
CO_LEAD = "市数据资源局"
HELPER = COOPERATING[0]
STRANGER = "市公安局"
PLAN = "plan-refusals"
DUE = date(2030, 6, 28)
NOW = datetime(2030, 1, 2, 2, 0, tzinfo=UTC)
LATER = DUE + timedelta(days=30)


@dataclass(frozen=True)
class ActorKind:
    """One kind of caller: its token (what the API sees) and the actor it becomes."""

    name: str
    principal: Principal

    @property
    def actor(self) -> lifecycle.Actor:
        return self.principal.actor


KINDS = {
    "lead": ActorKind("lead", Principal("t1", "unit", "张", unit=LEAD)),
    "co_lead": ActorKind("co_lead", Principal("t2", "unit", "李", unit=CO_LEAD)),
    "cooperating": ActorKind("cooperating", Principal("t3", "unit", "王", unit=HELPER)),
    "unrelated": ActorKind("unrelated", Principal("t4", "unit", "赵", unit=STRANGER)),
    "coordinator": ActorKind(
        "coordinator", Principal("t5", "coordinator", "督查室", plans=(PLAN,))
    ),
    "other_coordinator": ActorKind(
        "other_coordinator", Principal("t6", "coordinator", "督查室", plans=("another-plan",))
    ),
    "admin": ActorKind("admin", Principal("t7", "admin", "ops")),
}
# What the workflow can tell apart: the token's plan scope and the admin role stay in the API.
LIFECYCLE_KINDS = ("lead", "co_lead", "cooperating", "unrelated", "coordinator")

# The stages a task can be in, with "refused": 交办 after 退回交办, awaiting reassignment.
STAGES = ("assigned", "refused", "in_progress", "signoff", "review", "completed", "cancelled")


def task_state(stage: str) -> TaskState:
    """A task in ``stage`` whose payload conditions all hold (an extension waits for a
    decision, every cooperating unit's sign-off is pending), so only stage and actor
    decide."""
    task = make_task([DUE]).model_copy(update={"lead_units": [LEAD, CO_LEAD]})
    state = initial_state(TaskWorkflowInput(plan_id=PLAN, task=task), NOW)
    state.milestones[0].extension_deadline = state.milestones[0].due_at - timedelta(days=7)
    pending = ExtensionRequest(
        milestone=0, requested_due=LATER, reason="r", requested_at=NOW, requested_by=LEAD
    )
    if stage == "refused":
        return state.model_copy(update={"awaiting_reassignment": True})
    changes: dict[str, object] = {"stage": Stage(stage)}
    if stage == "signoff":
        changes["signoffs"] = [Signoff(unit=u) for u in state.cooperating_units]
        changes["pending_extension"] = pending
    if stage in {"review", "completed", "cancelled"}:
        changes["pending_extension"] = pending
    return state.model_copy(update=changes)


def with_pending_extension(state: TaskState) -> TaskState:
    return state.model_copy(
        update={
            "pending_extension": ExtensionRequest(
                milestone=0, requested_due=LATER, reason="r", requested_at=NOW, requested_by=LEAD
            )
        }
    )


@dataclass(frozen=True)
class Rule:
    action: ActionKind
    check: Callable[[TaskState, lifecycle.Actor], None]
    stages: frozenset[str]
    actors: frozenset[str]
    prepare: Callable[[TaskState], TaskState] = lambda state: state


OPEN = frozenset(STAGES) - {"completed", "cancelled"}
COORDINATORS = frozenset({"coordinator"})
RULES = [
    Rule(
        ActionKind.ACCEPT,
        lambda s, a: lifecycle.check_accept(s, a),
        frozenset({"assigned"}),
        frozenset({"lead"}),
    ),
    Rule(
        ActionKind.REFUSE,
        lambda s, a: lifecycle.check_refuse(s, a, "不属于本单位职责"),
        frozenset({"assigned"}),
        frozenset({"lead"}),
    ),
    Rule(
        ActionKind.PROGRESS,
        lambda s, a: lifecycle.check_progress(s, a, 40, "完成目录梳理"),
        frozenset({"in_progress"}),
        frozenset({"lead"}),
    ),
    Rule(
        ActionKind.SUBMIT,
        lambda s, a: lifecycle.check_submit(s, a, "已完成"),
        frozenset({"in_progress"}),
        frozenset({"lead"}),
    ),
    Rule(
        ActionKind.SIGN_OFF,
        lambda s, a: lifecycle.check_signoff(s, a, True, None),
        frozenset({"signoff"}),
        # The co-lead is a cooperating unit of the lifecycle: it signs off too.
        frozenset({"co_lead", "cooperating"}),
    ),
    Rule(
        ActionKind.REVIEW,
        lambda s, a: lifecycle.check_review(s, a, True, None),
        frozenset({"review"}),
        COORDINATORS,
    ),
    Rule(
        ActionKind.REQUEST_EXTENSION,
        lambda s, a: lifecycle.check_request_extension(s, a, LATER, "数据未到位", NOW),
        frozenset({"assigned", "in_progress"}),
        frozenset({"lead"}),
    ),
    Rule(
        ActionKind.DECIDE_EXTENSION,
        lambda s, a: lifecycle.check_decide_extension(s, a, True, ""),
        OPEN,
        COORDINATORS,
        with_pending_extension,
    ),
    Rule(
        ActionKind.REASSIGN,
        lambda s, a: lifecycle.check_reassign(s, a, "市大数据中心"),
        frozenset({"assigned", "refused", "in_progress"}),
        COORDINATORS,
    ),
    Rule(
        ActionKind.CANCEL,
        lambda s, a: lifecycle.check_cancel(s, a, "计划调整"),
        OPEN,
        COORDINATORS,
    ),
]


def test_the_rules_cover_every_action() -> None:
    assert {rule.action for rule in RULES} == set(ActionKind)


CASES = [
    pytest.param(rule, stage, kind, id=f"{rule.action}-{stage}-{kind}")
    for rule in RULES
    for stage in STAGES
    for kind in LIFECYCLE_KINDS
]


@pytest.mark.parametrize(("rule", "stage", "kind"), CASES)
def test_each_check_refuses_each_wrong_stage_and_actor(rule: Rule, stage: str, kind: str) -> None:
    state = rule.prepare(task_state(stage))
    actor = KINDS[kind].actor
    if stage not in rule.stages:
        with pytest.raises(LifecycleError) as refused:
            rule.check(state, actor)
        assert type(refused.value) is WrongStageError
        assert refused.value.stage is state.stage
        # "refused" is 交办 awaiting reassignment: either message names where the task is.
        assert str(refused.value).startswith(
            ("the task was returned", "the task is assigned (")
            if stage == "refused"
            else f"the task is {stage} ("
        )
    elif kind not in rule.actors:
        with pytest.raises(LifecycleError) as refused:
            rule.check(state, actor)
        assert type(refused.value) is ActorNotAllowedError
    else:
        rule.check(state, actor)  # allowed: no exception


@pytest.mark.parametrize(("rule", "kind"), [(r, k) for r in RULES for k in KINDS])
def test_the_api_and_the_workflow_together_refuse_every_wrong_actor(rule: Rule, kind: str) -> None:
    """In a stage where the action is allowed, only its own actor gets through both checks;
    a coordinator of another plan and an admin are stopped by the API's."""
    stage = sorted(rule.stages)[0]
    state = rule.prepare(task_state(stage))
    access = TaskAccess(PLAN, state.lead_unit, tuple(state.cooperating_units))
    principal = KINDS[kind].principal

    def decide() -> None:
        require_action(principal, access, rule.action)
        rule.check(state, principal.actor)

    if kind in rule.actors:
        decide()
    else:
        with pytest.raises((AccessDeniedError, ActorNotAllowedError)):
            decide()


def test_the_workflow_sees_another_plans_coordinator_and_an_admin_as_a_coordinator() -> None:
    """Pinned so a change is deliberate: the workflow's check cannot tell these apart, so
    the API's check is the only guard against them (reported on issue #9)."""
    state = task_state("review")
    for kind in ("other_coordinator", "admin"):
        assert KINDS[kind].actor.role == "coordinator"
        lifecycle.check_review(state, KINDS[kind].actor, True, None)


# ---------------------------------------------------------------- refusals' wording


def _refusal(check: Callable[[], None]) -> LifecycleError:
    with pytest.raises(LifecycleError) as refused:
        check()
    return refused.value


def test_a_wrong_actor_is_told_who_may_act() -> None:
    state = task_state("in_progress")
    helper = KINDS["cooperating"].actor
    assert str(_refusal(lambda: lifecycle.check_submit(state, helper, "完成"))) == (
        f"only the lead unit (牵头单位) {LEAD} may do this"
    )
    nobody = state.model_copy(update={"lead_unit": None})
    assert str(_refusal(lambda: lifecycle.check_submit(nobody, helper, "完成"))) == (
        "only the lead unit (牵头单位) (none assigned) may do this"
    )
    review = task_state("review")
    assert str(_refusal(lambda: lifecycle.check_review(review, helper, True, None))) == (
        "only the coordinator may do this"
    )
    signoff = task_state("signoff")
    coordinator = KINDS["coordinator"].actor
    assert str(_refusal(lambda: lifecycle.check_signoff(signoff, coordinator, True, None))) == (
        "only a cooperating unit (配合单位) may sign off"
    )
    stranger = KINDS["unrelated"].actor
    assert str(_refusal(lambda: lifecycle.check_signoff(signoff, stranger, True, None))) == (
        f"{STRANGER} is not a cooperating unit of this task"
    )


def test_a_unit_actor_without_a_unit_is_nobody_s_lead_or_helper() -> None:
    """A unit actor naming no unit matches neither a task without a lead nor a sign-off."""
    nameless = lifecycle.Actor(role="unit", unit=None)
    nobody_leads = task_state("in_progress").model_copy(update={"lead_unit": None})
    assert type(_refusal(lambda: lifecycle.check_submit(nobody_leads, nameless, "完成"))) is (
        ActorNotAllowedError
    )
    signoff = task_state("signoff")
    assert type(_refusal(lambda: lifecycle.check_signoff(signoff, nameless, True, None))) is (
        ActorNotAllowedError
    )
    # A coordinator never leads, even a task whose lead has no name.
    coordinator = KINDS["coordinator"].actor
    assert (
        type(_refusal(lambda: lifecycle.check_submit(nobody_leads, coordinator, "完成")))
        is ActorNotAllowedError
    )


def test_a_wrong_stage_says_where_the_task_is_and_what_is_needed() -> None:
    lead = KINDS["lead"].actor
    review = task_state("review")
    assert str(_refusal(lambda: lifecycle.check_submit(review, lead, "完成"))) == (
        "the task is review (审核); this needs in_progress (承办)"
    )
    done = task_state("completed")
    assert str(
        _refusal(lambda: lifecycle.check_request_extension(done, lead, LATER, "r", NOW))
    ) == ("the task is completed (办结); it is closed")
    assert (
        str(
            _refusal(
                lambda: lifecycle.check_reassign(
                    task_state("review"), KINDS["coordinator"].actor, "x"
                )
            )
        )
        == "the task is review (审核); this needs assigned (交办) or in_progress (承办)"
    )
    refused = task_state("refused")
    for check in (
        lambda: lifecycle.check_accept(refused, lead),
        lambda: lifecycle.check_request_extension(refused, lead, LATER, "r", NOW),
    ):
        error = _refusal(check)
        assert str(error) == "the task was returned (退回交办) and awaits reassignment"
        assert isinstance(error, WrongStageError)
        assert error.stage is Stage.ASSIGNED
    cancelled = task_state("cancelled")
    coordinator = KINDS["coordinator"].actor
    assert str(_refusal(lambda: lifecycle.check_cancel(cancelled, coordinator, "r"))) == (
        "the task is cancelled (撤销); it is closed"
    )


def test_a_decided_sign_off_is_a_wrong_stage_for_that_unit_only() -> None:
    state = task_state("signoff")
    state.signoffs[0].decision = "objected"
    first = state.signoffs[0].unit
    error = _refusal(
        lambda: lifecycle.check_signoff(state, lifecycle.Actor(role="unit", unit=first), True, None)
    )
    assert isinstance(error, WrongStageError)
    assert error.stage is Stage.SIGNOFF
    assert str(error) == f"{first} already decided (objected)"
    second = state.signoffs[1].unit
    lifecycle.check_signoff(state, lifecycle.Actor(role="unit", unit=second), True, None)
