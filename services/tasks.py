"""The caller's side of TaskWorkflow: the one place that starts, revises, withdraws, acts on
and reads task workflows.

The import, the simulator, the command line, the API and the tests go through these
functions, so a workflow id, an update name or an error is spelled in one place. Temporal's
errors come back as :class:`TaskServiceError` subclasses that say what happened in the
task's terms (wrong stage, not allowed, invalid, key reused, gone, Temporal unreachable).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.access import ActionKind
from domain.lifecycle import Policy, Stage
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

# An update needs a worker to run it; without one it would wait for ever. The default of
# DUBAN_TEMPORAL_UPDATE_TIMEOUT_SECONDS.
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


class UnchangedRevisionError(TaskActionRefusedError):
    """The workflow holds this very reading already: a revision would change nothing."""

    code = "unchanged_revision"


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
    "UnchangedRevision": UnchangedRevisionError,
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
    update_id: str,
    result_type: type | None = None,
    timeout: float = UPDATE_TIMEOUT_SECONDS,
) -> Any:
    """Run one update and translate what can go wrong into the task's terms."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id)
    no_worker = TemporalUnavailableError(
        f"no worker applied the {update} of {workflow_id} within {timeout:g} s "
        "(DUBAN_TEMPORAL_UPDATE_TIMEOUT_SECONDS); is `duban worker` running?"
    )
    try:
        return await asyncio.wait_for(
            handle.execute_update(update, argument, id=update_id, result_type=result_type),
            timeout=timeout,
        )
    except TimeoutError:
        raise no_worker from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        # Temporal answered, but its own wait for a worker to take the update ran out first.
        raise no_worker from None
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
    new_run: bool = False,
) -> WorkflowHandle[Any, Any]:
    """Start the task's workflow by its kind: a RecurringTaskWorkflow for a recurring task
    (one occurrence per period, up to ``until_year``), a TaskWorkflow otherwise.

    Raises WorkflowAlreadyStartedError when a workflow of this id is open already (an import
    that stopped before it recorded the start): the caller revises it instead. Unless
    ``new_run`` (a task whose earlier run its plan's import withdrew, now listed again), a
    run of the id that closed normally refuses the start the same way, so a task that closed
    by itself (办结, 撤销) is never started, escalated and completed a second time. A run that
    ended abnormally (terminated, failed) does not: the task starts afresh.
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
        id_reuse_policy=(
            WorkflowIDReusePolicy.ALLOW_DUPLICATE
            if new_run
            else WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
        ),
    )
    return handle


@dataclass(frozen=True)
class TaskClosed:
    """The task's workflow is closed, or closing, in ``stage`` (``completed``,
    ``cancelled``, or a run status such as ``terminated``): it takes nothing more."""

    stage: str

    @property
    def label(self) -> str:
        """The stage as a coordinator reads it: 办结, 撤销, or the run's status."""
        try:
            return Stage(self.stage).label
        except ValueError:
            return self.stage


async def revise_task(
    client: Client,
    workflow_id: str,
    task: PlanTask,
    fingerprint: str,
    *,
    timeout: float = UPDATE_TIMEOUT_SECONDS,
) -> Literal["revised", "unchanged"] | TaskClosed:
    """Give the workflow the task's new reading, once per reading (the fingerprint is the
    update id). "unchanged" when it holds that reading already (nothing is recorded);
    TaskClosed when the task is closed (办结, 撤销) and takes no revision."""
    try:
        await _update(client, workflow_id, "revise", task, f"revise-{fingerprint}", timeout=timeout)
    except UnchangedRevisionError:
        return "unchanged"
    except WrongStageError as closing:
        return TaskClosed(closing.stage or await _closed_stage(client, workflow_id))
    except TaskGoneError:
        return TaskClosed(await _closed_stage(client, workflow_id))
    return "revised"


async def withdraw_task(
    client: Client, workflow_id: str, reason: str, *, timeout: float = UPDATE_TIMEOUT_SECONDS
) -> Literal["withdrawn"] | TaskClosed:
    """The task left its plan: cancel it (once). TaskClosed when it was closed already."""
    try:
        await _update(
            client, workflow_id, "withdraw", Withdrawal(reason=reason), "withdraw", timeout=timeout
        )
    except WrongStageError as closing:
        return TaskClosed(closing.stage or await _closed_stage(client, workflow_id))
    except TaskGoneError:
        return TaskClosed(await _closed_stage(client, workflow_id))
    return "withdrawn"


# How long a withdrawn run may take to close (it records its last events first).
_CLOSING_SECONDS = 10.0


async def run_taken_back(client: Client, workflow_id: str) -> bool:
    """Whether the task's latest run is the one a withdrawal ended (撤销), so that the task,
    listed again, needs a new run. A run that is open, or closed otherwise (办结 after an
    import that was cut short had already started the new run), is the task's own: no
    second run is started beside it."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id)
    try:
        description = await asyncio.wait_for(handle.describe(), timeout=10)
    except (RPCTimeoutOrCancelledError, TimeoutError) as error:
        raise _unreachable(error) from None
    except RPCError as error:
        if error.status in _UNREACHABLE:
            raise _unreachable(error) from None
        if error.status == RPCStatusCode.NOT_FOUND:
            return True
        raise
    if description.status == WorkflowExecutionStatus.RUNNING:
        # A withdrawn run closes moments after the withdrawal (its last events recorded);
        # a run still open after that is the task's live one.
        try:
            await asyncio.wait_for(handle.result(follow_runs=False), timeout=_CLOSING_SECONDS)
        except TimeoutError:
            return False
        except WorkflowFailureError:
            return True
    elif description.status != WorkflowExecutionStatus.COMPLETED:
        return True  # terminated or failed: the task starts afresh anyway
    return await _closed_stage(client, workflow_id) == Stage.CANCELLED.value


async def _closed_stage(client: Client, workflow_id: str) -> str:
    """How the task's latest run closed: its stage for a TaskWorkflow that returned, the
    run's status for one ended from outside (``terminated``), ``closed`` otherwise (a
    recurring task whose occurrences all ended, or no run found)."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id)
    try:
        description = await asyncio.wait_for(handle.describe(), timeout=10)
        status = description.status
        if status is not None and status not in (
            WorkflowExecutionStatus.COMPLETED,
            WorkflowExecutionStatus.RUNNING,
        ):
            return status.name.lower()
        result = await asyncio.wait_for(handle.result(follow_runs=False), timeout=10)
    except (RPCTimeoutOrCancelledError, TimeoutError) as error:
        raise _unreachable(error) from None
    except RPCError as error:
        if error.status in _UNREACHABLE:
            raise _unreachable(error) from None
        if error.status == RPCStatusCode.NOT_FOUND:
            return "closed"
        raise
    if isinstance(result, dict) and isinstance(result.get("state"), dict):
        return str(result["state"].get("stage", "closed"))
    return "closed"


# ---------------------------------------------------------------- actions and reads


async def send_action(
    client: Client,
    workflow_id: str,
    kind: ActionKind,
    action: BaseModel,
    idempotency_key: str,
    *,
    timeout: float = UPDATE_TIMEOUT_SECONDS,
) -> ActionResult:
    """Apply one lifecycle action, once: a retry under the same idempotency key gets the
    first answer, the same key with another request is refused (IdempotencyKeyReused).

    The key is required. Without one, Temporal would give each send its own update id, so a
    caller that retries after a lost answer would apply the action twice. A caller makes
    one key per logical action and reuses it on every retry of that action."""
    update, payload_type = ACTION_UPDATES[kind]
    if not isinstance(action, payload_type):
        raise TypeError(f"{kind} takes {payload_type.__name__}, not {type(action).__name__}")
    if not idempotency_key.strip():
        raise ValueError("an action needs an idempotency key (one per logical action)")
    update_id = action_update_id(idempotency_key, update, action)
    result: ActionResult = await _update(
        client, workflow_id, update, action, update_id, result_type=ActionResult, timeout=timeout
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
