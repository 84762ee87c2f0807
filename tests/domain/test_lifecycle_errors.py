"""Each lifecycle check says why it refuses: the wrong stage, the wrong actor, or a bad
payload, as its own LifecycleError subclass (the workflow's rejection type)."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from domain import lifecycle
from domain.calendar import end_of_day
from domain.lifecycle import (
    ActorNotAllowedError,
    ExtensionRequest,
    InvalidActionError,
    LifecycleError,
    MilestoneState,
    Signoff,
    Stage,
    TaskState,
    WrongStageError,
)
from tests.support.lifecycle import COOPERATING, COORDINATOR, LEAD, make_task, unit

DUE = date(2030, 6, 28)
NOW = datetime(2030, 1, 2, tzinfo=UTC)


def _state(**changes: object) -> TaskState:
    state = TaskState(
        plan_id="p",
        task=make_task([DUE]),
        lead_unit=LEAD,
        cooperating_units=list(COOPERATING),
        milestones=[
            MilestoneState(
                index=0,
                due=DUE,
                plan_due=DUE,
                due_at=end_of_day(DUE),
                extension_deadline=end_of_day(DUE) - timedelta(days=7),
            )
        ],
        assigned_at=NOW,
    )
    return state.model_copy(update=changes)


IN_PROGRESS: dict[str, object] = {"stage": Stage.IN_PROGRESS}
SIGNOFF: dict[str, object] = {"stage": Stage.SIGNOFF, "signoffs": [Signoff(unit=COOPERATING[0])]}
LEAD_ACTOR = unit(LEAD)
PENDING = ExtensionRequest(
    milestone=0, requested_due=DUE, reason="r", requested_at=NOW, requested_by=LEAD
)
LATER = DUE + timedelta(days=30)

Check = Callable[[TaskState], None]
CASES: list[tuple[str, dict[str, object], Check, type[LifecycleError]]] = [
    (
        "accept in progress",
        IN_PROGRESS,
        lambda s: lifecycle.check_accept(s, LEAD_ACTOR),
        WrongStageError,
    ),
    (
        "accept awaiting reassignment",
        {"awaiting_reassignment": True},
        lambda s: lifecycle.check_accept(s, LEAD_ACTOR),
        WrongStageError,
    ),
    (
        "accept by another unit",
        {},
        lambda s: lifecycle.check_accept(s, unit("市财政局")),
        ActorNotAllowedError,
    ),
    (
        "refuse without a reason",
        {},
        lambda s: lifecycle.check_refuse(s, LEAD_ACTOR, " "),
        InvalidActionError,
    ),
    (
        "progress out of range",
        IN_PROGRESS,
        lambda s: lifecycle.check_progress(s, LEAD_ACTOR, 101, "t"),
        InvalidActionError,
    ),
    (
        "progress going back",
        {**IN_PROGRESS, "progress_percent": 50},
        lambda s: lifecycle.check_progress(s, LEAD_ACTOR, 40, "t"),
        InvalidActionError,
    ),
    (
        "progress with a NUL",
        IN_PROGRESS,
        lambda s: lifecycle.check_progress(s, LEAD_ACTOR, 10, "a\x00b"),
        InvalidActionError,
    ),
    (
        "submit by the coordinator",
        IN_PROGRESS,
        lambda s: lifecycle.check_submit(s, COORDINATOR, "done"),
        ActorNotAllowedError,
    ),
    (
        "submit without a summary",
        IN_PROGRESS,
        lambda s: lifecycle.check_submit(s, LEAD_ACTOR, ""),
        InvalidActionError,
    ),
    (
        "sign off by a stranger",
        SIGNOFF,
        lambda s: lifecycle.check_signoff(s, unit("市公安局"), True, None),
        ActorNotAllowedError,
    ),
    (
        "sign off twice",
        {"stage": Stage.SIGNOFF, "signoffs": [Signoff(unit=COOPERATING[0], decision="approved")]},
        lambda s: lifecycle.check_signoff(s, unit(COOPERATING[0]), True, None),
        WrongStageError,
    ),
    (
        "review in progress",
        IN_PROGRESS,
        lambda s: lifecycle.check_review(s, COORDINATOR, True, None),
        WrongStageError,
    ),
    (
        "review by a unit",
        {"stage": Stage.REVIEW},
        lambda s: lifecycle.check_review(s, LEAD_ACTOR, True, None),
        ActorNotAllowedError,
    ),
    (
        "extension to an earlier date",
        IN_PROGRESS,
        lambda s: lifecycle.check_request_extension(s, LEAD_ACTOR, DUE, "r", NOW),
        InvalidActionError,
    ),
    (
        "extension past the limit",
        {**IN_PROGRESS, "extensions_granted": 2},
        lambda s: lifecycle.check_request_extension(s, LEAD_ACTOR, LATER, "r", NOW),
        InvalidActionError,
    ),
    (
        "extension while one waits",
        {**IN_PROGRESS, "pending_extension": PENDING},
        lambda s: lifecycle.check_request_extension(s, LEAD_ACTOR, LATER, "r", NOW),
        InvalidActionError,
    ),
    (
        "decide with nothing waiting",
        IN_PROGRESS,
        lambda s: lifecycle.check_decide_extension(s, COORDINATOR, True, ""),
        InvalidActionError,
    ),
    (
        "reassign to the lead",
        IN_PROGRESS,
        lambda s: lifecycle.check_reassign(s, COORDINATOR, LEAD),
        InvalidActionError,
    ),
    (
        "cancel a closed task",
        {"stage": Stage.CANCELLED},
        lambda s: lifecycle.check_cancel(s, COORDINATOR, "r"),
        WrongStageError,
    ),
    (
        "cancel by a unit",
        {},
        lambda s: lifecycle.check_cancel(s, LEAD_ACTOR, "r"),
        ActorNotAllowedError,
    ),
]


@pytest.mark.parametrize(
    ("changes", "check", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_refusal_has_its_kind(
    changes: dict[str, object], check: Check, expected: type[LifecycleError]
) -> None:
    state = _state(**changes)
    with pytest.raises(LifecycleError) as refused:
        check(state)
    assert type(refused.value) is expected
    if isinstance(refused.value, WrongStageError):
        assert refused.value.stage is state.stage


def test_a_wrong_stage_names_the_stage() -> None:
    with pytest.raises(WrongStageError) as refused:
        lifecycle.check_submit(_state(), LEAD_ACTOR, "done")
    assert refused.value.stage is Stage.ASSIGNED
    assert str(refused.value).startswith("the task is assigned (交办)")


def test_no_check_raises_the_bare_base_class() -> None:
    """Every refusal is one of the three kinds, so a caller can always tell which."""
    tree = ast.parse(inspect.getsource(lifecycle))
    bare = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Raise)
        and isinstance(node.exc, ast.Call)
        and isinstance(node.exc.func, ast.Name)
        and node.exc.func.id == "LifecycleError"
    ]
    assert bare == []


def test_every_kind_is_a_lifecycle_error() -> None:
    for kind in (WrongStageError, ActorNotAllowedError, InvalidActionError):
        assert issubclass(kind, LifecycleError)
        assert issubclass(kind, ValueError)


def test_an_extension_is_bounded() -> None:
    """A request to move the due date by more than three years is refused as invalid (a
    date such as 9999-12-31 would break the calendar arithmetic after approval)."""
    state = _state(**IN_PROGRESS)
    lifecycle.check_request_extension(state, LEAD_ACTOR, DUE + lifecycle.MAX_EXTENSION, "r", NOW)
    with pytest.raises(lifecycle.InvalidActionError, match="at most"):
        lifecycle.check_request_extension(state, LEAD_ACTOR, date(9999, 12, 31), "r", NOW)
