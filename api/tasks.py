"""Tasks: the list and the detail (from PostgreSQL), and one route per lifecycle action.

A task is addressed as ``/api/v1/tasks/{plan_id}/{task_key}``: its workflow id, where the
key of a recurring task's occurrence carries its period (``7@2018``). Each action checks,
before anything reaches Temporal, that the caller sees the task (else 404) and may take the
action (else 403), then sends the workflow update with the actor from the token and the
Idempotency-Key in its update id.
"""

# No ``from __future__ import annotations``: the action routes are made in a loop, and
# FastAPI must see each route's body model as a class, not as a string to look up.
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel

from api import schemas
from api.deps import Caller, IdempotencyKey, body_digest, connection, dependencies_of, once_per_key
from api.problems import COMMON_PROBLEMS, MUTATION_PROBLEMS, Problem, problem_responses
from domain.access import ActionKind, Principal, can_see
from domain.lifecycle import Stage
from services import task_actions
from services import tasks as task_service
from services.units import UnknownUnitError
from store import task_reads
from workflows.task_contract import task_workflow_id

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

PlanId = Annotated[str, Path(min_length=1, max_length=200, description="the plan's id")]
TaskKey = Annotated[
    str,
    Path(min_length=1, max_length=200, description="the task id; `7@2018` for an occurrence"),
]


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "task_key": row["workflow_id"].split("/", 1)[1]}


@router.get(
    "",
    summary="Tasks the caller may see, least time left first",
    response_model=schemas.TaskPage,
    responses=problem_responses(400, *COMMON_PROBLEMS),
)
async def list_tasks(
    request: Request,
    principal: Caller,
    plan: Annotated[str | None, Query(max_length=200)] = None,
    unit: Annotated[str | None, Query(max_length=200, description="lead or cooperating")] = None,
    role: Annotated[
        Literal["lead", "cooperating"] | None,
        Query(description="with `unit` (or for a unit's own token): which part it plays"),
    ] = None,
    stage: Stage | None = None,
    light: Literal["red", "yellow", "green", "none"] | None = None,
    overdue: bool | None = None,
    due_before: Annotated[date | None, Query(description="next due date on or before")] = None,
    q: Annotated[str | None, Query(max_length=100, description="words in the task text")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    filters = task_reads.TaskFilter(
        plan=plan,
        unit=unit,
        role=role,
        stage=stage.value if stage else None,
        light=light,
        overdue=overdue,
        due_before=due_before,
        text=q.strip() if q and q.strip() else None,
    )
    limit = min(limit, dependencies_of(request).limits.max_page_size)
    try:
        async with connection(request) as conn:
            rows, next_cursor = await task_reads.list_tasks(
                conn, principal, filters, limit=limit, cursor=cursor
            )
    except task_reads.CursorError as error:
        raise Problem(400, "invalid_cursor", str(error)) from None
    return {"items": [_summary(row) for row in rows], "next_cursor": next_cursor}


@router.get(
    "/{plan_id}/{task_key}",
    summary="One task with its whole timeline from the event log",
    response_model=schemas.TaskDetail,
    responses=problem_responses(404, *COMMON_PROBLEMS),
)
async def task_detail(
    request: Request, principal: Caller, plan_id: PlanId, task_key: TaskKey
) -> dict[str, Any]:
    workflow_id = task_workflow_id(plan_id, task_key)
    async with connection(request) as conn:
        access = await task_reads.task_access(conn, workflow_id)
        if access is None or not can_see(principal, access):
            raise _not_found(plan_id, task_key)
        detail = await task_reads.task_detail(conn, workflow_id)
    if detail is None:
        raise _not_found(plan_id, task_key)
    return _summary(detail)


def _not_found(plan_id: str, task_key: str) -> Problem:
    return Problem(404, "not_found", f"no task {task_key} in plan {plan_id} that you can see")


@dataclass(frozen=True)
class _Target:
    """A task the caller may take the action on, and the caller."""

    workflow_id: str
    plan_id: str
    task_key: str
    principal: Principal


def _target_of(action: ActionKind) -> Any:
    """The dependency that finds the task and checks the caller's right to ``action`` on it;
    it runs before the body is read, so a stranger learns nothing from a 422."""

    async def target(
        request: Request, principal: Caller, plan_id: PlanId, task_key: TaskKey
    ) -> _Target:
        request.state.audit = {"plan_id": plan_id, "task_id": task_key, "action": str(action)}
        workflow_id = task_workflow_id(plan_id, task_key)
        try:
            async with connection(request) as conn:
                await task_actions.authorize(conn, principal, workflow_id, action)
        except task_actions.TaskNotVisibleError:
            raise _not_found(plan_id, task_key) from None
        except task_actions.ActionForbiddenError as error:
            raise Problem(403, "forbidden", error.message) from None
        return _Target(
            workflow_id=workflow_id, plan_id=plan_id, task_key=task_key, principal=principal
        )

    return target


_PROBLEM_OF_REFUSAL: dict[type[task_service.TaskActionRefusedError], tuple[int, str]] = {
    task_service.WrongStageError: (409, "wrong_stage"),
    task_service.ActionNotAllowedError: (403, "forbidden"),
    task_service.InvalidActionError: (422, "invalid_action"),
    task_service.IdempotencyKeyReusedError: (409, "idempotency_key_reused"),
}


async def _act(
    request: Request,
    target: _Target,
    kind: ActionKind,
    body: BaseModel,
    key: str,
) -> tuple[int, dict[str, Any]]:
    deps = dependencies_of(request)
    try:
        result = await task_actions.perform(
            deps.pool,
            deps.temporal,
            target.principal,
            target.workflow_id,
            kind,
            body.model_dump(mode="json"),
            key,
        )
    except UnknownUnitError as error:
        raise Problem(422, "unknown_unit", error.message) from None
    except task_service.TaskActionRefusedError as refusal:
        status, code = _PROBLEM_OF_REFUSAL.get(type(refusal), (422, "invalid_action"))
        raise Problem(status, code, refusal.message, stage=refusal.stage) from None
    answer = schemas.ActionResponse(
        workflow_id=target.workflow_id,
        plan_id=target.plan_id,
        task_key=target.task_key,
        stage=result.stage,
        seq=result.seq,
        message=result.message,
    )
    return 200, answer.model_dump(mode="json")


_ACTION_BODIES: dict[ActionKind, tuple[type[BaseModel], str]] = {
    ActionKind.ACCEPT: (schemas.AcceptBody, "承办: the lead unit takes the task on"),
    ActionKind.REFUSE: (schemas.RefuseBody, "退回交办: the lead unit refuses, with a reason"),
    ActionKind.PROGRESS: (schemas.ProgressBody, "The lead unit reports progress"),
    ActionKind.SUBMIT: (schemas.SubmitBody, "The lead unit submits the milestone as done"),
    ActionKind.SIGN_OFF: (schemas.SignOffBody, "会签: a cooperating unit approves or objects"),
    ActionKind.REVIEW: (schemas.ReviewBody, "审核: the coordinator approves or returns"),
    ActionKind.REQUEST_EXTENSION: (schemas.RequestExtensionBody, "The lead unit asks for time"),
    ActionKind.DECIDE_EXTENSION: (
        schemas.DecideExtensionBody,
        "The coordinator grants or rejects an extension",
    ),
    ActionKind.REASSIGN: (schemas.ReassignBody, "The coordinator gives the lead to a unit"),
    ActionKind.CANCEL: (schemas.CancelBody, "撤销: the coordinator cancels the task"),
}


def _action_route(kind: ActionKind, body_type: type[BaseModel], summary: str) -> None:
    optional_body = not body_type.model_fields

    async def act(
        request: Request,
        target: Annotated[_Target, Depends(_target_of(kind))],
        key: IdempotencyKey,
        body: Annotated[body_type | None, Body()] = None,  # type: ignore[valid-type]
    ) -> Any:
        if body is None:
            if not optional_body:
                raise Problem(422, "invalid_payload", "this action needs a JSON body")
            body = body_type()
        return await once_per_key(
            request,
            target.principal,
            key,
            body_digest(body.model_dump(mode="json")),
            lambda: _act(request, target, kind, body, key),
        )

    act.__name__ = f"task_{kind.value.replace('-', '_')}"
    router.add_api_route(
        f"/{{plan_id}}/{{task_key}}/{kind.value}",
        act,
        methods=["POST"],
        summary=summary,
        response_model=schemas.ActionResponse,
        responses=problem_responses(403, 404, *MUTATION_PROBLEMS),
        openapi_extra=None if optional_body else {"requestBody": {"required": True}},
    )


for _kind, (_body, _summary_text) in _ACTION_BODIES.items():
    _action_route(_kind, _body, _summary_text)
