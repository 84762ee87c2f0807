"""Operator commands that need only PostgreSQL: API tokens (``duban token …``) and what the
projection holds (``duban tasks``, ``duban task show PLAN/TASK``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.preview import wide
from domain.access import Principal
from domain.lifecycle import Stage
from runtime.errors import DubanError
from runtime.settings import Settings
from store.db import Connection

token_app = typer.Typer(help="API tokens: issue (the secret is shown once), list, revoke.")
task_app = typer.Typer(help="One task as the projection holds it.")
stdout = wide(Console(soft_wrap=True))
# The operator sees every plan and every unit; the command line acts on no task.
OPERATOR = Principal(token_id="cli", role="admin", name="operator")  # noqa: S106 - an id

Runner = Callable[[Callable[[Settings, asyncio.Event], Coroutine[Any, Any, None]]], None]


def _runner() -> Runner:
    from cli.main import _run  # the one place that turns errors into one line

    return _run


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[Connection]:
    from store.db import create_pool

    pool = await create_pool(settings.effective_database_url, settings=settings, max_size=1)
    try:
        async with pool.acquire() as connection:
            yield connection
    finally:
        await pool.close()


@token_app.command("issue")
def token_issue(
    unit: Annotated[
        str | None, typer.Option(help="The unit the token acts for (a unit token).")
    ] = None,
    role: Annotated[
        str | None, typer.Option(help="unit (with --unit), coordinator or admin.")
    ] = None,
    plan: Annotated[
        list[str] | None,
        typer.Option(help="A coordinator's plan (repeat for several; none: every plan)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Who holds it, for lists and logs.")] = None,
    expires: Annotated[str, typer.Option(help="Lifetime: hours, days or weeks (90d).")] = "90d",
    login_link: Annotated[
        bool,
        typer.Option(
            "--login-link",
            help="Also print a one-time link that signs a browser in to the board with this "
            "token (valid 7 days; DUBAN_PUBLIC_URL is its address).",
        ),
    ] = False,
) -> None:
    """Issue a token. Its secret is printed once and stored only as a hash."""
    from services import access_tokens
    from store import audit
    from web.links import issue_login_link

    chosen = role or ("unit" if unit else None)
    if chosen not in {"unit", "coordinator", "admin"}:
        raise typer.BadParameter("give --unit NAME, or --role coordinator or --role admin")
    token_role: Literal["unit", "coordinator", "admin"] = chosen  # type: ignore[assignment]

    async def main(settings: Settings, _stop: asyncio.Event) -> None:
        lifetime = access_tokens.parse_expiry(expires)
        async with _database(settings) as connection, connection.transaction():
            issued = await access_tokens.issue(
                connection,
                role=token_role,
                unit=unit,
                plans=tuple(plan) if plan else None,
                name=name,
                expires_in=lifetime,
            )
            record = issued.record
            await audit.append_command(
                connection, f"duban token issue → {record.token_id}", action="issue-token"
            )
            link = (
                await issue_login_link(connection, settings.effective_public_url, record.token_id)
                if login_link
                else None
            )
        scope = record.unit or (", ".join(record.plans) if record.plans else "every plan")
        stdout.print(
            f"token {record.token_id} ({record.role}: {scope}) expires "
            f"{record.expires_at:%Y-%m-%d %H:%M} UTC. Its secret, shown only now:",
            highlight=False,
            markup=False,
        )
        print(issued.secret)
        if link is not None:
            stdout.print("Its one-time sign-in link for the board (督办看板):", highlight=False)
            print(link)

    _runner()(main)


@token_app.command("list")
def token_list() -> None:
    """Every token with its role, scope and status (never a secret)."""
    from store import tokens

    async def main(settings: Settings, _stop: asyncio.Event) -> None:
        async with _database(settings) as connection:
            records = await tokens.list_tokens(connection)
        table = Table("id", "role", "unit / plans", "name", "expires (UTC)", "status")
        now = datetime.now(UTC)
        for record in records:
            scope = record.unit or (", ".join(record.plans) if record.plans else "—")
            table.add_row(
                record.token_id,
                record.role,
                escape(scope),
                escape(record.name),
                f"{record.expires_at:%Y-%m-%d %H:%M}",
                record.status(now),
            )
        stdout.print(table)

    _runner()(main)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="The token's id.")]) -> None:
    """Revoke a token: it is refused from the next request on."""
    from services.access_tokens import TokenRequestError
    from store import audit, tokens

    async def main(settings: Settings, _stop: asyncio.Event) -> None:
        async with _database(settings) as connection, connection.transaction():
            record = await tokens.revoke_token(connection, token_id)
            if record is not None:
                await audit.append_command(
                    connection, f"duban token revoke {token_id}", action="revoke-token"
                )
        if record is None:
            raise TokenRequestError(f"no token {token_id!r}; `duban token list` shows them")
        stdout.print(f"token {escape(token_id)} revoked at {record.revoked_at:%Y-%m-%d %H:%M} UTC")

    _runner()(main)


def tasks_command(
    plan: Annotated[str | None, typer.Option(help="Only this plan.")] = None,
    unit: Annotated[
        str | None, typer.Option(help="Tasks this unit leads or cooperates on.")
    ] = None,
    stage: Annotated[Stage | None, typer.Option(help="Only this stage.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue tasks.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
) -> None:
    """The tasks the projection holds, least time left first."""
    from store import task_reads

    async def main(settings: Settings, _stop: asyncio.Event) -> None:
        filters = task_reads.TaskFilter(
            plan=plan,
            unit=unit,
            stage=stage.value if stage else None,
            overdue=True if overdue else None,
        )
        async with _database(settings) as connection:
            rows, more = await task_reads.list_tasks(connection, OPERATOR, filters, limit=limit)
        table = Table("task", "stage", "light", "lead 牵头", "due", "overdue", "text")
        for row in rows:
            table.add_row(
                escape(row["workflow_id"]),
                f"{row['stage']} {Stage(row['stage']).label}",
                row["light"],
                escape(row["lead_unit"] or "—"),
                row["next_due"].isoformat() if row["next_due"] else "—",
                f"{row['overdue_days']} d" if row["overdue_days"] else "",
                escape(row["text"][:30]),
            )
        stdout.print(table)
        shown = f"{len(rows)} tasks" + (f" (more: raise --limit above {limit})" if more else "")
        stdout.print(shown if rows else "no tasks (is a plan imported? `duban import FILE`)")

    _runner()(main)


@task_app.command("show")
def task_show(
    task: Annotated[str, typer.Argument(help="PLAN/TASK, e.g. chuzhou-2018/7")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """One task with its whole timeline from the event log."""
    from store import task_reads

    if "/" not in task:
        raise typer.BadParameter("expected PLAN/TASK, e.g. chuzhou-2018/7")

    async def main(settings: Settings, _stop: asyncio.Event) -> None:
        async with _database(settings) as connection:
            detail = await task_reads.task_detail(connection, task)
        if detail is None:
            raise DubanError(f"no task {task} in the projection; `duban tasks` lists them")
        if as_json:
            print(json.dumps(detail, ensure_ascii=False, default=str, indent=1))
            return
        _render_detail(detail)

    _runner()(main)


def _render_detail(detail: dict[str, Any]) -> None:
    # Names and texts come from documents and API callers: printed as written, never as markup.
    stdout.print(f"[bold]{escape(detail['workflow_id'])}[/bold]  {escape(detail['text'])}")
    facts = Table(show_header=False)
    facts.add_row("stage", f"{detail['stage']} {Stage(detail['stage']).label}")
    facts.add_row("light", detail["light"])
    facts.add_row("lead 牵头", escape(detail["lead_unit"] or "—"))
    facts.add_row("cooperating 配合", escape("、".join(detail["cooperating_units"]) or "—"))
    facts.add_row("due", detail["next_due"].isoformat() if detail["next_due"] else "—")
    facts.add_row("escalation 督办", str(detail["escalation_level"]))
    facts.add_row("progress", f"{detail['progress_percent']}%")
    stdout.print(facts)
    timeline = Table("seq", "at (UTC)", "event", "by", "stage", "detail")
    for event in detail["timeline"]:
        extra = {k: v for k, v in event["detail"].items() if v not in (None, [], "", 0)}
        timeline.add_row(
            str(event["seq"]),
            f"{event['at']:%Y-%m-%d %H:%M}",
            event["kind"],
            escape(event["actor_unit"] or event["actor_role"] or ""),
            event["stage_after"] or "",
            escape(json.dumps(extra, ensure_ascii=False)[:60]) if extra else "",
        )
    stdout.print(timeline)
