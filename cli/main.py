"""The ``duban`` command: the dev stack, the production services, and operator tools.

A user's mistake (a bad setting, a closed port, a port already taken) ends in one line on
stderr and a non-zero status, never a traceback; every command funnels through
:func:`_run` for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import traceback
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from cli.operators import task_app, tasks_command, token_app
from cli.preview import render_preview, render_simulation
from cli.temporal_ops import temporal_app
from domain.errors import DocumentError
from domain.parsers import parse_file
from domain.plan import ParsedPlan, preview_json
from domain.rebase import (
    REBASED_WARNING,
    RebaseError,
    parse_rebase_year,
    rebase_plan,
    rebase_years_for,
)
from domain.units import load_directory
from runtime.errors import ConfigurationError, DubanError
from runtime.log import configure_logging, redact_text
from runtime.process_exit import end_process, exit_status
from runtime.settings import LogFormat, Settings, get_settings
from runtime.temporal import connect_temporal

app = typer.Typer(
    name="duban",
    help="督办 Duban: municipal work-plan tasks as durable Temporal workflows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
stdout = Console(soft_wrap=True)  # a long line stays one line when piped
stderr = Console(stderr=True)


def _fail(message: str, code: int = 1) -> NoReturn:
    stderr.print(
        f"duban: error: {redact_text(message)}", markup=False, highlight=False, soft_wrap=True
    )
    raise typer.Exit(code)


def load_settings() -> Settings:
    """The settings, or one line per bad variable naming it."""
    try:
        return get_settings()
    except ValidationError as error:
        problems = "; ".join(
            f"DUBAN_{'_'.join(str(part) for part in problem['loc']).upper()}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ConfigurationError(problems) from None


def _run(
    main: Callable[[Settings, asyncio.Event], Coroutine[Any, Any, None]],
    *,
    default_log_format: LogFormat | None = None,
    handle_signals: bool = True,
) -> None:
    """Configure logging, run ``main`` until it returns or SIGINT/SIGTERM asks it to stop."""
    try:
        settings = load_settings()
    except DubanError as error:
        _fail(error.message, error.exit_code)
    log_format = settings.log_format
    if default_log_format is not None and log_format is LogFormat.AUTO:
        log_format = default_log_format
    configure_logging(log_format, settings.log_level, secrets=settings.secret_values())

    async def supervised() -> None:
        stop = asyncio.Event()
        if handle_signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
        await main(settings, stop)

    try:
        asyncio.run(supervised())
    except DubanError as error:
        _fail(error.message, error.exit_code)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@app.command()
def dev() -> None:
    """Run the whole stack here: PostgreSQL, Temporal, a worker and the API, in the foreground.

    State (database, workflow history, logs) lives in DUBAN_STATE_DIR (default .duban/), so a
    second run resumes where the first stopped. Ctrl-C stops everything it started.
    """
    from runtime.devstack import DevStackUrls, run_dev_stack

    async def announce(urls: DevStackUrls) -> None:
        table = Table(title="Duban is running", show_header=False, title_justify="left")
        table.add_row("API", urls.api)
        table.add_row("API docs", urls.api_docs)
        table.add_row("Temporal", urls.temporal_address)
        if urls.temporal_ui:
            table.add_row("Temporal UI", urls.temporal_ui)
        table.add_row("PostgreSQL", urls.database)
        if urls.worker_health:
            table.add_row("Worker health", urls.worker_health)
        table.add_row("State", str(urls.state_dir))
        for line in urls.example_plans:
            table.add_row("Example plan", escape(line))
        stdout.print(table)
        if urls.coordinator_token:
            # On a line of its own, so no table wraps it: it is meant to be copied.
            stdout.print(
                "Coordinator token for every plan (7 days; in /docs: Authorize), shown once:"
            )
            print(urls.coordinator_token, flush=True)
        if urls.sign_in_links:
            stdout.print(
                f"Sign in to the board (督办看板) at {urls.api}/ with these one-time links "
                "(7 days each):"
            )
            for who, link in urls.sign_in_links:
                stdout.print(f"  {escape(who)}:", highlight=False)
                print(f"  {link}", flush=True)
        stdout.print("Press Ctrl-C to stop.")

    async def main(settings: Settings, stop: asyncio.Event) -> None:
        await run_dev_stack(settings, stop, announce)

    _run(main, default_log_format=LogFormat.CONSOLE)


@app.command()
def worker() -> None:
    """Run a Temporal worker (production entry point); SIGTERM drains in-flight activities."""
    from workers.service import run_worker

    _run(run_worker)


@app.command()
def api() -> None:
    """Serve the coordinator HTTP API (production entry point)."""
    from api.server import run_api

    async def main(settings: Settings, _stop: asyncio.Event) -> None:
        await run_api(settings)

    # uvicorn handles SIGINT/SIGTERM itself: it stops accepting, finishes requests, exits.
    _run(main, handle_signals=False)


@app.command()
def migrate() -> None:
    """Apply pending database migrations; safe to run from several replicas at once."""
    from store.migrate import migrate_from_settings

    async def main(settings: Settings, _stop: asyncio.Event) -> None:
        applied = await migrate_from_settings(settings)
        if applied:
            for migration in applied:
                stdout.print(f"applied {migration.version:04d}_{migration.name}")
        else:
            stdout.print("database is up to date")

    _run(main)


@app.command()
def check(
    hold: Annotated[
        float,
        typer.Option(
            min=0, max=600, help="Seconds the worker holds the check in flight (to test a drain)."
        ),
    ] = 0.0,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for a worker.")] = 30.0,
) -> None:
    """Prove the running stack end to end: a workflow asks a worker to write one row."""
    from temporalio.client import WorkflowFailureError
    from temporalio.service import RPCError

    from workflows.stack_check import StackCheckRequest, StackCheckWorkflow

    async def main(settings: Settings, _stop: asyncio.Event) -> None:
        client = await connect_temporal(settings)
        now = datetime.now(UTC)
        request = StackCheckRequest(
            check_id=f"stack-check-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
            requested_at=now,
            hold=timedelta(seconds=hold),
        )
        try:
            result = await asyncio.wait_for(
                client.execute_workflow(
                    StackCheckWorkflow.run,
                    request,
                    id=request.check_id,
                    task_queue=settings.temporal_task_queue,
                ),
                timeout=timeout + hold,
            )
        except TimeoutError:
            raise DubanError(
                f"no worker finished the check within {timeout + hold:.0f} s on task queue "
                f"{settings.temporal_task_queue!r}; is `duban worker` running? "
                f"(workflow {request.check_id} stays visible in Temporal)"
            ) from None
        except (WorkflowFailureError, RPCError) as error:
            raise DubanError(f"the check failed: {error}") from None
        table = Table(title="Stack check passed", show_header=False, title_justify="left")
        table.add_row("workflow", escape(result.check_id))
        table.add_row("worker", escape(result.worker_identity))
        table.add_row("recorded at", result.recorded_at.isoformat())
        table.add_row("attempt", str(result.attempt))
        stdout.print(table)

    _run(main)


DOCUMENT_ERROR_EXIT = 2

PlanFile = Annotated[
    Path,
    typer.Argument(
        help="A plan document: text (UTF-8, GB18030, UTF-16), CSV, XLSX or XLS ledger, DOCX, "
        "HTML or PDF (with a text layer); .doc/.wps where LibreOffice is installed.",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]
UnitsOption = Annotated[
    Path | None,
    typer.Option("--units", help="A unit directory (TOML) instead of the bundled one."),
]
RebaseYearOption = Annotated[
    str | None,
    typer.Option(
        "--rebase-year",
        metavar="YEAR",
        help="Shift every date by whole years so that the plan's first year (its period "
        "start) becomes YEAR (1990-2100): deadlines, issue date, period and starts, the "
        "text as written; 29 February becomes 28 February in a common year. The preview "
        "says so (dates_rebased).",
    ),
]


def _parse_or_fail(path: Path, units: Path | None) -> ParsedPlan:
    try:
        directory = load_directory(units) if units else None
    except DocumentError as error:
        _fail(f"{error}; cannot use it as the unit directory", DOCUMENT_ERROR_EXIT)
    except (OSError, ValueError) as error:
        _fail(f"{units}: cannot use this unit directory: {error}", DOCUMENT_ERROR_EXIT)
    try:
        return parse_file(path, directory)
    except DocumentError as error:
        _fail(str(error), DOCUMENT_ERROR_EXIT)


def _check_rebase_year(rebase_year: str | None) -> int | None:
    """The --rebase-year given, checked before anything is read, or one line and exit 2."""
    if rebase_year is None:
        return None
    try:
        return parse_rebase_year(rebase_year)
    except RebaseError as error:
        _fail(str(error), DOCUMENT_ERROR_EXIT)


def _rebased_or_fail(parsed: ParsedPlan, rebase_year: int | None, path: Path) -> ParsedPlan:
    if rebase_year is None:
        return parsed
    try:
        return rebase_plan(parsed, rebase_years_for(parsed, rebase_year))
    except RebaseError as error:
        _fail(f"{path.name}: --rebase-year {rebase_year}: {error}", DOCUMENT_ERROR_EXIT)


@app.command()
def parse(
    path: PlanFile,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    units: UnitsOption = None,
    xlsx: Annotated[
        Path | None,
        typer.Option(
            "--xlsx",
            help="Also write the plan as an editable 台账 (XLSX) to correct in a spreadsheet "
            "and import with `duban import`.",
            dir_okay=False,
        ),
    ] = None,
    rebase_year: RebaseYearOption = None,
) -> None:
    """Read a plan document and show what would be imported, with flags and warnings."""
    year = _check_rebase_year(rebase_year)
    parsed = _rebased_or_fail(_parse_or_fail(path, units), year, path)
    if xlsx is not None:
        _write_editable_ledger(parsed, path, xlsx)
    if as_json:
        print(json.dumps(preview_json(parsed), ensure_ascii=False, indent=1))
    else:
        render_preview(parsed, stdout)


def _write_editable_ledger(parsed: ParsedPlan, source: Path, out: Path) -> None:
    """The editable 台账 at ``out``, whole or not at all (written beside it, then renamed)."""
    from domain.parsers.editable_ledger import EditableLedgerError, write_editable_ledger

    if out.resolve() == source.resolve():
        _fail(f"{out}: is the document being read; write the 台账 to another file")
    try:
        data = write_editable_ledger(parsed)
    except EditableLedgerError as error:
        _fail(f"{source.name}: cannot write an editable 台账: {error}", DOCUMENT_ERROR_EXIT)
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        partial.write_bytes(data)
        partial.replace(out)
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink()
        _fail(f"{out}: cannot write the 台账: {error.strerror or error}")
    stderr.print(
        f"wrote {out}: {len(parsed.tasks)} tasks, {len(parsed.warnings)} warnings; "
        f"correct it in a spreadsheet, then `duban import {out}`",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@app.command(name="import")
def import_(
    path: PlanFile,
    update: Annotated[
        bool, typer.Option("--update", help="Apply changes to an already imported plan.")
    ] = False,
    accept_warnings: Annotated[
        bool,
        typer.Option("--accept-warnings", help="Import although the preview shows warnings."),
    ] = False,
    plan_id: Annotated[
        str | None, typer.Option("--plan-id", help="Plan id (default: from the file name).")
    ] = None,
    units: UnitsOption = None,
    rebase_year: RebaseYearOption = None,
) -> None:
    """Store a plan's tasks in one transaction and start one TaskWorkflow per task."""
    from services.plan_import import import_plan
    from store.db import create_pool

    year = _check_rebase_year(rebase_year)
    parsed = _rebased_or_fail(_parse_or_fail(path, units), year, path)
    if plan_id:
        parsed = parsed.model_copy(update={"plan": parsed.plan.model_copy(update={"id": plan_id})})

    async def main(settings: Settings, stop: asyncio.Event) -> None:
        _quiet_temporal_core()
        client = await connect_temporal(settings)
        pool = await create_pool(settings.effective_database_url, settings=settings)
        try:
            with Progress(transient=True, console=stderr) as progress:
                bar = progress.add_task("starting task workflows", total=None)
                importing = asyncio.create_task(
                    import_plan(
                        parsed,
                        pool=pool,
                        client=client,
                        task_queue=settings.temporal_task_queue,
                        update=update,
                        accept_warnings=accept_warnings,
                        on_progress=lambda done, total: progress.update(
                            bar, completed=done, total=total
                        ),
                        update_timeout=settings.temporal_update_timeout_seconds,
                        give_up_after=settings.import_give_up_seconds,
                    )
                )
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait({importing, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if not importing.done():
                    importing.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await importing
                    raise DubanError(
                        "interrupted: nothing half-done is left; run the same import again "
                        "to finish what was not"
                    )
                try:
                    outcome = importing.result()
                except DubanError as error:
                    with contextlib.suppress(Exception):  # the refusal is what to report
                        await _audit_import(pool, path, parsed.plan.id, type(error).__name__)
                    raise
            await _audit_import(pool, path, outcome.plan_id, None)
        finally:
            await pool.close()
        verb = {
            "imported": "imported",
            "updated": "updated",
            "unchanged": "already imported, unchanged",
        }[outcome.status]
        stdout.print(
            f"plan {outcome.plan_id!r} {verb}: {outcome.diff.summary()}; "
            f"{outcome.workflows_started} task workflows started"
            + (f", {outcome.revised} revised" if outcome.revised else "")
            + (f", {outcome.withdrawn} withdrawn" if outcome.withdrawn else ""),
            markup=False,
        )
        for note in outcome.notes:  # what the import did not do, and why
            stdout.print(note, markup=False, highlight=False)
        for warning in parsed.warnings:
            if warning.code == REBASED_WARNING:
                stdout.print(warning.message, markup=False, highlight=False)

    _run(main)


def _quiet_temporal_core() -> None:
    """Keep the Temporal core's warnings off the terminal for an import: while Temporal is
    down the core logs every retry of every start (thousands of lines for one plan), and the
    import says what failed in one line of its own. Errors still show."""
    from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    Runtime.set_default(
        Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet))),
        error_if_already_set=False,
    )


async def _audit_import(pool: Any, path: Path, plan_id: str, error: str | None) -> None:
    from store import audit

    async with pool.acquire() as connection:
        await audit.append_command(
            connection,
            f"duban import {path.name}",
            action="import",
            plan_id=plan_id,
            status=200 if error is None else 409 if error == "ImportRefusedError" else 503,
            error_code=error,
        )


@app.command()
def simulate(
    path: PlanFile,
    start: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day played.")
    ],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day played.")],
    behaviour: Annotated[
        str,
        typer.Option(help="How the units behave: on-time, late, silent or mixed."),
    ] = "mixed",
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line for every event.")
    ] = False,
    units: UnitsOption = None,
) -> None:
    """Play a plan's tasks on the time-skipping server and show what they would generate."""
    from services.simulate import BEHAVIOURS
    from services.simulate import simulate as run_simulation

    if behaviour not in BEHAVIOURS:
        _fail(f"--behaviour must be one of {', '.join(BEHAVIOURS)}", DOCUMENT_ERROR_EXIT)
    if end < start:
        _fail("--to is before --from", DOCUMENT_ERROR_EXIT)
    parsed = _parse_or_fail(path, units)

    async def main(_settings: Settings, _stop: asyncio.Event) -> None:
        with Progress(transient=True, console=stderr) as progress:
            bar = progress.add_task("playing the plan", total=None)
            result = await run_simulation(
                parsed,
                start.date(),
                end.date(),
                behaviour,
                on_progress=lambda done, total: progress.update(bar, completed=done, total=total),
            )
        if as_json:
            for event in result.events:
                print(json.dumps(event.as_json(), ensure_ascii=False))
            return
        render_simulation(result, stdout)

    _run(main)


@app.command()
def report(
    month: Annotated[str, typer.Argument(help="The month, YYYY-MM (Asia/Shanghai).")],
    plan: Annotated[
        str | None, typer.Option(help="One plan's notice; without it, all plans'.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="docx, xlsx, html, md, csv or png.")
    ] = "docx",
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Where to write it; default notice-MONTH[-PLAN].FMT."),
    ] = None,
) -> None:
    """Write one month's notice (一月一通报) over a plan or all plans."""
    from services import notices
    from store.db import create_pool

    try:
        month = notices.parse_month(month)
        fmt = notices.parse_format(fmt)
    except notices.NoticeInputError as error:
        _fail(error.message, error.exit_code)
    target = output or Path(f"notice-{month}{f'-{plan}' if plan else ''}.{fmt}")

    async def main(settings: Settings, _stop: asyncio.Event) -> None:
        pool = await create_pool(settings.effective_database_url, settings=settings, max_size=2)
        try:
            content = await notices.notice_file(pool, month, fmt, plan)
        finally:
            await pool.close()
        try:
            target.write_bytes(content)
        except OSError as error:
            raise DubanError(f"{target}: cannot write the notice: {error.strerror}") from None
        stdout.print(f"wrote {target} ({len(content)} bytes)", markup=False, highlight=False)

    _run(main)


app.add_typer(token_app, name="token")
app.add_typer(task_app, name="task")
app.add_typer(temporal_app, name="temporal")
app.command(name="tasks")(tasks_command)


def main() -> None:
    """The ``duban`` command: the whole command runs, then the process ends without
    finalising the interpreter under the Temporal core's threads (runtime.process_exit)."""
    try:
        app()
    except SystemExit as stopped:
        end_process(exit_status(stopped.code))
    except Exception:  # a bug: its traceback, and the same clean end
        traceback.print_exc()
        end_process(1)
    end_process(0)


if __name__ == "__main__":  # pragma: no cover
    main()
