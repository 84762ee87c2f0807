"""`duban token …`, `duban tasks` and `duban task show` as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import asyncpg

from tests.api.test_lifecycle_http import import_ledger
from tests.support.api import ApiStack


def duban(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={
            **os.environ,
            "DUBAN_DATABASE_URL": database_url,
            "DUBAN_LOG_FORMAT": "json",
            "COLUMNS": "200",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_token_issue_list_revoke(database_url: str) -> None:
    """A unit token under an alias is issued for the canonical unit, its secret printed
    once; the list shows scope and status and never the secret; revoke marks it."""
    issued = duban(database_url, "token", "issue", "--unit", "市发改委", "--expires", "30d")
    assert issued.returncode == 0, issued.stderr
    secret = issued.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"dbn_[a-z0-9]{10}_[A-Za-z0-9_-]{43}", secret)
    assert "市发展改革委" in issued.stdout
    token_id = secret.split("_")[1]
    coordinator = duban(
        database_url, "token", "issue", "--role", "coordinator", "--plan", "p1", "--plan", "p2"
    )
    assert coordinator.returncode == 0, coordinator.stderr
    listed = duban(database_url, "token", "list")
    assert listed.returncode == 0, listed.stderr
    assert token_id in listed.stdout
    assert "市发展改革委" in listed.stdout
    assert "p1, p2" in listed.stdout
    assert secret.split("_", 2)[2] not in listed.stdout
    revoked = duban(database_url, "token", "revoke", token_id)
    assert revoked.returncode == 0, revoked.stderr
    row = next(
        line
        for line in duban(database_url, "token", "list").stdout.splitlines()
        if token_id in line
    )
    assert "revoked" in row
    audited = asyncio.run(_audit_rows(database_url))
    assert [(r["method"], r["action"]) for r in audited] == [
        ("CLI", "issue-token"),
        ("CLI", "issue-token"),
        ("CLI", "revoke-token"),
    ]
    assert audited[0]["route"] == f"duban token issue → {token_id}"


async def _audit_rows(database_url: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetch("SELECT method, action, route FROM audit_log ORDER BY id")
    finally:
        await connection.close()


def test_token_for_an_unknown_unit_is_one_clear_line(database_url: str) -> None:
    """An unknown unit: exit 2, one line that names it and suggests near names."""
    result = duban(database_url, "token", "issue", "--unit", "市财政厅")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "市财政厅" in lines[0]
    assert "did you mean" in lines[0]
    assert "市财政局" in lines[0]
    for bad in (
        ["--role", "admin", "--unit", "市财政局"],
        ["--role", "admin", "--expires", "forever"],
        ["--role", "coordinator", "--plan", " "],
        ["--role", "admin", "--name", "a\x01b"],
    ):
        refused = duban(database_url, "token", "issue", *bad)
        assert refused.returncode == 2, (bad, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1
    assert "every plan" not in duban(database_url, "token", "list").stdout
    unknown = duban(database_url, "token", "revoke", "nope")
    assert (unknown.returncode, "no token" in unknown.stderr) == (2, True)


async def test_tasks_and_task_show_print_the_projection(
    api_stack: ApiStack, database_url: str
) -> None:
    """After an import, `duban tasks` lists the plan's tasks and `duban task show` one
    task's facts and timeline."""
    plan_id = await import_ledger(api_stack, await api_stack.token("coordinator"))
    listed = duban(database_url, "tasks", "--plan", plan_id)
    assert listed.returncode == 0, listed.stderr
    for task in ("/1", "/2", "/3"):
        assert f"{plan_id}{task}" in listed.stdout
    assert "3 tasks" in listed.stdout
    by_unit = duban(database_url, "tasks", "--unit", "市公安局")
    assert f"{plan_id}/1" in by_unit.stdout
    assert f"{plan_id}/3" not in by_unit.stdout
    shown = duban(database_url, "task", "show", f"{plan_id}/1")
    assert shown.returncode == 0, shown.stderr
    assert "市数据资源局" in shown.stdout
    assert "assigned" in shown.stdout
    missing = duban(database_url, "task", "show", f"{plan_id}/99")
    assert missing.returncode == 1
    assert "no task" in missing.stderr


def test_token_issue_prints_a_login_link_for_the_board(database_url: str) -> None:
    """`--login-link` prints, after the secret, a one-time link under DUBAN_PUBLIC_URL whose
    row (kept only as a hash) signs in as the new token."""
    issued = subprocess.run(
        [sys.executable, "-m", "cli", "token", "issue", "--unit", "市发改委", "--login-link"],
        env={
            **os.environ,
            "DUBAN_DATABASE_URL": database_url,
            "DUBAN_LOG_FORMAT": "json",
            "DUBAN_PUBLIC_URL": "https://duban.example.gov.cn/",
            "COLUMNS": "200",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert issued.returncode == 0, issued.stderr
    lines = issued.stdout.strip().splitlines()
    secret, link = lines[-3], lines[-1]
    match = re.fullmatch(r"https://duban\.example\.gov\.cn/login/([A-Za-z0-9_-]{43})", link)
    assert match, issued.stdout
    token_id = secret.split("_")[1]
    assert asyncio.run(_link_owner(database_url, match[1])) == token_id


async def _link_owner(database_url: str, link_secret: str) -> str | None:
    from store.web_sessions import peek_login_link

    connection = await asyncpg.connect(database_url)
    try:
        return await peek_login_link(connection, link_secret)
    finally:
        await connection.close()
