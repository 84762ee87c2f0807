"""The board's per-unit table is folded in a worker process of its own, so the fold does not
hold the server's interpreter while visits arrive; its rows are the in-process fold's and,
at a month's end, the notice's. A worker that dies or cannot be had is replaced by the
in-process fold for that computation."""

from __future__ import annotations

import os
import signal

import pytest

from domain.notice_state import month_end
from services import notices
from services.board import compute_unit_table
from services.board_worker import UnitTableWorker
from tests.api.test_lifecycle_http import act, import_through_api, task_json
from tests.support.api import ApiStack
from tests.support.lifecycle import wait_until
from tests.support.plans import future_ledger, unique_name
from tests.web.test_board import signed_in_client, this_month


async def _plan_with_a_refusal(stack: ApiStack) -> str:
    coordinator = await stack.token("coordinator")
    plan = await import_through_api(stack, coordinator, unique_name("ledger.csv"), future_ledger())
    lead = await stack.token("unit", unit="市信息办")
    await act(stack, lead, plan, "3", "refuse", {"reason": "不属于本单位职责"})

    async def refused() -> bool:
        return bool((await task_json(stack, coordinator, plan, "3"))["awaiting_reassignment"])

    await wait_until(refused, timeout=15, what="the refusal in the projection")
    return plan


async def test_the_worker_folds_in_another_process_the_notices_table(
    stack: ApiStack, database_url: str
) -> None:
    plan = await _plan_with_a_refusal(stack)
    worker = UnitTableWorker(database_url)
    try:
        child = await worker.process_id()
        assert child is not None
        assert child != os.getpid()
        month = this_month()
        for scope in ((plan,), None):
            table = await worker.unit_table(stack.pool, scope, month_end(month))
            assert table == await compute_unit_table(stack.pool, scope, month_end(month))
            notice, _ = await notices.generate(stack.pool, month, scope[0] if scope else None)
            assert table == notice.units
        assert any(row.refusals == 1 for row in table)
        assert await worker.process_id() == child  # one process, kept between folds
    finally:
        await worker.close()


async def test_the_served_board_folds_outside_the_server(stack: ApiStack) -> None:
    """The app that ``duban api`` and the tests serve reads the table from a worker's own
    PostgreSQL connection, named after the worker's process."""
    await _plan_with_a_refusal(stack)
    async with signed_in_client(stack, "coordinator") as client:
        page = await client.get("/board")
    assert page.status_code == 200
    assert "市信息办" in page.text
    names = await stack.pool.fetch(
        "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE $1",
        "duban-board-%",
    )
    workers = {int(row["application_name"].rpartition("-")[2]) for row in names}
    assert workers - {os.getpid()}


@pytest.mark.fault
async def test_a_killed_worker_is_replaced_and_the_table_still_answers(
    stack: ApiStack, database_url: str
) -> None:
    plan = await _plan_with_a_refusal(stack)
    worker = UnitTableWorker(database_url)
    try:
        first = await worker.process_id()
        assert first is not None
        os.kill(first, signal.SIGKILL)
        at = month_end(this_month())
        # The pool notices the death at the next submission: that fold is done in-process.
        table = await worker.unit_table(stack.pool, (plan,), at)
        assert table == await compute_unit_table(stack.pool, (plan,), at)
        second = await worker.process_id()
        assert second is not None
        assert second != first
        assert await worker.unit_table(stack.pool, (plan,), at) == table
    finally:
        await worker.close()


async def test_without_a_database_address_the_fold_stays_in_process(stack: ApiStack) -> None:
    plan = await _plan_with_a_refusal(stack)
    worker = UnitTableWorker(None)
    at = month_end(this_month())
    assert await worker.process_id() is None
    assert await worker.unit_table(stack.pool, (plan,), at) == await compute_unit_table(
        stack.pool, (plan,), at
    )
    await worker.close()
