"""``duban dev``: the whole stack on one machine, supervised by one foreground process.

Start order: PostgreSQL and the Temporal dev server (only those not configured by
environment), migrations, then one worker and the API as child processes running the same
``duban worker`` / ``duban api`` entry points production uses. Every child sits in its own
process group, so Ctrl-C reaches only this supervisor, which then stops them in reverse
order (API, worker draining its activities, Temporal, PostgreSQL). Each child also carries
a parent-death signal, so even if the supervisor is killed outright nothing is orphaned.
If any child exits on its own, the supervisor stops the rest and reports which one died.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from runtime.embedded import (
    EmbeddedPostgres,
    EmbeddedTemporal,
    ensure_port_free,
    spawn_child,
    stop_child,
)
from runtime.errors import ServiceStartError
from runtime.log import get_logger
from runtime.settings import LogFormat, Settings
from store.migrate import migrate_database

log = get_logger(__name__)


@dataclass(frozen=True)
class DevStackUrls:
    api: str
    api_docs: str
    temporal_address: str
    temporal_ui: str | None
    database: str
    worker_health: str | None
    state_dir: Path


@dataclass
class _Child:
    name: str
    process: asyncio.subprocess.Process
    stop_timeout: float = 20.0


@dataclass
class DevStack:
    settings: Settings
    log_format: LogFormat = LogFormat.CONSOLE
    postgres: EmbeddedPostgres | None = None
    temporal: EmbeddedTemporal | None = None
    children: list[_Child] = field(default_factory=list)

    def check_ports(self) -> None:
        """Fail before starting anything if a port this stack listens on is taken."""
        s = self.settings
        wanted = [("127.0.0.1", s.embedded_postgres_port, "DUBAN_EMBEDDED_POSTGRES_PORT")]
        if not s.uses_embedded_postgres:
            wanted = []
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
        (state / "logs").mkdir(parents=True, exist_ok=True)
        services = []
        if s.uses_embedded_postgres:
            self.postgres = EmbeddedPostgres(
                state / "postgres" / "data", port=s.embedded_postgres_port
            )
            services.append(self.postgres.start())
        if s.uses_embedded_temporal:
            self.temporal = EmbeddedTemporal(
                state / "temporal" / "temporal.db",
                port=s.embedded_temporal_port,
                ui_port=s.embedded_temporal_ui_port,
                namespace=s.temporal_namespace,
            )
            services.append(self.temporal.start())
        await asyncio.gather(*services)
        await self._migrate()
        env = {
            **os.environ,
            "DUBAN_STATE_DIR": str(state),
            # The children write to the same terminal, so they speak the supervisor's format.
            "DUBAN_LOG_FORMAT": self.log_format.value,
        }
        worker_stop_timeout = s.worker_shutdown_grace_seconds + 10
        self.children.append(
            _Child("worker", await self._spawn_entry_point("worker", env), worker_stop_timeout)
        )
        self.children.append(_Child("api", await self._spawn_entry_point("api", env)))
        api = f"http://{s.api_host}:{s.api_port}"
        await self._wait_healthy("api", f"{api}/healthz")
        worker_health = None
        if s.worker_health_port:
            worker_health = f"http://{s.worker_health_host}:{s.worker_health_port}"
            await self._wait_healthy("worker", f"{worker_health}/readyz")
        return DevStackUrls(
            api=api,
            api_docs=f"{api}/docs",
            temporal_address=s.effective_temporal_address,
            temporal_ui=self.temporal.ui_url if self.temporal else None,
            database=self.postgres.dsn if self.postgres else "DUBAN_DATABASE_URL",
            worker_health=worker_health,
            state_dir=state,
        )

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

    async def _migrate(self) -> None:
        applied = await migrate_database(
            self.settings.effective_database_url, settings=self.settings
        )
        log.info("migrations applied", count=len(applied), versions=[m.version for m in applied])

    async def _spawn_entry_point(
        self, command: str, env: dict[str, str]
    ) -> asyncio.subprocess.Process:
        return await spawn_child([sys.executable, "-m", "cli", command], env=env)

    async def _wait_healthy(self, name: str, url: str, timeout: float = 60.0) -> None:
        child = next(child for child in self.children if child.name == name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient(timeout=2) as http:
            while loop.time() < deadline:
                if child.process.returncode is not None:
                    raise ServiceStartError(
                        f"{name} exited with status {child.process.returncode} while starting"
                    )
                try:
                    if (await http.get(url)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise ServiceStartError(f"{name} did not answer {url} within {timeout:.0f} s")


async def run_dev_stack(
    settings: Settings,
    stop: asyncio.Event,
    on_ready: Callable[[DevStackUrls], None],
    log_format: LogFormat = LogFormat.CONSOLE,
) -> None:
    stack = DevStack(settings, log_format=log_format)
    stack.check_ports()
    try:
        urls = await stack.start()
        on_ready(urls)
        await stack.wait_for_exit(stop)
    finally:
        await stack.stop()
