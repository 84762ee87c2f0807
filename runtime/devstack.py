"""``duban dev``: the whole stack on one machine, supervised by one foreground process.

Start order: PostgreSQL and the Temporal dev server (only those not configured by
environment), migrations, then one worker and the API as child processes running the same
``duban worker`` / ``duban api`` entry points production uses, then the example plans.
Every child sits in its own process group, so Ctrl-C reaches only this supervisor, which
then stops them in reverse order (API, worker draining its activities, Temporal,
PostgreSQL); a stop request during start-up cancels the start-up and stops whatever had
started. Each child also carries a parent-death signal, so even if the supervisor is
killed outright nothing is orphaned. If any child exits on its own, the supervisor stops
the rest and reports which one died. One lock file keeps a second ``duban dev`` out of a
state directory that is in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

import httpx

from domain.calendar import local_date
from runtime.embedded import (
    EmbeddedPostgres,
    EmbeddedTemporal,
    ensure_port_free,
    spawn_child,
    stop_child,
    wait_until_ready,
)
from runtime.errors import ConfigurationError, DubanError, ServiceStartError
from runtime.log import current_log_format, get_logger
from runtime.settings import Settings
from runtime.temporal import connect_temporal
from store.db import create_pool, describe_dsn
from store.migrate import migrate_database
from store.tokens import IssuedToken

log = get_logger(__name__)

# The name the board shows for the dev coordinator; every token `duban dev` issues carries
# it, so that the next run revokes them all.
DEV_TOKEN_NAME = "督查室（duban dev）"  # noqa: S105 - the token's name, not its secret
# The five reference plans: beside the packages in a checkout and in an installed wheel.
EXAMPLE_PLANS = Path(__file__).resolve().parent.parent / "examples" / "plans"


@dataclass(frozen=True)
class DevStackUrls:
    api: str
    api_docs: str
    temporal_address: str
    temporal_ui: str | None
    database: str
    worker_health: str | None
    state_dir: Path
    example_plans: list[str] = field(default_factory=list)
    coordinator_token: str | None = None  # for trying the API in /docs at once
    # (who, one-time link) for the board: the coordinator and the two busiest lead units.
    sign_in_links: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Child:
    name: str
    process: asyncio.subprocess.Process
    stop_timeout: float = 20.0


@contextlib.contextmanager
def state_dir_lock(state: Path) -> Iterator[None]:
    """Hold ``state/duban.lock`` for as long as this stack runs, or say who holds it."""
    try:
        state.mkdir(parents=True, exist_ok=True)
        (state / "logs").mkdir(exist_ok=True)
        lock: IO[str] = (state / "duban.lock").open("a+")
    except OSError as error:
        raise ConfigurationError(
            f"cannot use state directory {state} (DUBAN_STATE_DIR): {error.strerror}"
        ) from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise ConfigurationError(
                f"state directory {state} (DUBAN_STATE_DIR) is in use by `duban dev` "
                f"(pid {holder}); stop it or choose another state directory"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield


@dataclass
class DevStack:
    settings: Settings
    postgres: EmbeddedPostgres | None = None
    temporal: EmbeddedTemporal | None = None
    children: list[_Child] = field(default_factory=list)

    def check_ports(self) -> None:
        """Fail before starting anything if a port this stack listens on is taken."""
        s = self.settings
        wanted: list[tuple[str, int, str]] = []
        if s.uses_embedded_postgres:
            wanted.append(("127.0.0.1", s.embedded_postgres_port, "DUBAN_EMBEDDED_POSTGRES_PORT"))
        if s.uses_embedded_temporal:
            wanted += [
                ("127.0.0.1", s.embedded_temporal_port, "DUBAN_EMBEDDED_TEMPORAL_PORT"),
                ("127.0.0.1", s.embedded_temporal_ui_port, "DUBAN_EMBEDDED_TEMPORAL_UI_PORT"),
            ]
        wanted.append((s.api_host, s.api_port, "DUBAN_API_PORT"))
        if s.worker_health_port:
            wanted.append((s.worker_health_host, s.worker_health_port, "DUBAN_WORKER_HEALTH_PORT"))
        for host, port, setting in wanted:
            ensure_port_free(host, port, setting)

    async def start(self) -> DevStackUrls:
        s = self.settings
        state = s.state_path
        try:
            await self._start_servers()
        except* DubanError as group:
            raise group.exceptions[0] from None  # one line for the user, not a group
        applied = await migrate_database(s.effective_database_url, settings=s)
        log.info("migrations applied", versions=[migration.version for migration in applied])
        # Only on the embedded database: a configured one is somebody's real data.
        issued = await self._issue_dev_token() if s.uses_embedded_postgres else None
        env = {
            **os.environ,
            "DUBAN_STATE_DIR": str(state),
            # The children write to the same terminal, so they speak the supervisor's format.
            "DUBAN_LOG_FORMAT": current_log_format().value,
        }
        worker = await self._spawn_entry_point("worker", env)
        self.children.append(_Child("worker", worker, s.worker_shutdown_grace_seconds + 10))
        self.children.append(_Child("api", await self._spawn_entry_point("api", env)))
        api = f"http://{s.api_host}:{s.api_port}"
        await self._wait_healthy("api", f"{api}/healthz")
        worker_health = None
        if s.worker_health_port:
            worker_health = f"http://{s.worker_health_host}:{s.worker_health_port}"
            await self._wait_healthy("worker", f"{worker_health}/readyz")
        examples = await self._load_example_plans() if s.dev_load_examples else []
        links = await self._sign_in_links(issued.record.token_id) if issued else []
        return DevStackUrls(
            coordinator_token=issued.secret if issued else None,
            sign_in_links=links,
            example_plans=examples,
            api=api,
            api_docs=f"{api}/docs",
            temporal_address=s.effective_temporal_address,
            temporal_ui=self.temporal.ui_url if self.temporal else None,
            database=describe_dsn(s.effective_database_url),
            worker_health=worker_health,
            state_dir=state,
        )

    async def _start_servers(self) -> None:
        s = self.settings
        state = s.state_path
        async with asyncio.TaskGroup() as servers:  # one failing cancels the other
            if s.uses_embedded_postgres:
                self.postgres = EmbeddedPostgres(
                    state / "postgres" / "data", port=s.embedded_postgres_port
                )
                servers.create_task(self.postgres.start())
            if s.uses_embedded_temporal:
                self.temporal = EmbeddedTemporal(
                    state / "temporal" / "temporal.db",
                    port=s.embedded_temporal_port,
                    ui_port=s.embedded_temporal_ui_port,
                    namespace=s.temporal_namespace,
                )
                servers.create_task(self.temporal.start())

    async def wait_for_exit(self, stop: asyncio.Event) -> None:
        """Return when ``stop`` is set; raise if a child exits first."""
        watched = {
            asyncio.create_task(child.process.wait(), name=child.name): child
            for child in self._all_children()
        }
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({stopping, *watched}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopping, *watched):
            task.cancel()
        died = [watched[task] for task in done if task in watched]
        if died and not stop.is_set():
            child = died[0]
            raise ServiceStartError(
                f"{child.name} exited unexpectedly with status {child.process.returncode}; "
                f"stopping the stack (logs in {self.settings.state_path / 'logs'})"
            )

    async def stop(self) -> None:
        """Stop in reverse order of dependency: API, worker, then the servers."""
        for child in reversed(self.children):
            await stop_child(child.process, timeout=child.stop_timeout)
        servers = [server.stop() for server in (self.temporal, self.postgres) if server]
        await asyncio.gather(*servers)

    def _all_children(self) -> list[_Child]:
        servers = [
            _Child(name, server.process)
            for name, server in (("temporal", self.temporal), ("postgres", self.postgres))
            if server is not None and server.process is not None
        ]
        return [*self.children, *servers]

    async def _issue_dev_token(self) -> IssuedToken:
        """A coordinator token for every plan, for this run on the embedded database: the
        previous run's is revoked (its secret was shown once and is gone), so only one dev
        token is ever live."""
        from services.access_tokens import issue
        from store.tokens import revoke_tokens_named

        s = self.settings
        pool = await create_pool(s.effective_database_url, settings=s, max_size=1)
        try:
            async with pool.acquire() as connection, connection.transaction():
                await revoke_tokens_named(connection, DEV_TOKEN_NAME)
                issued = await issue(
                    connection,
                    role="coordinator",
                    name=DEV_TOKEN_NAME,
                    expires_in=timedelta(days=7),
                )
        finally:
            await pool.close()
        return issued

    async def _sign_in_links(self, coordinator_token_id: str) -> list[tuple[str, str]]:
        """One-time board links: the dev coordinator's, and one each for the two units that
        lead the most open tasks (their tokens are this run's too: the next run revokes
        them with the coordinator's)."""
        from services.access_tokens import issue
        from web.links import issue_login_link

        s = self.settings
        public_url = s.effective_public_url
        pool = await create_pool(s.effective_database_url, settings=s, max_size=1)
        try:
            async with pool.acquire() as connection, connection.transaction():
                links = [
                    (
                        "督查室 (coordinator)",
                        await issue_login_link(connection, public_url, coordinator_token_id),
                    )
                ]
                busiest = await connection.fetch(
                    """
                    SELECT lead_unit FROM task_states
                    WHERE closed_at IS NULL AND lead_unit IS NOT NULL
                    GROUP BY lead_unit ORDER BY count(*) DESC, lead_unit LIMIT 2
                    """
                )
                for row in busiest:
                    unit = row["lead_unit"]
                    token = await issue(
                        connection,
                        role="unit",
                        unit=unit,
                        name=DEV_TOKEN_NAME,
                        expires_in=timedelta(days=7),
                    )
                    link = await issue_login_link(connection, public_url, token.record.token_id)
                    links.append((unit, link))
        finally:
            await pool.close()
        return links

    async def _load_example_plans(self, today: date | None = None) -> list[str]:
        """Import the reference plans (with their known warnings), once; later runs resume.

        With DUBAN_DEV_DEMO (the default) each is re-dated and played forward on ``today``
        (Beijing's, unless given) by services.demo; otherwise imported as written."""
        from domain.parsers import parse_file
        from services.demo import load_demo_plan
        from services.plan_import import import_plan

        s = self.settings
        today = today or local_date(datetime.now(UTC))
        client = await connect_temporal(s)
        pool = await create_pool(s.effective_database_url, settings=s, max_size=4)
        loaded = []
        try:
            for path in sorted(EXAMPLE_PLANS.iterdir()):
                parsed = parse_file(path)
                if s.dev_demo:
                    demo = await load_demo_plan(
                        parsed,
                        pool=pool,
                        client=client,
                        task_queue=s.temporal_task_queue,
                        today=today,
                        update_timeout=s.temporal_update_timeout_seconds,
                        give_up_after=s.import_give_up_seconds,
                    )
                    loaded.append(demo.summary())
                    continue
                outcome = await import_plan(
                    parsed,
                    pool=pool,
                    client=client,
                    task_queue=s.temporal_task_queue,
                    update=True,
                    accept_warnings=True,
                )
                loaded.append(f"{outcome.plan_id}: {len(parsed.tasks)} tasks ({outcome.status})")
        finally:
            await pool.close()
        return loaded

    async def _spawn_entry_point(
        self, command: str, env: dict[str, str]
    ) -> asyncio.subprocess.Process:
        return await spawn_child([sys.executable, "-m", "cli", command], env=env)

    async def _wait_healthy(self, name: str, url: str) -> None:
        child = next(child for child in self.children if child.name == name)
        async with httpx.AsyncClient(timeout=2) as http:

            async def answers() -> bool:
                try:
                    return (await http.get(url)).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until_ready(
                answers, child.process, what=f"the {name} ({url})", logs="its output above"
            )


async def run_dev_stack(
    settings: Settings,
    stop: asyncio.Event,
    on_ready: Callable[[DevStackUrls], Awaitable[None]],
) -> None:
    """Run until ``stop`` is set; a stop during start-up cancels the start-up cleanly."""
    stack = DevStack(settings)
    stack.check_ports()
    with state_dir_lock(settings.state_path):

        async def start_then_announce() -> None:
            await on_ready(await stack.start())

        try:
            starting = asyncio.create_task(start_then_announce())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                log.info("stop requested during start-up; stopping what started")
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
                return
            stopping.cancel()
            starting.result()  # re-raises why start-up failed
            await stack.wait_for_exit(stop)
        finally:
            await stack.stop()
