"""The caller's side of TaskWorkflow: the one place that starts, revises, withdraws, acts on
and reads task workflows.

The import, the simulator, the command line, the API and the tests go through these
functions, so a workflow id, an update name or an error is spelled in one place. Temporal's
errors come back as :class:`TaskServiceError` subclasses that say what happened in the
task's terms (wrong stage, not allowed, invalid, key reused, gone, Temporal unreachable).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.access import ActionKind
from domain.lifecycle import Policy
from domain.plan import PlanTask
from runtime.errors import DubanError
from runtime.payload_codec import encrypts
from workflows.recurring import RecurringTaskInput, RecurringTaskWorkflow
from workflows.task import TaskWorkflow
from workflows.task_contract import (
    Accept,
    ActionResult,
    Cancel,
    DecideExtension,
    Reassign,
    Refuse,
    ReportProgress,
    RequestExtension,
    Review,
    SignOff,
    Submit,
    TaskSnapshot,
    TaskWorkflowInput,
    Withdrawal,
    action_update_id,
    task_workflow_id,
)

# An update needs a worker to run it; without one it would wait for ever.
UPDATE_TIMEOUT_SECONDS = 30.0

# Each action: the workflow update that carries it and the payload it takes.
ACTION_UPDATES: dict[ActionKind, tuple[str, type[BaseModel]]] = {
    ActionKind.ACCEPT: ("accept", Accept),
    ActionKind.REFUSE: ("refuse", Refuse),
    ActionKind.PROGRESS: ("report_progress", ReportProgress),
    ActionKind.SUBMIT: ("submit", Submit),
    ActionKind.SIGN_OFF: ("sign_off", SignOff),
    ActionKind.REVIEW: ("review", Review),
    ActionKind.REQUEST_EXTENSION: ("request_extension", RequestExtension),
    ActionKind.DECIDE_EXTENSION: ("decide_extension", DecideExtension),
    ActionKind.REASSIGN: ("reassign", Reassign),
    ActionKind.CANCEL: ("cancel", Cancel),
}


class TaskServiceError(DubanError):
    """A task workflow did not do what was asked; ``code`` names why, for the API."""

    code = "task_error"


class TaskActionRefusedError(TaskServiceError):
    """The workflow's validator refused the action: nothing was recorded."""

    code = "action_refused"

    def __init__(self, message: str, stage: str | None = None) -> None:
        super().__init__(message)
        self.stage = stage


class WrongStageError(TaskActionRefusedError):
    code = "wrong_stage"


class ActionNotAllowedError(TaskActionRefusedError):
    code = "forbidden"


class InvalidActionError(TaskActionRefusedError):
    code = "invalid_action"


class IdempotencyKeyReusedError(TaskActionRefusedError):
    code = "idempotency_key_reused"


class TaskGoneError(TaskServiceError):
    """No open workflow under this id: never started, or closed."""

    code = "task_closed"


class TemporalUnavailableError(TaskServiceError):
    """Temporal did not answer, or no worker ran the update in time."""

    code = "temporal_unavailable"


_REFUSALS: dict[str, type[TaskActionRefusedError]] = {
    "WrongStageError": WrongStageError,
    "ActorNotAllowedError": ActionNotAllowedError,
    "InvalidActionError": InvalidActionError,
    "IdempotencyKeyReused": IdempotencyKeyReusedError,
}


def _refusal(error: WorkflowUpdateFailedError) -> TaskActionRefusedError:
    cause = error.cause
    if not isinstance(cause, ApplicationError):
        return TaskActionRefusedError(str(cause or error))
    stage: str | None = None
    if cause.details and isinstance(cause.details[0], dict):
        stage = cause.details[0].get("stage")
    refusal = _REFUSALS.get(cause.type or "", TaskActionRefusedError)
    return refusal(cause.message, stage)


def _unreachable(error: BaseException) -> TemporalUnavailableError:
    text = str(error).strip().splitlines()
    return TemporalUnavailableError(
        f"Temporal does not answer ({text[0] if text else type(error).__name__})"
    )


_UNREACHABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.UNKNOWN,
}
_GONE = {RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION}


async def _update(
    client: Client,
    workflow_id: str,
    update: str,
    argument: object,
    update_id: str | None,
    result_type: type | None = None,
) -> Any:
    """Run one update and translate what can go wrong into the task's terms."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id)
    try:
        return await asyncio.wait_for(
            handle.execute_update(update, argument, id=update_id, result_type=result_type),
            timeout=UPDATE_TIMEOUT_SECONDS,
        )
    except TimeoutError:
        raise TemporalUnavailableError(
            f"no worker applied the {update} of {workflow_id} within "
            f"{UPDATE_TIMEOUT_SECONDS:.0f} s; is `duban worker` running?"
        ) from None
    except WorkflowUpdateFailedError as error:
        raise _refusal(error) from None
    except RPCTimeoutOrCancelledError as error:
        raise _unreachable(error) from None
    except RPCError as error:
        if error.status in _GONE:
            raise TaskGoneError(f"task {workflow_id} is closed or was never started") from None
        if error.status in _UNREACHABLE:
            raise _unreachable(error) from None
        raise


# ---------------------------------------------------------------- starting and re-import


async def start_task(
    client: Client,
    *,
    task_queue: str,
    plan_id: str,
    task: PlanTask,
    until_year: int,
    not_before: date | None,
    policy: Policy | None = None,
    due_at: list[datetime] | None = None,
    search_attributes: bool = True,
    clock_offset: timedelta = timedelta(0),
    continue_as_new_after_events: int | None = None,
) -> WorkflowHandle[Any, Any]:
    """Start the task's workflow by its kind: a RecurringTaskWorkflow for a recurring task
    (one occurrence per period, up to ``until_year``), a TaskWorkflow otherwise.

    Raises WorkflowAlreadyStartedError when a workflow of this id is open already (an import
    that stopped before it recorded the start): the caller revises it instead.
    """
    common: dict[str, Any] = {
        "plan_id": plan_id,
        "task": task,
        "policy": policy,
        "search_attributes": search_attributes,
        # An encrypting client keeps the unit out of Temporal's index too.
        "index_lead_unit": not encrypts(client.data_converter),
        "clock_offset": clock_offset,
    }
    workflow: Any
    if task.recurrence is not None:
        workflow = RecurringTaskWorkflow.run
        request: BaseModel = RecurringTaskInput(
            **common, until_year=until_year, not_before=not_before
        )
    else:
        workflow = TaskWorkflow.run
        if continue_as_new_after_events is not None:
            common["continue_as_new_after_events"] = continue_as_new_after_events
        request = TaskWorkflowInput(**common, due_at=due_at)
    handle: WorkflowHandle[Any, Any] = await client.start_workflow(
        workflow,
        request,
        id=task_workflow_id(plan_id, task.id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    return handle


async def revise_task(client: Client, workflow_id: str, task: PlanTask, fingerprint: str) -> bool:
    """Give the workflow the task's new reading, once per reading (the fingerprint is the
    update id). False when the workflow refused it or is gone (closed, withdrawn)."""
    try:
        await _update(client, workflow_id, "revise", task, f"revise-{fingerprint}")
    except (TaskActionRefusedError, TaskGoneError):
        return False
    return True


async def withdraw_task(client: Client, workflow_id: str, reason: str) -> bool:
    """The task left its plan: cancel it (once). False when it was closed already."""
    try:
        await _update(client, workflow_id, "withdraw", Withdrawal(reason=reason), "withdraw")
    except (TaskActionRefusedError, TaskGoneError):
        return False
    return True


# ---------------------------------------------------------------- actions and reads


async def send_action(
    client: Client,
    workflow_id: str,
    kind: ActionKind,
    action: BaseModel,
    idempotency_key: str | None = None,
) -> ActionResult:
    """Apply one lifecycle action. Under an idempotency key it applies once: a retry gets
    the first answer, the same key with another request is refused (IdempotencyKeyReused)."""
    update, payload_type = ACTION_UPDATES[kind]
    if not isinstance(action, payload_type):
        raise TypeError(f"{kind} takes {payload_type.__name__}, not {type(action).__name__}")
    update_id = action_update_id(idempotency_key, update, action) if idempotency_key else None
    result: ActionResult = await _update(
        client, workflow_id, update, action, update_id, result_type=ActionResult
    )
    return result


async def read_snapshot(client: Client, workflow_id: str) -> TaskSnapshot:
    """The task's whole state as its workflow holds it now (a query: needs a worker)."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id)
    try:
        snapshot: TaskSnapshot = await handle.query(TaskWorkflow.snapshot)
    except WorkflowQueryFailedError as error:
        raise TaskServiceError(f"task {workflow_id} could not answer: {error}") from None
    except RPCTimeoutOrCancelledError as error:
        raise _unreachable(error) from None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise TaskGoneError(f"no task workflow {workflow_id}") from None
        if error.status in _UNREACHABLE:
            raise _unreachable(error) from None
        raise
    return snapshot
