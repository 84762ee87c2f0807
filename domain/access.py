"""Who may see and do what: the API's authorisation rules, decided from the caller's token.

Self-hosted Temporal authorises every call, so these rules are the only guard of who acts on
which task. They are pure: a :class:`Principal` (what the token says) against a
:class:`TaskAccess` (who the task's units are now, read from the projection).

* A unit (单位) sees the tasks it leads (牵头单位) or cooperates on (配合单位); it acts as lead
  only on tasks it leads, and signs off only for itself.
* A coordinator (督查室) sees and acts on the tasks of its plans (or of every plan):
  review, extensions, reassignment, cancellation, import.
* An admin manages tokens and reads everything, including the audit log, and acts on no task.

A task the caller may not see is reported as unknown (404), so its existence does not leak;
a visible task and a forbidden action is a 403.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from domain.lifecycle import Actor

Role = Literal["unit", "coordinator", "admin"]


class ActionKind(StrEnum):
    """Every lifecycle action the API offers, named as its route is."""

    ACCEPT = "accept"
    REFUSE = "refuse"
    PROGRESS = "progress"
    SUBMIT = "submit"
    SIGN_OFF = "sign-off"
    REVIEW = "review"
    REQUEST_EXTENSION = "request-extension"
    DECIDE_EXTENSION = "decide-extension"
    REASSIGN = "reassign"
    CANCEL = "cancel"


LEAD_ACTIONS = frozenset(
    {
        ActionKind.ACCEPT,
        ActionKind.REFUSE,
        ActionKind.PROGRESS,
        ActionKind.SUBMIT,
        ActionKind.REQUEST_EXTENSION,
    }
)
COOPERATING_ACTIONS = frozenset({ActionKind.SIGN_OFF})
COORDINATOR_ACTIONS = frozenset(
    {ActionKind.REVIEW, ActionKind.DECIDE_EXTENSION, ActionKind.REASSIGN, ActionKind.CANCEL}
)


@dataclass(frozen=True)
class Principal:
    """The caller, as its token says: never as the request body says."""

    token_id: str
    role: Role
    name: str
    unit: str | None = None
    plans: tuple[str, ...] | None = None  # a coordinator's plans; None: every plan

    def covers_plan(self, plan_id: str) -> bool:
        """A coordinator's (or admin's) reach over a plan; units reach plans through tasks."""
        if self.role == "admin":
            return True
        if self.role != "coordinator":
            return False
        return self.plans is None or plan_id in self.plans

    @property
    def actor(self) -> Actor:
        """The actor the workflow is told: from the token, with its id for the record."""
        if self.role == "unit":
            return Actor(role="unit", unit=self.unit, name=f"{self.name} ({self.token_id})")
        return Actor(role="coordinator", name=f"{self.name} ({self.token_id})")


@dataclass(frozen=True)
class TaskAccess:
    """A task's plan and its units as the projection holds them now."""

    plan_id: str
    lead_unit: str | None
    cooperating_units: Sequence[str]


class AccessDeniedError(Exception):
    """The caller sees the task but may not do this (403)."""


def can_see(principal: Principal, task: TaskAccess) -> bool:
    if principal.role == "unit":
        return principal.unit == task.lead_unit or principal.unit in task.cooperating_units
    return principal.covers_plan(task.plan_id)


def require_action(principal: Principal, task: TaskAccess, action: ActionKind) -> None:
    """Raise AccessDeniedError unless the caller may take ``action`` on a task it can see."""
    if action in COORDINATOR_ACTIONS:
        if principal.role != "coordinator" or not principal.covers_plan(task.plan_id):
            raise AccessDeniedError(
                f"only a coordinator of plan {task.plan_id} may {action} a task"
            )
        return
    if principal.role != "unit":
        raise AccessDeniedError(f"only the task's unit may {action}; a {principal.role} may not")
    if action in LEAD_ACTIONS and principal.unit != task.lead_unit:
        raise AccessDeniedError(
            f"only the lead unit (牵头单位) {task.lead_unit or '(none assigned)'} may {action}"
        )
    if action in COOPERATING_ACTIONS and principal.unit not in task.cooperating_units:
        raise AccessDeniedError(
            f"{principal.unit} is not a cooperating unit (配合单位) of this task"
        )


def require_plan_coordinator(principal: Principal, plan_id: str) -> None:
    """Importing a plan: a coordinator whose plans include it (or every plan)."""
    if principal.role != "coordinator" or not principal.covers_plan(plan_id):
        raise AccessDeniedError(f"only a coordinator of plan {plan_id} may import it")


def require_admin(principal: Principal) -> None:
    if principal.role != "admin":
        raise AccessDeniedError("only an admin may manage tokens")


def require_audit_reader(principal: Principal) -> None:
    if principal.role not in {"admin", "coordinator"}:
        raise AccessDeniedError("only coordinators and admins may read the audit log")
