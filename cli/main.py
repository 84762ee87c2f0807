"""The ``duban`` command: the dev stack, the production services, and operator tools.

A user's mistake (a bad setting, a closed port, a port already taken) ends in one line on
stderr and a non-zero status, never a traceback; every command funnels through
:func:`_run` for that.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from runtime.errors import ConfigurationError, DubanError
from runtime.log import configure_logging
from runtime.settings import LogFormat, Settings, get_settings

app = typer.Typer(
    name="duban",
    help="督办 Duban: municipal work-plan tasks as durable Temporal workflows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
stdout = Console()
stderr = Console(stderr=True)


def _fail(message: str, code: int = 1) -> NoReturn:
    stderr.print(f"duban: error: {message}", markup=False, highlight=False, soft_wrap=True)
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
    configure_logging(log_format, settings.log_level)

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
        stdout.print(table)
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
    from store.migrate import migrate_database

    async def main(settings: Settings, _stop: asyncio.Event) -> None:
        applied = await migrate_database(settings.effective_database_url, settings=settings)
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

    from runtime.temporal import connect_temporal
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
        table.add_row("workflow", result.check_id)
        table.add_row("worker", result.worker_identity)
        table.add_row("recorded at", result.recorded_at.isoformat())
        table.add_row("attempt", str(result.attempt))
        stdout.print(table)

    _run(main)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
