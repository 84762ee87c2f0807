"""Every mutation route against every kind of caller who must be refused: the right status,
nothing changed in Temporal or PostgreSQL, and the refusal in the audit log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tests.api.test_lifecycle_http import import_ledger
from tests.support.api import ApiStack

TASK = "1"  # lead 市数据资源局; cooperating 市公安局, 市市场监管局
ACTION_BODIES: dict[str, Any] = {
    "accept": None,
    "refuse": {"reason": "不属于本单位职责"},
    "progress": {"percent": 10, "text": "推进中"},
    "submit": {"summary": "已完成"},
    "request-extension": {"new_due": "2031-01-31", "reason": "需延期"},
    "sign-off": {"approve": True},
    "review": {"approve": True},
    "decide-extension": {"approve": True},
    "reassign": {"unit": "市公安局"},
    "cancel": {"reason": "计划调整"},
}
LEAD_ACTIONS = ["accept", "refuse", "progress", "submit", "request-extension"]
COORDINATOR_ACTIONS = ["review", "decide-extension", "reassign", "cancel"]


@dataclass(frozen=True)
class Caller:
    name: str
    authorization: str | None
    expected: dict[str, tuple[int, str]]  # action -> (status, code)


async def _state(stack: ApiStack, workflow_id: str) -> tuple[int, int, int]:
    """History length, recorded events and stored plans: what a refusal must not change."""
    history = await stack.settled_history(workflow_id)
    events = await stack.pool.fetchval(
        "SELECT count(*) FROM task_events WHERE workflow_id = $1", workflow_id
    )
    plans = await stack.pool.fetchval("SELECT count(*) FROM plans")
    return history, events, plans


async def _callers(stack: ApiStack, plan_id: str) -> list[Caller]:
    expired = await stack.token("unit", unit="市数据资源局")
    await stack.pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE role = 'unit'"
        " AND token_id = $1",
        expired.split("_")[1],
    )
    revoked = await stack.token("unit", unit="市数据资源局")
    await stack.pool.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1", revoked.split("_")[1]
    )
    stranger = await stack.token("unit", unit="市信息办")  # leads task 3, not this one
    cooperating = await stack.token("unit", unit="市公安局")
    lead = await stack.token("unit", unit="市数据资源局")
    other_plan = await stack.token("coordinator", plans=("another-plan",))

    def every(status: int, code: str) -> dict[str, tuple[int, str]]:
        return dict.fromkeys(ACTION_BODIES, (status, code))

    forged = "dbn_0123456789_" + "A" * 43  # the right shape, but never issued
    return [
        Caller("no token", None, every(401, "token_missing")),
        Caller("malformed", "Bearer not-a-duban-token", every(401, "token_malformed")),
        Caller("not bearer", "Basic dXNlcjpwYXNz", every(401, "token_malformed")),
        Caller("forged", f"Bearer {forged}", every(401, "token_unknown")),
        Caller("expired", f"Bearer {expired}", every(401, "token_expired")),
        Caller("revoked", f"Bearer {revoked}", every(401, "token_revoked")),
        Caller("another unit", f"Bearer {stranger}", every(404, "not_found")),
        Caller(
            "cooperating unit, lead actions",
            f"Bearer {cooperating}",
            dict.fromkeys(LEAD_ACTIONS, (403, "forbidden")),
        ),
        Caller(
            "lead unit, coordinator and sign-off actions",
            f"Bearer {lead}",
            dict.fromkeys([*COORDINATOR_ACTIONS, "sign-off"], (403, "forbidden")),
        ),
        Caller("coordinator of another plan", f"Bearer {other_plan}", every(404, "not_found")),
    ]


async def test_every_mutation_refuses_every_wrong_caller(api_stack: ApiStack) -> None:
    """401 for a missing, malformed, forged, expired or revoked token; 404 for a task the
    caller cannot see; 403 for a visible task and another role's action. No refusal adds a
    history event, a recorded event or a row, and each is in the audit log."""
    coordinator = await api_stack.token("coordinator")
    plan_id = await import_ledger(api_stack, coordinator)
    workflow_id = f"{plan_id}/{TASK}"
    before = await _state(api_stack, workflow_id)
    mismatches: list[str] = []
    request_ids: dict[str, tuple[int, str]] = {}
    for caller in await _callers(api_stack, plan_id):
        for action, (status, code) in caller.expected.items():
            request_id = uuid.uuid4().hex
            headers = {"Idempotency-Key": uuid.uuid4().hex, "X-Request-ID": request_id}
            if caller.authorization:
                headers["Authorization"] = caller.authorization
            body = ACTION_BODIES[action]
            response = await api_stack.http.post(
                f"/api/v1/tasks/{plan_id}/{TASK}/{action}",
                json=body if body is not None else None,
                headers=headers,
            )
            got = (response.status_code, response.json().get("code"))
            if got != (status, code):
                mismatches.append(f"{caller.name} {action}: {got}, expected {(status, code)}")
            assert response.headers["content-type"] == "application/problem+json"
            request_ids[request_id] = (status, code)
    assert not mismatches, "\n".join(mismatches)
    assert await _state(api_stack, workflow_id) == before

    rows = await api_stack.pool.fetch(
        "SELECT request_id, status, error_code, task_id, action FROM audit_log"
        " WHERE request_id = ANY($1::text[])",
        list(request_ids),
    )
    assert len(rows) == len(request_ids)
    for row in rows:
        assert (row["status"], row["error_code"]) == request_ids[row["request_id"]]


async def test_plan_import_is_for_coordinators_of_that_plan(api_stack: ApiStack) -> None:
    """A unit, an admin, and a coordinator of other plans cannot import; nothing is stored."""
    from tests.support.plans import future_ledger, unique_name

    unit = await api_stack.token("unit", unit="市公安局")
    admin = await api_stack.token("admin")
    other_plan = await api_stack.token("coordinator", plans=("another-plan",))
    for token in (unit, admin, other_plan):
        response = await api_stack.upload(token, unique_name("ledger.csv"), future_ledger())
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden"
    assert await api_stack.pool.fetchval("SELECT count(*) FROM plans") == 0
    assert await api_stack.pool.fetchval("SELECT count(*) FROM plan_tasks") == 0
    refused = await api_stack.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE route = '/api/v1/plans' AND status = 403"
    )
    assert refused == 3


async def test_reading_is_confined_like_acting(api_stack: ApiStack) -> None:
    """A unit lists only its own tasks and gets 404 for another's; a plan coordinator sees
    only its plans; the audit log is closed to units."""
    coordinator = await api_stack.token("coordinator")
    plan_id = await import_ledger(api_stack, coordinator)
    police = await api_stack.token("unit", unit="市公安局")
    listed = (await api_stack.get("/api/v1/tasks", police)).json()["items"]
    assert [item["task_key"] for item in listed] == ["1"]
    assert (await api_stack.get(f"/api/v1/tasks/{plan_id}/3", police)).status_code == 404
    assert (await api_stack.get(f"/api/v1/tasks/{plan_id}/1", police)).status_code == 200
    other = await api_stack.token("coordinator", plans=("another-plan",))
    assert (await api_stack.get("/api/v1/tasks", other)).json()["items"] == []
    assert (await api_stack.get(f"/api/v1/plans/{plan_id}", other)).status_code == 404
    assert (await api_stack.get("/api/v1/plans", other)).json() == []
    audit = await api_stack.get("/api/v1/audit", police)
    assert audit.status_code == 403
    me = (await api_stack.get("/api/v1/me", police)).json()
    assert (me["role"], me["unit"]) == ("unit", "市公安局")


async def test_token_lifetime_is_enforced(api_stack: ApiStack) -> None:
    """A token works until it is revoked through the admin API, then answers 401."""
    admin = await api_stack.token("admin", expires_in=timedelta(hours=2))
    issued = await api_stack.post(
        "/api/v1/tokens", admin, {"role": "coordinator", "name": "督查室 张三"}
    )
    assert issued.status_code == 201, issued.text
    secret = issued.json()["secret"]
    assert (await api_stack.get("/api/v1/me", secret)).status_code == 200
    token_id = issued.json()["token_id"]
    revoked = await api_stack.post(f"/api/v1/tokens/{token_id}/revoke", admin)
    assert revoked.json()["status"] == "revoked"
    answer = await api_stack.get("/api/v1/me", secret)
    assert (answer.status_code, answer.json()["code"]) == (401, "token_revoked")
    stored = await api_stack.pool.fetchval("SELECT count(*) FROM idempotency_keys")
    secrets_stored = await api_stack.pool.fetchval(
        "SELECT count(*) FROM idempotency_keys WHERE response::text LIKE '%' || $1 || '%'",
        secret,
    )
    assert stored >= 1
    assert secrets_stored == 0


async def test_an_empty_plan_list_never_means_every_plan(api_stack: ApiStack) -> None:
    """A coordinator token asked for with no plan ids (an empty list, a blank id) is
    refused; only leaving the plans out gives a coordinator of every plan."""
    admin = await api_stack.token("admin")
    for plans in ([], ["   "], ["a b"]):
        refused = await api_stack.post(
            "/api/v1/tokens", admin, {"role": "coordinator", "plans": plans}
        )
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_payload")
    assert (
        await api_stack.pool.fetchval("SELECT count(*) FROM api_tokens WHERE role = 'coordinator'")
        == 0
    )
