"""The authorisation rules and the status light, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.access import (
    AccessDeniedError,
    ActionKind,
    Principal,
    TaskAccess,
    can_see,
    require_action,
    require_plan_coordinator,
)
from domain.lifecycle import MilestoneState, Stage, TaskState
from tests.support.lifecycle import make_task

TASK = TaskAccess(plan_id="p1", lead_unit="市信息办", cooperating_units=("市财政局",))
LEAD = Principal("t1", "unit", "lead", unit="市信息办")
HELPER = Principal("t2", "unit", "helper", unit="市财政局")
STRANGER = Principal("t3", "unit", "stranger", unit="市公安局")
COORDINATOR = Principal("t4", "coordinator", "督查室")
OTHER_PLAN = Principal("t5", "coordinator", "督查室", plans=("p2",))
ADMIN = Principal("t6", "admin", "ops")


def test_units_see_only_their_tasks_coordinators_their_plans() -> None:
    """Lead and cooperating units see the task, another unit does not; a coordinator of
    another plan does not either."""
    assert can_see(LEAD, TASK)
    assert can_see(HELPER, TASK)
    assert not can_see(STRANGER, TASK)
    assert can_see(COORDINATOR, TASK)
    assert can_see(ADMIN, TASK)
    assert not can_see(OTHER_PLAN, TASK)


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [
        (LEAD, {"accept", "refuse", "progress", "submit", "request-extension"}),
        (HELPER, {"sign-off"}),
        (COORDINATOR, {"review", "decide-extension", "reassign", "cancel"}),
        (OTHER_PLAN, set()),
        (ADMIN, set()),
        (STRANGER, set()),
    ],
)
def test_each_role_takes_only_its_own_actions(principal: Principal, allowed: set[str]) -> None:
    """Every action is allowed exactly to its role, and refused to everyone else."""
    for action in ActionKind:
        if action.value in allowed:
            require_action(principal, TASK, action)
        else:
            with pytest.raises(AccessDeniedError):
                require_action(principal, TASK, action)


def test_plan_import_needs_a_coordinator_of_that_plan() -> None:
    require_plan_coordinator(COORDINATOR, "anything")
    require_plan_coordinator(OTHER_PLAN, "p2")
    for principal in (OTHER_PLAN, ADMIN, LEAD):
        with pytest.raises(AccessDeniedError):
            require_plan_coordinator(principal, "p1")


def test_actor_comes_from_the_token() -> None:
    """The workflow is told the token's unit, and the token id for the record."""
    assert LEAD.actor.role == "unit"
    assert LEAD.actor.unit == "市信息办"
    assert "t1" in LEAD.actor.name
    assert COORDINATOR.actor.role == "coordinator"
    assert COORDINATOR.actor.unit is None


def test_status_light_turns_yellow_three_working_days_before() -> None:
    """green before the yellow instant, yellow from it, red once the due instant passed,
    none once closed."""
    due_at = datetime(2030, 6, 30, 16, tzinfo=UTC)
    yellow_from = due_at - timedelta(days=4)
    state = TaskState(
        plan_id="p1",
        task=make_task(),
        assigned_at=due_at - timedelta(days=60),
        milestones=[MilestoneState(index=0, due=due_at.date(), due_at=due_at)],
    )
    assert state.status_light(yellow_from - timedelta(seconds=1), yellow_from) == "green"
    assert state.status_light(yellow_from, yellow_from) == "yellow"
    assert state.status_light(due_at + timedelta(seconds=1), yellow_from) == "red"
    state.stage = Stage.COMPLETED
    assert state.status_light(due_at, yellow_from) == "none"
