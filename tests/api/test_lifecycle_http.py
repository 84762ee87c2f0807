"""Whole lifecycles over HTTP: import through the API, units and coordinators act with their
own tokens, and the task's detail reads the outcome with its timeline."""

from __future__ import annotations

from typing import Any

from tests.support.api import ApiStack
from tests.support.lifecycle import wait_until
from tests.support.plans import EXAMPLE_PLANS, future_ledger, unique_name


async def import_through_api(stack: ApiStack, token: str, name: str, data: bytes) -> str:
    response = await stack.upload(token, name, data, accept_warnings=True)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "imported"
    plan_id: str = result["plan_id"]
    count = result["workflows_started"]
    assert count > 0

    async def all_listed() -> bool:
        page = await stack.get("/api/v1/tasks", token, plan=plan_id, limit=200)
        return bool(len(page.json()["items"]) >= min(count, 200))

    await wait_until(all_listed, timeout=30, what="the imported tasks in the task list")
    return plan_id


async def import_ledger(stack: ApiStack, token: str) -> str:
    return await import_through_api(stack, token, unique_name("ledger.csv"), future_ledger())


async def task_json(stack: ApiStack, token: str, plan_id: str, key: str) -> dict[str, Any]:
    response = await stack.get(f"/api/v1/tasks/{plan_id}/{key}", token)
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    return detail


async def wait_for_stage(
    stack: ApiStack, token: str, plan_id: str, key: str, stage: str
) -> dict[str, Any]:
    """The projection follows the workflow a moment later: wait until it shows ``stage``."""
    found: dict[str, Any] = {}

    async def reached() -> bool:
        found.update(await task_json(stack, token, plan_id, key))
        return bool(found["stage"] == stage)

    await wait_until(reached, timeout=15, what=f"task {key} in stage {stage}")
    return found


async def act(
    stack: ApiStack, token: str, plan_id: str, key: str, action: str, body: Any = None
) -> dict[str, Any]:
    response = await stack.post(f"/api/v1/tasks/{plan_id}/{key}/{action}", token, body)
    assert response.status_code == 200, f"{action}: {response.text}"
    answer: dict[str, Any] = response.json()
    return answer


async def test_example_plan_runs_to_completion_over_http(api_stack: ApiStack) -> None:
    """An example plan imported through the API: the lead accepts, reports and submits,
    every cooperating unit signs off, the coordinator approves; the task reads completed,
    with each step in its timeline, each done by the unit its token names."""
    coordinator = await api_stack.token("coordinator")
    document = EXAMPLE_PLANS / "dongying-2017-egov-key-work.txt"
    plan_id = await import_through_api(
        api_stack, coordinator, unique_name(document.name), document.read_bytes()
    )
    page = (await api_stack.get("/api/v1/tasks", coordinator, plan=plan_id, limit=200)).json()
    task = next(item for item in page["items"] if len(item["cooperating_units"]) >= 2)
    key, lead = task["task_key"], task["lead_unit"]
    lead_token = await api_stack.token("unit", unit=lead)

    assert (await act(api_stack, lead_token, plan_id, key, "accept"))["stage"] == "in_progress"
    progress = {"percent": 60, "text": "已完成平台部署", "evidence": ["东政办〔2017〕1号"]}
    await act(api_stack, lead_token, plan_id, key, "progress", progress)
    submitted = await act(api_stack, lead_token, plan_id, key, "submit", {"summary": "已建成"})
    assert submitted["stage"] == "signoff"
    for cooperating in task["cooperating_units"]:
        token = await api_stack.token("unit", unit=cooperating)
        await act(api_stack, token, plan_id, key, "sign-off", {"approve": True})
    await wait_for_stage(api_stack, coordinator, plan_id, key, "review")
    approved = await act(api_stack, coordinator, plan_id, key, "review", {"approve": True})
    assert approved["stage"] == "completed"

    detail = await wait_for_stage(api_stack, lead_token, plan_id, key, "completed")
    assert detail["light"] == "none"
    kinds = [event["kind"] for event in detail["timeline"]]
    steps = ["assigned", "accepted", "progress", "submitted", "signoff_complete", "completed"]
    assert [kind for kind in kinds if kind in steps] == steps
    assert kinds.count("signed_off") == len(task["cooperating_units"])
    by_kind = {event["kind"]: event for event in detail["timeline"]}
    assert by_kind["accepted"]["actor_unit"] == lead
    assert by_kind["progress"]["detail"]["percent"] == 60
    signers = {e["actor_unit"] for e in detail["timeline"] if e["kind"] == "signed_off"}
    assert signers == set(task["cooperating_units"])


async def test_refusal_then_reassignment_over_http(api_stack: ApiStack) -> None:
    """The lead refuses (退回交办); the coordinator reassigns by an alias, which resolves to
    the canonical unit; the new lead accepts and the old one may no longer act."""
    coordinator = await api_stack.token("coordinator")
    plan_id = await import_through_api(
        api_stack, coordinator, unique_name("ledger.csv"), future_ledger()
    )
    old_lead = await api_stack.token("unit", unit="市信息办")
    refused = await act(api_stack, old_lead, plan_id, "3", "refuse", {"reason": "不属于本单位职责"})
    assert refused["stage"] == "assigned"
    await act(api_stack, coordinator, plan_id, "3", "reassign", {"unit": "市发改委"})
    detail = await wait_for_stage(api_stack, coordinator, plan_id, "3", "assigned")

    async def reassigned() -> bool:
        detail.update(await task_json(api_stack, coordinator, plan_id, "3"))
        return bool(detail["lead_unit"] == "市发展改革委")

    await wait_until(reassigned, what="the new lead in the projection")
    new_lead = await api_stack.token("unit", unit="市发展改革委")
    assert (await act(api_stack, new_lead, plan_id, "3", "accept"))["stage"] == "in_progress"
    late = await api_stack.post(f"/api/v1/tasks/{plan_id}/3/accept", old_lead)
    assert late.status_code == 404  # the old lead no longer sees the task at all
    detail = await task_json(api_stack, coordinator, plan_id, "3")
    kinds = [event["kind"] for event in detail["timeline"]]
    assert kinds[:4] == ["assigned", "refused", "reassigned", "accepted"] or {
        "refused",
        "reassigned",
    } <= set(kinds)
    refusal = next(event for event in detail["timeline"] if event["kind"] == "refused")
    assert refusal["detail"]["reason"] == "不属于本单位职责"


async def test_objection_sends_the_task_back_over_http(api_stack: ApiStack) -> None:
    """A cooperating unit objects: the task returns to the lead, who submits again; then
    both units approve and the coordinator closes it."""
    coordinator = await api_stack.token("coordinator")
    plan_id = await import_through_api(
        api_stack, coordinator, unique_name("ledger.csv"), future_ledger()
    )
    lead = await api_stack.token("unit", unit="市数据资源局")
    police = await api_stack.token("unit", unit="市公安局")
    market = await api_stack.token("unit", unit="市市场监管局")
    await act(api_stack, lead, plan_id, "1", "accept")
    await act(api_stack, lead, plan_id, "1", "submit", {"summary": "初步完成"})
    objected = await act(
        api_stack, police, plan_id, "1", "sign-off", {"approve": False, "reason": "数据未对接"}
    )
    assert objected["stage"] == "in_progress"
    await act(api_stack, lead, plan_id, "1", "submit", {"summary": "已完成数据对接"})
    await act(api_stack, police, plan_id, "1", "sign-off", {"approve": True})
    await act(api_stack, market, plan_id, "1", "sign-off", {"approve": True})
    await wait_for_stage(api_stack, coordinator, plan_id, "1", "review")
    await act(api_stack, coordinator, plan_id, "1", "review", {"approve": True})
    detail = await wait_for_stage(api_stack, coordinator, plan_id, "1", "completed")
    objection = next(event for event in detail["timeline"] if event["kind"] == "objected")
    assert objection["actor_unit"] == "市公安局"
    assert objection["detail"]["reason"] == "数据未对接"
    assert [e["kind"] for e in detail["timeline"]].count("submitted") == 2


async def test_extension_granted_over_http(api_stack: ApiStack) -> None:
    """The lead asks for more time well before the due date; the coordinator grants it and
    the task's next due date moves."""
    coordinator = await api_stack.token("coordinator")
    plan_id = await import_through_api(
        api_stack, coordinator, unique_name("ledger.csv"), future_ledger()
    )
    lead = await api_stack.token("unit", unit="市政务服务中心")
    await act(api_stack, lead, plan_id, "2", "accept")
    await wait_for_stage(api_stack, lead, plan_id, "2", "in_progress")

    async def requested() -> bool:
        # The extension deadline is worked out just after acceptance; until then the
        # workflow asks to try again shortly.
        response = await api_stack.post(
            f"/api/v1/tasks/{plan_id}/2/request-extension",
            lead,
            {"new_due": "2031-03-31", "reason": "需与省平台同步上线"},
        )
        return response.status_code == 200

    await wait_until(requested, what="the extension request to be taken")
    await act(api_stack, coordinator, plan_id, "2", "decide-extension", {"approve": True})

    async def moved() -> bool:
        return bool((await task_json(api_stack, lead, plan_id, "2"))["next_due"] == "2031-03-31")

    await wait_until(moved, what="the new due date in the projection")
    detail = await task_json(api_stack, lead, plan_id, "2")
    assert detail["extensions_granted"] == 1
    granted = next(e for e in detail["timeline"] if e["kind"] == "extension_granted")
    assert granted["detail"]["old_due"] == "2030-12-31"


async def test_wrong_stage_is_409_naming_the_stage(api_stack: ApiStack) -> None:
    """An action the stage does not allow is a 409 that says where the task is, whether the
    task is open (review before submission) or closed (accept after cancellation); an
    invalid content is a 422, and none of them is recorded."""
    coordinator = await api_stack.token("coordinator")
    plan_id = await import_ledger(api_stack, coordinator)
    lead = await api_stack.token("unit", unit="市信息办")
    early = await api_stack.post(
        f"/api/v1/tasks/{plan_id}/3/review", coordinator, {"approve": True}
    )
    assert (early.status_code, early.json()["code"], early.json()["stage"]) == (
        409,
        "wrong_stage",
        "assigned",
    )
    assert "assigned" in early.json()["detail"]
    await act(api_stack, lead, plan_id, "3", "accept")
    backwards = await api_stack.post(
        f"/api/v1/tasks/{plan_id}/3/progress", lead, {"percent": 101, "text": "x"}
    )
    assert (backwards.status_code, backwards.json()["code"]) == (422, "invalid_payload")
    blank = await api_stack.post(
        f"/api/v1/tasks/{plan_id}/3/progress", lead, {"percent": 5, "text": " "}
    )
    assert (blank.status_code, blank.json()["code"]) == (422, "invalid_action")
    await act(api_stack, coordinator, plan_id, "3", "cancel", {"reason": "计划调整"})
    await wait_for_stage(api_stack, coordinator, plan_id, "3", "cancelled")
    closed = await api_stack.post(f"/api/v1/tasks/{plan_id}/3/submit", lead, {"summary": "完成"})
    assert (closed.status_code, closed.json()["code"], closed.json()["stage"]) == (
        409,
        "wrong_stage",
        "cancelled",
    )
    kinds = [e["kind"] for e in (await task_json(api_stack, lead, plan_id, "3"))["timeline"]]
    assert kinds == ["assigned", "accepted", "cancelled"]
