"""A caller acting on a task: the one path the API's routes and the board's forms share.

First the check, before anything reaches Temporal: the caller must see the task (else
:class:`TaskNotVisibleError`, which both front ends answer as "no such task", so that a
task's existence does not leak) and may take the action (else
:class:`ActionForbiddenError`). Then the action goes to the workflow with the actor taken
from the caller's token, never from the request, under an update id made from the token
and the caller's idempotency key: a retried request, or a form sent twice, applies once.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from temporalio.client import Client

from domain.access import AccessDeniedError, ActionKind, Principal, TaskAccess, can_see
from domain.access import require_action as require_allowed
from runtime.errors import DubanError
from services import tasks as task_service
from services.units import resolve_unit
from store import task_reads
from store.db import Connection
from workflows.task_contract import ActionResult


class TaskNotVisibleError(DubanError):
    """No such task, or not one the caller may see: the same answer for both."""

    code = "not_found"


class ActionForbiddenError(DubanError):
    """The caller sees the task but may not take this action on it."""

    code = "forbidden"


async def authorize(
    connection: Connection, principal: Principal, workflow_id: str, action: ActionKind | None
) -> TaskAccess:
    """The task's access record if the caller sees it and (unless ``action`` is None) may
    take ``action`` on it."""
    access = await task_reads.task_access(connection, workflow_id)
    if access is None or not can_see(principal, access):
        plan_id, _, task_key = workflow_id.partition("/")
        raise TaskNotVisibleError(f"no task {task_key} in plan {plan_id} that you can see")
    if action is not None:
        try:
            require_allowed(principal, access, action)
        except AccessDeniedError as error:
            raise ActionForbiddenError(str(error)) from None
    return access


async def perform(
    pool: asyncpg.Pool,
    temporal: Client,
    principal: Principal,
    workflow_id: str,
    kind: ActionKind,
    content: dict[str, Any],
    idempotency_key: str,
) -> ActionResult:
    """Apply an action the caller was authorised for (:func:`authorize`). ``content`` is
    the action's body as the API's schema validated it; the actor is added here.

    Raises services.tasks.TaskActionRefusedError (and its subclasses) when the lifecycle
    refuses it, with the lifecycle's reason; a task closed meanwhile is a WrongStageError
    naming its stage; services.units.UnknownUnitError for a reassignment to a unit nobody
    knows."""
    content = dict(content)
    if kind is ActionKind.REASSIGN:
        async with pool.acquire() as connection:
            content["unit"] = await resolve_unit(connection, content["unit"])
    _, payload_type = task_service.ACTION_UPDATES[kind]
    action = payload_type.model_validate({**content, "actor": principal.actor})
    try:
        return await task_service.send_action(
            temporal, workflow_id, kind, action, f"{principal.token_id}:{idempotency_key}"
        )
    except task_service.TaskGoneError:
        async with pool.acquire() as connection:
            detail = await task_reads.task_detail(connection, workflow_id)
        stage = detail["stage"] if detail else None
        raise task_service.WrongStageError(
            f"the task is {stage or 'closed'}; it takes no action", stage
        ) from None
