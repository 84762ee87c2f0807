"""One task's page: its facts, its timeline, and a form for each action the signed-in
principal may take on it now.

Which forms are shown is decided with the API's own rules (domain.access.require_action)
and the task's stage, so a page offers only what can succeed; the post still goes the one
way every action goes (services.task_actions.authorize, then perform), which is the real
check. A posted form is read into exactly the API's body model (api.schemas), so the page
and the API accept the same things; a field the model refuses is shown beside the field
(422) with what the user typed, and nothing is sent.

A task the principal cannot see and a task that does not exist get the same 404 page, so
that an address does not tell whether a task exists.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from api import schemas
from api.deps import connection, dependencies_of, release_connection
from domain.access import AccessDeniedError, ActionKind, Principal, TaskAccess, require_action
from domain.lifecycle import Stage
from services import task_actions
from services import tasks as task_service
from services.units import UnknownUnitError
from store import task_reads
from web.inbox import PART_LABELS, RoundFacts, next_step, part_of, round_facts, time_left
from web.session import Form, User
from web.templating import flash, render, stage_label
from workflows.task_contract import task_workflow_id

router = APIRouter(include_in_schema=False)

# Each action's form reads into the API's body for that action.
ACTION_BODIES: dict[ActionKind, type[BaseModel]] = {
    ActionKind.ACCEPT: schemas.AcceptBody,
    ActionKind.REFUSE: schemas.RefuseBody,
    ActionKind.PROGRESS: schemas.ProgressBody,
    ActionKind.SUBMIT: schemas.SubmitBody,
    ActionKind.SIGN_OFF: schemas.SignOffBody,
    ActionKind.REVIEW: schemas.ReviewBody,
    ActionKind.REQUEST_EXTENSION: schemas.RequestExtensionBody,
    ActionKind.DECIDE_EXTENSION: schemas.DecideExtensionBody,
    ActionKind.REASSIGN: schemas.ReassignBody,
    ActionKind.CANCEL: schemas.CancelBody,
}

# The confirmation after each action: fixed texts, looked up by the action's name, so the
# page never repeats what an address says.
DONE_MESSAGES: dict[str, str] = {
    ActionKind.ACCEPT: "已签收，任务进入承办阶段。",
    ActionKind.REFUSE: "已退回交办，等待督查室重新交办。",
    ActionKind.PROGRESS: "进展已报告。",
    ActionKind.SUBMIT: "已提交完成，等待会签或审核。",
    ActionKind.SIGN_OFF: "会签意见已提交。",
    ActionKind.REVIEW: "审核意见已提交。",
    ActionKind.REQUEST_EXTENSION: "延期申请已提交，等待督查室决定。",
    ActionKind.DECIDE_EXTENSION: "延期申请已决定。",
    ActionKind.REASSIGN: "已重新交办。",
    ActionKind.CANCEL: "任务已撤销。",
}

# The form fields of each action, in the body model's names.
_TEXT_FIELDS = ("reason", "text", "summary", "unit", "new_due", "percent")
_LIST_FIELDS = ("evidence",)
_CHOICE_FIELDS = ("approve",)

EVENT_LABELS: dict[str, str] = {
    "assigned": "交办",
    "accepted": "签收",
    "refused": "退回交办",
    "progress": "报告进展",
    "submitted": "提交完成",
    "signed_off": "会签同意",
    "objected": "会签不同意",
    "deemed_consent": "逾期未会签，视为同意",
    "signoff_complete": "会签完成",
    "returned": "审核退回",
    "milestone_done": "节点完成",
    "completed": "办结",
    "extension_requested": "申请延期",
    "extension_granted": "同意延期",
    "extension_rejected": "不同意延期",
    "reassigned": "重新交办",
    "cancelled": "撤销",
    "revised": "计划修订",
    "reminder": "到期提醒",
    "urge": "催办",
    "escalation": "督办",
    "unaccepted_reminder": "未签收提醒",
    "progress_reminder": "进展报告提醒",
}

# How long a post waits for the projection to show its own action (see _await_projection).
PROJECTION_WAIT_SECONDS = 5.0


def _label_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """A timeline row in the office's words."""
    kind = event["kind"]
    detail = event.get("detail") or {}
    label = EVENT_LABELS.get(kind, kind)
    if kind == "escalation" and event.get("level"):
        label = f"督办（第{event['level']}级）"
    if event.get("actor_unit"):
        actor = event["actor_unit"]
    elif event.get("actor_role") == "coordinator":
        actor = "督查室"
    else:
        actor = "系统"
    notes: list[str] = []
    if kind == "progress" and "percent" in detail:
        notes.append(f"进度{detail['percent']}%")
    for key in ("text", "summary"):
        if detail.get(key):
            notes.append(str(detail[key]))
    if detail.get("requested_due"):
        notes.append(f"申请延至{detail['requested_due']}")
    if kind == "reassigned" and event.get("unit"):
        notes.append(f"交由{event['unit']}牵头")
    if detail.get("reason"):
        notes.append(f"理由：{detail['reason']}")
    if detail.get("overdue_at_import"):
        notes.append(f"导入时已逾期{detail.get('overdue_days', '')}天")
    return {
        **event,
        "label": label,
        "actor": actor,
        "notes": "；".join(notes),
        "evidence": [str(item) for item in detail.get("evidence") or []],
    }


def available_actions(
    principal: Principal, access: TaskAccess, task: Mapping[str, Any], facts: RoundFacts
) -> list[ActionKind]:
    """The actions the principal may take on the task now: allowed to its role (the API's
    rule) and possible in the task's stage. The lifecycle still has the last word."""
    stage = task["stage"]
    awaiting = bool(task["awaiting_reassignment"])
    possible: list[ActionKind] = []
    if stage == Stage.ASSIGNED and not awaiting:
        possible += [ActionKind.ACCEPT, ActionKind.REFUSE]
    if stage == Stage.IN_PROGRESS:
        possible += [ActionKind.PROGRESS, ActionKind.SUBMIT]
    dated = task.get("next_due") is not None
    if (
        stage in {Stage.ASSIGNED, Stage.IN_PROGRESS}
        and not awaiting
        and dated
        and not facts.extension_pending
    ):
        possible.append(ActionKind.REQUEST_EXTENSION)
    if stage == Stage.SIGNOFF and not facts.signed:
        possible.append(ActionKind.SIGN_OFF)
    if stage == Stage.REVIEW:
        possible.append(ActionKind.REVIEW)
    is_open = stage not in {Stage.COMPLETED, Stage.CANCELLED}
    if is_open and facts.extension_pending:
        possible.append(ActionKind.DECIDE_EXTENSION)
    if stage in {Stage.ASSIGNED, Stage.IN_PROGRESS}:
        possible.append(ActionKind.REASSIGN)
    if is_open:
        possible.append(ActionKind.CANCEL)
    allowed = []
    for action in possible:
        try:
            require_action(principal, access, action)
        except AccessDeniedError:
            continue
        allowed.append(action)
    return allowed


# ---------------------------------------------------------------- reading a form


_ERROR_TEXTS: dict[str, str] = {
    "missing": "必填",
    "string_too_short": "必填",
    "int_parsing": "请填写0到100之间的整数",
    "int_from_float": "请填写整数",
    "greater_than_equal": "不能小于{ge}",
    "less_than_equal": "不能大于{le}",
    "date_parsing": "请填写日期，如2026-07-01",
    "date_from_datetime_parsing": "请填写日期，如2026-07-01",
    "date_type": "请填写日期，如2026-07-01",
    "bool_parsing": "请选择",
    "string_too_long": "过长：最多{max_length}字",
    "too_long": "最多{max_length}条",
}


def _error_text(error: ErrorDetails) -> str:
    template = _ERROR_TEXTS.get(error["type"])
    if template is None:
        if "control characters" in error["msg"]:
            return "含有控制字符，请删除"
        return error["msg"]
    context = error.get("ctx") or {}
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return template


def form_content(
    kind: ActionKind, form: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The body the form stands for (in the model's field names) and the values as typed,
    for re-rendering. Blank optional fields are left out, so the model's defaults apply."""
    fields = ACTION_BODIES[kind].model_fields
    content: dict[str, Any] = {}
    typed: dict[str, str] = {}
    for name in fields:
        raw = form.get(name)
        value = raw.strip() if isinstance(raw, str) else ""
        typed[name] = value
        if name in _LIST_FIELDS:
            content[name] = [line.strip() for line in value.splitlines() if line.strip()]
        elif name in _CHOICE_FIELDS:
            if value in {"true", "false"}:
                content[name] = value == "true"
        elif value or fields[name].is_required():
            content[name] = value
    return content, typed


def validate_form(
    kind: ActionKind, form: Mapping[str, Any]
) -> tuple[BaseModel | None, dict[str, str], dict[str, str]]:
    """(the body, or None; the field errors in Chinese; the values as typed)."""
    content, typed = form_content(kind, form)
    try:
        return ACTION_BODIES[kind].model_validate(content), {}, typed
    except ValidationError as invalid:
        errors: dict[str, str] = {}
        for error in invalid.errors():
            field = str(error["loc"][0]) if error["loc"] else "_form"
            errors.setdefault(field, _error_text(error))
        return None, errors, typed


# ---------------------------------------------------------------- the page


def _not_found(request: Request) -> Response:
    return render(request, "not_found.html", status_code=404)


async def _render_task(
    request: Request,
    user: Any,
    plan_id: str,
    task_key: str,
    *,
    status_code: int = 200,
    failed: ActionKind | None = None,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    refusal: str | None = None,
) -> Response:
    workflow_id = task_workflow_id(plan_id, task_key)
    principal: Principal = user.principal
    async with connection(request) as conn:
        try:
            access = await task_actions.authorize(conn, principal, workflow_id, None)
        except task_actions.TaskNotVisibleError:
            return _not_found(request)
        detail = await task_reads.task_detail(conn, workflow_id)
        plan = await task_reads.plan_detail(conn, plan_id) if detail is not None else None
    if detail is None:
        return _not_found(request)
    detail["milestones"] = [
        {**milestone, "due": date.fromisoformat(milestone["due"])}
        for milestone in detail["milestones"] or []
    ]
    facts = round_facts(detail["timeline"], principal.unit)
    part = part_of(principal.role, principal.unit, detail)
    actions = available_actions(principal, access, detail, facts)
    if failed is not None and failed not in actions:
        actions.append(failed)  # the form the user just sent, with its errors, stays in view
    return render(
        request,
        "task.html",
        status_code=status_code,
        nav="inbox" if principal.role == "unit" else "board",
        task=detail,
        task_key=task_key,
        plan=plan,
        part=part,
        part_label=PART_LABELS[part],
        facts=facts,
        time_left=time_left(detail),
        next_step=next_step(
            detail["stage"],
            part,
            awaiting_reassignment=detail["awaiting_reassignment"],
            facts=facts,
        ),
        timeline=[_label_event(event) for event in reversed(detail["timeline"])],
        actions=[str(action) for action in actions],
        # One key per form and page view: the same form sent twice (a double click, a
        # re-sent post) carries the same key and is applied once.
        keys={str(action): str(uuid.uuid4()) for action in actions},
        failed=str(failed) if failed else None,
        errors=errors or {},
        typed=typed or {},
        refusal=refusal,
    )


@router.get("/tasks/{plan_id}/{task_key}")
async def task_page(request: Request, user: User, plan_id: str, task_key: str) -> Response:
    if len(plan_id) > 200 or len(task_key) > 200:
        return _not_found(request)
    return await _render_task(request, user, plan_id, task_key)


_REFUSAL_STATUS: dict[type[task_service.TaskActionRefusedError], int] = {
    task_service.WrongStageError: 409,
    task_service.IdempotencyKeyReusedError: 409,
    task_service.ActionNotAllowedError: 403,
    task_service.InvalidActionError: 422,
}


def _left_blank(typed: dict[str, str], field: str) -> bool:
    return field in typed and not typed[field].strip()


def refusal_text(refusal: task_service.TaskActionRefusedError) -> str:
    """The lifecycle's refusal for office staff: why, in Chinese, by the kind of refusal,
    then the lifecycle's own words (in English: they are the API's too) as the detail."""
    if isinstance(refusal, task_service.WrongStageError):
        why = f"任务当前处于「{stage_label(refusal.stage)}」，此操作现在不能办理"
    elif isinstance(refusal, task_service.ActionNotAllowedError):
        why = "您无权办理此操作"
    elif isinstance(refusal, task_service.IdempotencyKeyReusedError):
        why = "这张表单已用于另一次操作，请刷新页面后重新填写"
    elif isinstance(refusal, task_service.InvalidActionError):
        why = "填写的内容不符合要求"
    else:
        why = "办理规则不允许此操作"
    return f"操作未被接受：{why}。（{refusal.message}）"


async def _await_projection(request: Request, workflow_id: str, seq: int) -> None:
    """Wait (briefly) until the projection holds the action's events.

    The workflow answers the update as soon as it has applied the action; the activity that
    writes its events and the task's row to PostgreSQL runs a moment later. Without this
    wait the page the browser is sent to could still show the stage before the action, and
    its forms: the user would think the click was lost. If the projection is slow (a worker
    backlog), the page is shown anyway after PROJECTION_WAIT_SECONDS; the action stands.
    """
    pool = dependencies_of(request).pool
    deadline = time.monotonic() + PROJECTION_WAIT_SECONDS
    while time.monotonic() < deadline:
        recorded = await pool.fetchval(
            "SELECT seq FROM task_states WHERE workflow_id = $1", workflow_id
        )
        if recorded is not None and recorded >= seq:
            return
        await asyncio.sleep(0.05)


@router.post("/tasks/{plan_id}/{task_key}/{action}")
async def task_action(
    request: Request, user: User, form: Form, plan_id: str, task_key: str, action: str
) -> Response:
    try:
        kind = ActionKind(action)
    except ValueError:
        return _not_found(request)
    request.state.audit = {"plan_id": plan_id, "task_id": task_key, "action": str(kind)}
    if len(plan_id) > 200 or len(task_key) > 200:
        return _not_found(request)
    workflow_id = task_workflow_id(plan_id, task_key)
    principal = user.principal
    try:
        async with connection(request) as conn:
            await task_actions.authorize(conn, principal, workflow_id, kind)
    except task_actions.TaskNotVisibleError:
        request.state.error_code = "not_found"
        return _not_found(request)
    except task_actions.ActionForbiddenError as error:
        request.state.error_code = "forbidden"
        return render(
            request,
            "refused.html",
            status_code=403,
            title="无权进行此操作",
            reason=f"没有执行任何操作：{error.message}",
        )

    async def again(status: int, **context: Any) -> Response:
        return await _render_task(
            request, user, plan_id, task_key, status_code=status, failed=kind, **context
        )

    key = form.get("idempotency_key")
    body, errors, typed = validate_form(kind, form)
    if not isinstance(key, str) or not 8 <= len(key.strip()) <= 100:
        request.state.error_code = "invalid_payload"
        return await again(422, typed=typed, refusal="表单已过期，请重新填写后提交。")
    request.state.idempotency_key = key.strip()
    if body is None:
        request.state.error_code = "invalid_payload"
        return await again(422, errors=errors, typed=typed)

    deps = dependencies_of(request)
    await release_connection(request)  # never held across a call to Temporal
    try:
        result = await task_actions.perform(
            deps.pool,
            deps.temporal,
            principal,
            workflow_id,
            kind,
            body.model_dump(mode="json"),
            key.strip(),
        )
    except UnknownUnitError as error:
        request.state.error_code = "unknown_unit"
        return await again(422, errors={"unit": error.message}, typed=typed)
    except task_service.TaskActionRefusedError as refusal:
        request.state.error_code = refusal.code
        status = _REFUSAL_STATUS.get(type(refusal), 422)
        if isinstance(refusal, task_service.InvalidActionError) and _left_blank(typed, "reason"):
            # The lifecycle asks a reason of an objection or a return: say it by the field
            # the user left empty (the lifecycle, not the page, decided it was needed).
            return await again(status, errors={"reason": "必填：请说明理由"}, typed=typed)
        return await again(status, typed=typed, refusal=refusal_text(refusal))
    except task_service.TemporalUnavailableError as error:
        request.state.error_code = error.code
        return render(
            request,
            "refused.html",
            status_code=503,
            title="暂时无法办理",
            reason="系统暂时无法确认此操作是否已办理，请稍后刷新任务页面查看；"
            f"如未办理，再提交一次即可（同一表单不会重复办理）。（{error.message}）",
        )
    await _await_projection(request, workflow_id, result.seq)
    redirect = RedirectResponse(task_address(plan_id, task_key), 303)
    return flash(
        redirect, DONE_MESSAGES[kind.value], secure=dependencies_of(request).web.secure_cookies
    )


def task_address(plan_id: str, task_key: str) -> str:
    return f"/tasks/{quote(plan_id, safe='')}/{quote(task_key, safe='@')}"
