"""The audit log is append-only and complete; no token secret reaches a log line or a row."""

from __future__ import annotations

import io
import logging

import asyncpg
import pytest

from tests.api.test_lifecycle_http import import_ledger
from tests.support.api import ApiStack, serve_api


async def test_audit_rows_cannot_be_changed_or_deleted(api_stack: ApiStack) -> None:
    """UPDATE, DELETE and TRUNCATE on audit_log are refused by its trigger, whoever asks."""
    coordinator = await api_stack.token("coordinator")
    await api_stack.post("/api/v1/tasks/nowhere/1/accept", coordinator)
    assert await api_stack.pool.fetchval("SELECT count(*) FROM audit_log") == 1
    for statement in (
        "UPDATE audit_log SET status = 200",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await api_stack.pool.execute(statement)
    row = await api_stack.pool.fetchrow("SELECT status, error_code, route FROM audit_log")
    assert row is not None
    assert dict(row) == {
        "status": 404,
        "error_code": "not_found",
        "route": "/api/v1/tasks/nowhere/1/accept",
    }


async def test_every_mutation_is_audited_with_who_and_what(api_stack: ApiStack) -> None:
    """An accepted action's row names the token, role, unit, task, action, key and digest."""
    coordinator = await api_stack.token("coordinator")
    plan_id = await import_ledger(api_stack, coordinator)
    lead = await api_stack.token("unit", unit="市信息办")
    response = await api_stack.post(f"/api/v1/tasks/{plan_id}/3/accept", lead, key="audit-me")
    assert response.status_code == 200
    row = await api_stack.pool.fetchrow(
        "SELECT * FROM audit_log WHERE idempotency_key = 'audit-me'"
    )
    assert row is not None
    assert row["request_id"] == response.headers["X-Request-ID"]
    assert (row["role"], row["unit"], row["plan_id"], row["task_id"], row["action"]) == (
        "unit",
        "市信息办",
        plan_id,
        "3",
        "accept",
    )
    assert row["token_id"] == lead.split("_")[1]
    assert row["status"] == 200
    assert row["error_code"] is None
    assert len(row["payload_digest"]) == 64
    imports = await api_stack.pool.fetch(
        "SELECT action, plan_id, status FROM audit_log WHERE route = '/api/v1/plans'"
    )
    assert [tuple(r) for r in imports] == [("import", plan_id, 200)]


async def test_no_secret_in_any_log_line_or_row(
    api_stack: ApiStack, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """Requests with good, forged, revoked and malformed tokens, and a token issued through
    the API: none of the secrets appears in the logs, the audit log or any stored answer."""
    caplog.set_level(logging.DEBUG)
    coordinator = await api_stack.token("coordinator")
    admin = await api_stack.token("admin")
    plan_id = await import_ledger(api_stack, coordinator)
    lead = await api_stack.token("unit", unit="市信息办")
    await api_stack.post(f"/api/v1/tasks/{plan_id}/3/accept", lead)
    await api_stack.post(f"/api/v1/tasks/{plan_id}/3/review", lead, {"approve": True})
    issued = await api_stack.post("/api/v1/tokens", admin, {"role": "unit", "unit": "市公安局"})
    fresh = issued.json()["secret"]
    await api_stack.get("/api/v1/me", fresh)
    forged = lead[:-4] + "AAAA"
    await api_stack.get("/api/v1/me", forged)
    await api_stack.http.get("/api/v1/me", headers={"Authorization": f"Bearer {lead}x"})
    await api_stack.post(f"/api/v1/tokens/{fresh.split('_')[1]}/revoke", admin)
    await api_stack.get("/api/v1/me", fresh)

    secrets = [*api_stack.secrets, fresh, forged]
    captured = capfd.readouterr()
    logged = captured.out + captured.err + caplog.text
    assert "request served" in logged  # the capture did see the API's lines
    for secret in secrets:
        assert secret not in logged
        assert secret.split("_", 2)[2] not in logged  # not even the random part
    stored = await api_stack.pool.fetchval(
        "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM audit_log) t"
    ) + await api_stack.pool.fetchval(
        "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM idempotency_keys) t"
    )
    for secret in secrets:
        assert secret.split("_", 2)[2] not in stored


async def test_a_server_error_logs_no_secret(database_url: str, task_queue: str) -> None:
    """A 500 (here: no Temporal client at all) logs its traceback without frame locals,
    so the request's Authorization header and the token never reach the log."""
    root = logging.getLogger()
    rendered = io.StringIO()
    copy = logging.StreamHandler(rendered)  # the services' own formatter, into a buffer
    copy.setFormatter(root.handlers[0].formatter)
    root.addHandler(copy)
    try:
        secret = await _cause_a_server_error(database_url, task_queue)
    finally:
        root.removeHandler(copy)
    logged = rendered.getvalue()
    assert "AttributeError" in logged  # the traceback was logged
    assert secret.split("_", 2)[2] not in logged


async def _cause_a_server_error(database_url: str, task_queue: str) -> str:
    async with serve_api(None, database_url, task_queue, worker=False) as stack:  # type: ignore[arg-type]
        coordinator = await stack.token("coordinator")
        await stack.pool.execute(
            "INSERT INTO task_states (workflow_id, plan_id, task_id, stage, lead_unit,"
            " cooperating_units, escalation_level, extensions_granted, progress_percent,"
            " awaiting_reassignment, seq) VALUES ('p/1', 'p', '1', 'review', '市信息办', '{}',"
            " 0, 0, 0, false, 1)"
        )
        response = await stack.post("/api/v1/tasks/p/1/review", coordinator, {"approve": True})
        assert response.status_code == 500
    return coordinator
