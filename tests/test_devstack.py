"""`duban dev` end to end: the whole stack comes up, answers, stops cleanly, and resumes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from runtime.embedded import free_port

pytestmark = pytest.mark.slow


@dataclass
class Stack:
    env: dict[str, str]
    cwd: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env['DUBAN_API_PORT']}"

    @property
    def temporal_ui(self) -> str:
        return f"http://127.0.0.1:{self.env['DUBAN_EMBEDDED_TEMPORAL_UI_PORT']}"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.env['DUBAN_EMBEDDED_TEMPORAL_PORT']}"

    @property
    def database(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.env['DUBAN_EMBEDDED_POSTGRES_PORT']}/duban"


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    ports = {
        name: str(free_port())
        for name in (
            "DUBAN_API_PORT",
            "DUBAN_WORKER_HEALTH_PORT",
            "DUBAN_EMBEDDED_TEMPORAL_PORT",
            "DUBAN_EMBEDDED_TEMPORAL_UI_PORT",
            "DUBAN_EMBEDDED_POSTGRES_PORT",
        )
    }
    env = {**os.environ, **ports, "DUBAN_STATE_DIR": str(tmp_path / "state")}
    for name in ("DUBAN_TEMPORAL_ADDRESS", "DUBAN_DATABASE_URL"):
        env.pop(name, None)
    return Stack(env=env, cwd=tmp_path)


StartDev = Callable[[], "subprocess.Popen[bytes]"]


@pytest.fixture
def running(stack: Stack) -> Iterator[StartDev]:
    """`duban dev` in the background; killed at the end if a test left it running."""
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = (stack.cwd / f"dev-{len(processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "dev"],
            env=stack.env,
            cwd=stack.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_for_status(url: str, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = httpx.get(url, timeout=2).status_code
            if status == 200:
                return status
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s")


def stop_and_assert_nothing_left(process: subprocess.Popen[bytes]) -> None:
    descendants = psutil.Process(process.pid).children(recursive=True)
    assert any("postgres" in child.name() for child in descendants)
    assert any("temporal" in child.name() for child in descendants)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=90) == 0
    _, alive = psutil.wait_procs(descendants, timeout=10)
    assert alive == []


def run_check(stack: Stack) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "check"],
        env=stack.env,
        cwd=stack.cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    match = re.search(r"stack-check-\S+", result.stdout)
    assert match is not None, result.stdout
    return match.group(0)


def printed_token(stack: Stack, log_name: str, timeout: float = 60.0) -> str:
    """The coordinator token `duban dev` printed on its own line once it was up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = (stack.cwd / log_name).read_text(errors="replace")
        found = re.search(r"^(dbn_[a-z0-9]{10}_[A-Za-z0-9_-]{43})$", text, re.MULTILINE)
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no coordinator token printed in {log_name}")


def printed_sign_in_links(stack: Stack, log_name: str) -> list[str]:
    text = (stack.cwd / log_name).read_text(errors="replace")
    return re.findall(r"^  (http://\S+/login/[A-Za-z0-9_-]{43})$", text, re.MULTILINE)


def assert_unit_link_signs_in_to_its_inbox(stack: Stack, link: str) -> None:
    """A unit's printed link opens the board as that unit, with the tasks it owes."""
    with httpx.Client(timeout=30) as browser:
        page = browser.get(link)
        assert page.status_code == 200, page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text
        signed_in = browser.post(link, data={"csrf_token": csrf.group(1)})
        assert signed_in.status_code == 303, signed_in.text
        assert signed_in.headers["location"] == "/inbox"
        inbox = browser.get(f"{stack.api}/inbox")
        assert inbox.status_code == 200
        assert 'class="inbox-row' in inbox.text or "inbox-row" in inbox.text


def assert_token_sees_the_example_plans(stack: Stack, token: str) -> None:
    """A newcomer's first call: the printed token is a coordinator's and sees tasks."""
    headers = {"Authorization": f"Bearer {token}"}
    me = httpx.get(f"{stack.api}/api/v1/me", headers=headers, timeout=30)
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "coordinator"
    plans = httpx.get(f"{stack.api}/api/v1/plans", headers=headers, timeout=30)
    assert len(plans.json()) == 5, plans.text


def test_dev_stack_runs_stops_and_resumes(stack: Stack, running: StartDev) -> None:
    """Health 200 within 60 s, the UI answers, a check passes, Ctrl-C leaves no process
    behind, and the next run still shows the first run's workflow and row."""
    first = running()
    assert wait_for_status(f"{stack.api}/healthz") == 200
    assert wait_for_status(f"{stack.api}/readyz") == 200
    assert wait_for_status(stack.temporal_ui) == 200
    check_id = run_check(stack)
    first_token = printed_token(stack, "dev-0.log")
    assert_token_sees_the_example_plans(stack, first_token)
    links = printed_sign_in_links(stack, "dev-0.log")
    assert len(links) == 3, links  # the coordinator and two units
    assert_unit_link_signs_in_to_its_inbox(stack, links[1])
    stop_and_assert_nothing_left(first)

    second = running()
    assert wait_for_status(f"{stack.api}/healthz") == 200
    assert_token_sees_the_example_plans(stack, printed_token(stack, "dev-1.log"))
    revoked = httpx.get(
        f"{stack.api}/api/v1/me", headers={"Authorization": f"Bearer {first_token}"}, timeout=30
    )
    assert (revoked.status_code, revoked.json()["code"]) == (401, "token_revoked"), revoked.text

    async def find_first_runs_work() -> tuple[WorkflowExecutionStatus | None, int]:
        client = await Client.connect(stack.temporal_address)
        description = await client.get_workflow_handle(check_id).describe()
        connection = await asyncpg.connect(stack.database)
        try:
            rows = await connection.fetchval(
                "SELECT count(*) FROM stack_checks WHERE check_id = $1", check_id
            )
        finally:
            await connection.close()
        return description.status, rows

    status, rows = asyncio.run(find_first_runs_work())
    assert status == WorkflowExecutionStatus.COMPLETED
    assert rows == 1
    stop_and_assert_nothing_left(second)


def test_sigterm_during_start_up_stops_everything(stack: Stack, running: StartDev) -> None:
    """A stop that arrives while the stack is still starting ends it, with nothing left."""
    process = running()
    deadline = time.monotonic() + 30
    descendants: list[psutil.Process] = []
    while time.monotonic() < deadline and not descendants:
        descendants = psutil.Process(process.pid).children(recursive=True)
        time.sleep(0.05)
    assert descendants, "duban dev started no child process"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    _, alive = psutil.wait_procs(descendants, timeout=10)
    assert alive == []
    log = (stack.cwd / "dev-0.log").read_text()
    assert "Duban is running" not in log


def test_second_stack_on_the_same_state_dir_is_refused(stack: Stack, running: StartDev) -> None:
    """Two stacks on one state directory would share one database: the second says so."""
    first = running()
    assert wait_for_status(f"{stack.api}/healthz") == 200
    other_ports = {
        name: str(free_port())
        for name in (
            "DUBAN_API_PORT",
            "DUBAN_WORKER_HEALTH_PORT",
            "DUBAN_EMBEDDED_TEMPORAL_PORT",
            "DUBAN_EMBEDDED_TEMPORAL_UI_PORT",
            "DUBAN_EMBEDDED_POSTGRES_PORT",
        )
    }
    second = subprocess.run(
        [sys.executable, "-m", "cli", "dev"],
        env={**stack.env, **other_ports},
        cwd=stack.cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode != 0
    assert "DUBAN_STATE_DIR" in second.stderr
    assert f"pid {first.pid}" in second.stderr
    assert httpx.get(f"{stack.api}/readyz", timeout=5).status_code == 200
    stop_and_assert_nothing_left(first)
