"""The `duban` command's promises about user mistakes: one line, non-zero, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.embedded import free_port


def run_duban(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={**os.environ, "DUBAN_LOG_FORMAT": "json", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("duban: error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0]
    return errors[0]


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_closed_database_port_names_setting_and_address(tmp_path: Path) -> None:
    """`duban migrate` against a closed port says which setting and address failed."""
    port = free_port()
    result = run_duban(
        "migrate",
        env={"DUBAN_DATABASE_URL": f"postgresql://duban:pw@127.0.0.1:{port}/duban"},
        cwd=tmp_path,
    )
    assert_one_clear_line(result, "DUBAN_DATABASE_URL", f"127.0.0.1:{port}")


def test_unreachable_temporal_names_setting(tmp_path: Path, postgres_dsn: str) -> None:
    """`duban worker` with nothing at the Temporal address says so in one line."""
    port = free_port()
    result = run_duban(
        "worker",
        env={
            "DUBAN_DATABASE_URL": postgres_dsn,
            "DUBAN_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
            "DUBAN_WORKER_HEALTH_PORT": "0",
        },
        cwd=tmp_path,
    )
    assert_one_clear_line(result, "DUBAN_TEMPORAL_ADDRESS", f"127.0.0.1:{port}")


def test_api_port_in_use_is_named(tmp_path: Path, occupied_port: int) -> None:
    """`duban api` on a taken port names the port before connecting to anything."""
    result = run_duban("api", env={"DUBAN_API_PORT": str(occupied_port)}, cwd=tmp_path)
    assert_one_clear_line(result, f"port {occupied_port}", "DUBAN_API_PORT")


def test_dev_port_in_use_starts_nothing(tmp_path: Path, occupied_port: int) -> None:
    """`duban dev` with a taken port fails before creating any state or child process."""
    result = run_duban(
        "dev",
        env={
            "DUBAN_STATE_DIR": str(tmp_path / "state"),
            "DUBAN_EMBEDDED_TEMPORAL_UI_PORT": str(occupied_port),
            "DUBAN_EMBEDDED_POSTGRES_PORT": str(free_port()),
            "DUBAN_EMBEDDED_TEMPORAL_PORT": str(free_port()),
            "DUBAN_API_PORT": str(free_port()),
            "DUBAN_WORKER_HEALTH_PORT": str(free_port()),
        },
        cwd=tmp_path,
    )
    assert_one_clear_line(result, f"port {occupied_port}", "DUBAN_EMBEDDED_TEMPORAL_UI_PORT")
    assert not (tmp_path / "state").exists()


def test_malformed_setting_is_named(tmp_path: Path) -> None:
    """A value that is not of the setting's type names the variable."""
    result = run_duban("migrate", env={"DUBAN_API_PORT": "eighty"}, cwd=tmp_path)
    assert_one_clear_line(result, "DUBAN_API_PORT")


@pytest.mark.parametrize("command", ["worker", "api", "dev"])
def test_closed_database_port_is_one_line_for_every_service(
    command: str, tmp_path: Path, dev_server_address: str
) -> None:
    """Every service refuses a database at a closed port with the same one line."""
    port = free_port()
    result = run_duban(
        command,
        env={
            "DUBAN_DATABASE_URL": f"postgresql://duban@127.0.0.1:{port}/duban",
            "DUBAN_TEMPORAL_ADDRESS": dev_server_address,
            "DUBAN_STATE_DIR": str(tmp_path / "state"),
            "DUBAN_API_PORT": str(free_port()),
            "DUBAN_WORKER_HEALTH_PORT": str(free_port()),
        },
        cwd=tmp_path,
    )
    assert_one_clear_line(result, "DUBAN_DATABASE_URL", f"127.0.0.1:{port}")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DUBAN_LOG_LEVEL", "LOUD"),
        ("DUBAN_TEMPORAL_ADDRESS", "not a host"),
        ("DUBAN_API_PORT", "70000"),
    ],
)
def test_malformed_values_name_their_variable(variable: str, value: str, tmp_path: Path) -> None:
    """Values that cannot be right are refused before anything connects."""
    result = run_duban("worker", env={variable: value}, cwd=tmp_path)
    assert_one_clear_line(result, variable)


def test_unknown_namespace_is_named(
    tmp_path: Path, postgres_dsn: str, dev_server_address: str
) -> None:
    """A namespace the cluster does not have is one line naming DUBAN_TEMPORAL_NAMESPACE."""
    result = run_duban(
        "worker",
        env={
            "DUBAN_DATABASE_URL": postgres_dsn,
            "DUBAN_TEMPORAL_ADDRESS": dev_server_address,
            "DUBAN_TEMPORAL_NAMESPACE": "no-such-namespace",
            "DUBAN_WORKER_HEALTH_PORT": "0",
        },
        cwd=tmp_path,
    )
    assert_one_clear_line(result, "DUBAN_TEMPORAL_NAMESPACE", "no-such-namespace")


def test_unusable_state_dir_is_named(tmp_path: Path) -> None:
    """A state directory that cannot be created is one line naming DUBAN_STATE_DIR."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_duban(
        "dev",
        env={
            "DUBAN_STATE_DIR": str(blocker / "state"),
            "DUBAN_EMBEDDED_POSTGRES_PORT": str(free_port()),
            "DUBAN_EMBEDDED_TEMPORAL_PORT": str(free_port()),
            "DUBAN_EMBEDDED_TEMPORAL_UI_PORT": str(free_port()),
            "DUBAN_API_PORT": str(free_port()),
            "DUBAN_WORKER_HEALTH_PORT": str(free_port()),
        },
        cwd=tmp_path,
    )
    assert_one_clear_line(result, "DUBAN_STATE_DIR")


def test_check_hold_out_of_range_is_refused(tmp_path: Path) -> None:
    """`duban check --hold` outside 0–600 s is a usage error, not a traceback."""
    result = run_duban("check", "--hold", "700", env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--hold" in result.stderr
