"""导入计划 over plain HTTP: what the page refuses, beside the field or as a whole, and that a
refusal stages, imports and starts nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.support.api import ApiStack
from tests.support.plans import future_ledger, unique_name
from tests.support.web import hidden_field, token_signed_in_client


@asynccontextmanager
async def _signed_in(stack: ApiStack, secret: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A browser-like client signed in with a pasted token, and its session's CSRF token."""
    async with token_signed_in_client(stack, secret) as client:
        form = await client.get("/plans/import")
        assert form.status_code == 200
        yield client, hidden_field(form.text, "csrf_token")


async def _preview(
    client: httpx.AsyncClient, csrf: str, name: str, data: bytes, plan_id: str = ""
) -> httpx.Response:
    return await client.post(
        "/plans/import/preview",
        data={"csrf_token": csrf, "plan_id": plan_id},
        files={"file": (name, data, "text/csv")},
    )


async def test_a_commit_without_the_forms_csrf_token_imports_nothing(stack: ApiStack) -> None:
    async with _signed_in(stack, await stack.token("coordinator")) as (client, csrf):
        staged = await _preview(client, csrf, unique_name("csrf.csv"), future_ledger())
        assert staged.status_code == 303
        preview_path = staged.headers["location"]
        commit_path = f"{preview_path}/commit"
        forged = await client.post(commit_path, data={})
        assert forged.status_code == 403
        assert "没有执行任何操作" in forged.text
        assert await stack.pool.fetchval("SELECT count(*) FROM plans") == 0

        committed = await client.post(commit_path, data={"csrf_token": csrf})
        assert committed.status_code == 303
        assert committed.headers["location"].startswith("/board?plan=csrf-")
    rows = await stack.pool.fetch(
        "SELECT status, error_code, action, plan_id FROM audit_log"
        " WHERE route LIKE '%/commit' ORDER BY id"
    )
    assert [(row["status"], row["error_code"]) for row in rows] == [
        (403, "csrf_refused"),
        (303, None),
    ]
    assert rows[1]["action"] == "import"
    assert rows[1]["plan_id"].startswith("csrf-")


async def test_a_plan_id_is_checked_beside_its_field_and_nothing_is_staged(
    stack: ApiStack,
) -> None:
    mine = unique_name("mine.csv").removesuffix(".csv")
    secret = await stack.token("coordinator", plans=(mine,))
    async with _signed_in(stack, secret) as (client, csrf):
        malformed = await _preview(client, csrf, "ledger.csv", future_ledger(), "Not A Slug")
        assert malformed.status_code == 422
        assert 'id="plan-id-error"' in malformed.text
        assert "小写字母" in malformed.text

        theirs = await _preview(client, csrf, unique_name("theirs.csv"), future_ledger())
        assert theirs.status_code == 403
        assert 'id="plan-id-error"' in theirs.text
        assert "不是计划 theirs-" in theirs.text

        empty = await client.post(
            "/plans/import/preview",
            data={"csrf_token": csrf},
            files={"file": ("", b"", "application/octet-stream")},
        )
        assert empty.status_code == 422
        assert 'id="file-error"' in empty.text
        assert await stack.pool.fetchval("SELECT count(*) FROM web_uploads") == 0

        own = await _preview(client, csrf, "ledger.csv", future_ledger(), mine)
        assert own.status_code == 303
        page = await client.get(own.headers["location"])
        assert f'<td id="plan-id">{mine}</td>' in page.text


async def test_an_upload_is_its_tokens_only(stack: ApiStack) -> None:
    async with (
        _signed_in(stack, await stack.token("coordinator")) as (first, csrf),
        _signed_in(stack, await stack.token("coordinator")) as (second, other_csrf),
    ):
        staged = await _preview(first, csrf, unique_name("own.csv"), future_ledger())
        preview_path = staged.headers["location"]
        ledger = await first.get(f"{preview_path}/ledger.xlsx")
        assert ledger.status_code == 200
        assert "filename*=UTF-8''own-" in ledger.headers["content-disposition"]
        for answer in (
            await second.get(preview_path),
            await second.get(f"{preview_path}/ledger.xlsx"),
            await second.post(f"{preview_path}/commit", data={"csrf_token": other_csrf}),
        ):
            assert answer.status_code == 404
            assert "没有这份上传的文件" in answer.text
    assert await stack.pool.fetchval("SELECT count(*) FROM plans") == 0
