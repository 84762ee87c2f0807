"""Idempotency-Key: a repeated request applies once and answers the same; the key with
another request is refused; uploads are deduplicated the same way."""

from __future__ import annotations

from tests.api.test_lifecycle_http import import_ledger
from tests.support.api import ApiStack
from tests.support.plans import future_ledger, unique_name


async def _events(stack: ApiStack, workflow_id: str, kind: str) -> int:
    count: int = await stack.pool.fetchval(
        "SELECT count(*) FROM task_events WHERE workflow_id = $1 AND kind = $2", workflow_id, kind
    )
    return count


async def test_same_key_three_times_applies_once(api_stack: ApiStack) -> None:
    """Three sends of one progress report under one key: one event, one answer three times;
    the same key with another body is refused and changes nothing."""
    coordinator = await api_stack.token("coordinator")
    plan_id = await import_ledger(api_stack, coordinator)
    lead = await api_stack.token("unit", unit="市数据资源局")
    path = f"/api/v1/tasks/{plan_id}/1"
    await api_stack.post(f"{path}/accept", lead)
    body = {"percent": 40, "text": "完成需求调研"}
    answers = [await api_stack.post(f"{path}/progress", lead, body, key="k-1") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert "Idempotent-Replayed" not in answers[0].headers
    assert answers[2].headers["Idempotent-Replayed"] == "true"
    workflow_id = f"{plan_id}/1"
    history = await api_stack.settled_history(workflow_id)

    reused = await api_stack.post(f"{path}/progress", lead, {**body, "percent": 90}, key="k-1")
    assert (reused.status_code, reused.json()["code"]) == (409, "idempotency_key_reused")
    elsewhere = await api_stack.post(f"{path}/submit", lead, {"summary": "完成"}, key="k-1")
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (409, "idempotency_key_reused")
    assert await api_stack.settled_history(workflow_id) == history

    detail = (await api_stack.get(f"{path}", lead)).json()
    assert [e["kind"] for e in detail["timeline"]].count("progress") == 1
    assert detail["progress_percent"] == 40


async def test_a_retry_after_a_lost_answer_applies_once(api_stack: ApiStack) -> None:
    """The API stored no answer (it died after the update): the retry under the same key
    reaches the workflow with the same update id, and the workflow answers it once."""
    coordinator = await api_stack.token("coordinator")
    plan_id = await import_ledger(api_stack, coordinator)
    lead = await api_stack.token("unit", unit="市信息办")
    path = f"/api/v1/tasks/{plan_id}/3/accept"
    first = await api_stack.post(path, lead, key="accept-once")
    assert first.status_code == 200
    await api_stack.pool.execute("DELETE FROM idempotency_keys WHERE key = 'accept-once'")
    history = await api_stack.settled_history(f"{plan_id}/3")
    again = await api_stack.post(path, lead, key="accept-once")
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert await api_stack.settled_history(f"{plan_id}/3") == history
    assert await _events(api_stack, f"{plan_id}/3", "accepted") == 1


async def test_plan_upload_is_deduplicated_by_key(api_stack: ApiStack) -> None:
    """The same upload under one key imports once and answers the same; the key with
    another document is refused."""
    coordinator = await api_stack.token("coordinator")
    name, document = unique_name("ledger.csv"), future_ledger()
    first = await api_stack.upload(coordinator, name, document, key="upload-1")
    second = await api_stack.upload(coordinator, name, document, key="upload-1")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.json()["workflows_started"] == 3
    assert second.headers["Idempotent-Replayed"] == "true"
    other = await api_stack.upload(coordinator, name, future_ledger(rows=2), key="upload-1")
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    assert await api_stack.pool.fetchval("SELECT count(*) FROM plan_tasks") == 3
