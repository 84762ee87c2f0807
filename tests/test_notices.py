"""The monthly notice stored once per month and scope, and its Schedule (issue #10)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import (
    ScheduleActionExecutionStartWorkflow,
    ScheduleBackfill,
    ScheduleOverlapPolicy,
)
from temporalio.testing import WorkflowEnvironment

from activities.monthly_notice import MonthlyNoticeActivities
from domain.notice import Notice
from runtime.settings import Settings
from services import notices
from store.notices import outbox_key
from tests.reports.notices import notice as sample_notice
from tests.test_cli import assert_one_clear_line, run_duban
from workers.notice_schedule import ensure_monthly_notice_schedule
from workers.service import build_worker
from workflows.monthly_notice import MonthlyNoticeWorkflow, month_before

SHANGHAI = timezone(timedelta(hours=8))


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def sample_builder(
    pool: asyncpg.Pool, month: str, plan_id: str | None, unit: str | None
) -> Notice:
    """A fixed notice per month and scope: stands in for the as-of arithmetic (i9-asof)."""
    return sample_notice(tasks_count=6).model_copy(
        update={"month": month, "plan_id": plan_id, "unit": unit}
    )


async def add_plan(pool: asyncpg.Pool, plan_id: str) -> None:
    async with pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO plans (plan_id, title, period_start, period_end, source_file, format,"
            " fingerprint) VALUES ($1, $1, 2026, 2026, 'x.md', 'md', $1)",
            plan_id,
        )


async def add_coordinator(pool: asyncpg.Pool, name: str, plans: list[str] | None) -> None:
    async with pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO api_tokens (token_id, secret_hash, role, plans, name, expires_at)"
            " VALUES ($1, $1, 'coordinator', $2, $3, now() + interval '1 day')",
            uuid.uuid4().hex,
            plans,
            name,
        )


async def count_rows(pool: asyncpg.Pool, month: str) -> tuple[int, int]:
    async with pool.acquire() as connection:
        stored = await connection.fetchval("SELECT count(*) FROM notices WHERE month = $1", month)
        outbox = await connection.fetchval(
            "SELECT count(*) FROM notification_outbox WHERE workflow_id LIKE $1",
            f"notice:{month}:%",
        )
    return stored, outbox


def test_month_before_counts_in_shanghai() -> None:
    # 1 July 00:30 in Shanghai is still 30 June in UTC: the notice is June's either way.
    assert month_before(datetime(2026, 6, 30, 16, 30, tzinfo=UTC)) == "2026-06"
    assert month_before(datetime(2026, 1, 1, 9, tzinfo=SHANGHAI)) == "2025-12"
    assert notices.previous_month(datetime(2026, 7, 1, 9, tzinfo=SHANGHAI)) == "2026-06"


def test_a_bad_month_is_refused_in_one_line() -> None:
    with pytest.raises(notices.BadMonthError, match="'2026-13' is not YYYY-MM"):
        notices.parse_month("2026-13")


async def test_store_once_twice_stores_one_row_and_notifies_once(db_pool: asyncpg.Pool) -> None:
    plan_id = unique_name("notice-plan")
    await add_plan(db_pool, plan_id)
    await add_coordinator(db_pool, "督查室甲", [plan_id])
    await add_coordinator(db_pool, "督查室(other plan)", ["another-plan"])
    first = await notices.store_once(
        db_pool, "2026-06", plan_id, channels=("log", "webhook"), builder=sample_builder
    )
    again = await notices.store_once(
        db_pool, "2026-06", plan_id, channels=("log", "webhook"), builder=sample_builder
    )
    assert first.created
    assert not again.created
    assert again.id == first.id
    assert again.digest == first.digest
    assert await count_rows(db_pool, "2026-06") == (1, 2)  # one notice, one row per channel
    async with db_pool.acquire() as connection:
        payload = await connection.fetchval(
            "SELECT payload::text FROM notification_outbox WHERE workflow_id = $1 LIMIT 1",
            outbox_key("2026-06", plan_id, None),
        )
        formats = await connection.fetch(
            "SELECT format FROM notice_files WHERE notice_id = $1 ORDER BY format", first.id
        )
    assert "督查室甲" in payload
    assert "other plan" not in payload
    assert [r["format"] for r in formats] == ["csv", "docx", "html", "md", "png", "xlsx"]


async def test_regenerating_a_month_gives_the_same_digest(db_pool: asyncpg.Pool) -> None:
    _, first = await notices.generate(db_pool, "2026-06", "p", builder=sample_builder)
    _, second = await notices.generate(db_pool, "2026-06", "p", builder=sample_builder)
    _, other_month = await notices.generate(db_pool, "2026-05", "p", builder=sample_builder)
    assert first == second != other_month
    assert len(first) == 64


async def run_worker_until_fired(
    env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str, schedule_id: str, firings: int
) -> None:
    """Run a fresh worker until the Schedule has started ``firings`` runs and none runs."""
    activities = MonthlyNoticeActivities(pool, builder=sample_builder)
    worker = build_worker(
        env.client,
        Settings(temporal_task_queue=task_queue),
        activities=[activities.list_notice_plans, activities.store_monthly_notice],
        workflows=[MonthlyNoticeWorkflow],
    )
    handle = env.client.get_schedule_handle(schedule_id)
    async with worker:
        for _ in range(600):
            info = (await handle.describe()).info
            if info.num_actions >= firings and not info.running_actions:
                latest = info.recent_actions[-1].action
                assert isinstance(latest, ScheduleActionExecutionStartWorkflow)
                await env.client.get_workflow_handle(latest.workflow_id).result()
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"the schedule did not fire {firings} times")


async def test_the_schedule_fires_on_the_first_and_stores_each_plan_once(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    plans = [unique_name("sched-a"), unique_name("sched-b")]
    for plan_id in plans:
        await add_plan(db_pool, plan_id)
    await add_coordinator(db_pool, "督查室", None)
    schedule_id = unique_name("notice-schedule")
    assert await ensure_monthly_notice_schedule(dev_server_env.client, task_queue, schedule_id)
    # A second worker start-up finds it and changes nothing.
    assert not await ensure_monthly_notice_schedule(dev_server_env.client, task_queue, schedule_id)
    handle = dev_server_env.client.get_schedule_handle(schedule_id)
    try:
        upcoming = [
            t.astimezone(SHANGHAI) for t in (await handle.describe()).info.next_action_times
        ]
        assert upcoming
        assert {(t.day, t.hour, t.minute) for t in upcoming} == {(1, 9, 0)}
        # The firing of 1 July 2026 09:00 Shanghai, replayed by the Schedule itself: the
        # window holds that one calendar instant and nothing else.
        firing = ScheduleBackfill(
            start_at=datetime(2026, 7, 1, 8, 59, tzinfo=SHANGHAI),
            end_at=datetime(2026, 7, 1, 9, 1, tzinfo=SHANGHAI),
            overlap=ScheduleOverlapPolicy.ALLOW_ALL,
        )
        await handle.backfill(firing)
        await run_worker_until_fired(dev_server_env, db_pool, task_queue, schedule_id, 1)
        assert await count_rows(db_pool, "2026-06") == (3, 3)
        # The worker went away; the same firing comes again (a catch-up, a second worker's
        # replay); a fresh worker runs it: still one notice per plan and month.
        await handle.backfill(firing)
        await run_worker_until_fired(dev_server_env, db_pool, task_queue, schedule_id, 2)
        assert await count_rows(db_pool, "2026-06") == (3, 3)
        async with db_pool.acquire() as connection:
            scopes = await connection.fetch(
                "SELECT plan_id FROM notices WHERE month = '2026-06' ORDER BY plan_id NULLS LAST"
            )
        assert [r["plan_id"] for r in scopes] == [*sorted(plans), None]
    finally:
        await handle.delete()


async def test_the_cli_writes_each_format_of_a_stored_notice(
    db_pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    plan_id = unique_name("cli-plan")
    await add_plan(db_pool, plan_id)
    stored = await notices.store_once(db_pool, "2026-06", plan_id, builder=sample_builder)
    env = {"DUBAN_DATABASE_URL": database_url}
    magic = {"docx": b"PK", "xlsx": b"PK", "png": b"\x89PNG", "html": b"<", "md": b"#"}
    for fmt in ("docx", "xlsx", "html", "md", "csv", "png"):
        target = tmp_path / f"june.{fmt}"
        result = run_duban(
            "report",
            "2026-06",
            "--plan",
            plan_id,
            "--format",
            fmt,
            "-o",
            str(target),
            env=env,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        content = target.read_bytes()
        async with db_pool.acquire() as connection:
            kept = await connection.fetchval(
                "SELECT content FROM notice_files WHERE notice_id = $1 AND format = $2",
                stored.id,
                fmt,
            )
        assert content == kept
        assert content.startswith(magic.get(fmt, b""))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("report", "2026-6"), "'2026-6' is not YYYY-MM"),
        (("report", "2026-06", "--format", "pdf"), "'pdf' is not one of"),
        (("report", "2026-06", "--plan", "no-such-plan"), "no plan 'no-such-plan'"),
    ],
)
def test_the_cli_refuses_bad_input_in_one_line(
    args: tuple[str, ...], needle: str, database_url: str, tmp_path: Path
) -> None:
    result = run_duban(*args, env={"DUBAN_DATABASE_URL": database_url}, cwd=tmp_path)
    assert_one_clear_line(result, needle)
    assert list(tmp_path.iterdir()) == []


async def test_a_notice_after_a_simulated_year_names_the_units_made_late() -> None:
    from domain.notice_state import NoticeTask, build_notice
    from domain.parsers import parse_file
    from services.simulate import behaviour_of, simulate
    from tests.test_simulate import CHUZHOU

    parsed = parse_file(Path(CHUZHOU))
    simulation = await simulate(parsed, date(2018, 7, 22), date(2019, 6, 30), "mixed")
    tasks = [
        NoticeTask.of_task(parsed.plan.id, simulation.workflow_ids[t.id], t)
        for t in parsed.tasks
        if t.id in simulation.workflow_ids
    ]
    events = {wid: [chain] for wid, chain in simulation.task_events.items()}
    notice = build_notice("2019-06", tasks, events, plan_id=parsed.plan.id)
    named = {row.unit for row in notice.units if row.completed_late or row.overdue}
    due_by_end = [
        t for t in parsed.tasks if t.milestones and t.milestones[0].due <= date(2019, 6, 30)
    ]
    made_late = {
        unit
        for t in due_by_end
        if behaviour_of(t, "mixed") in ("late", "silent") and t.recurrence is None
        for unit in t.lead_units[:1]
    }
    only_on_time = {unit for t in due_by_end for unit in t.lead_units[:1]} - made_late
    assert made_late, "the mixed behaviour made no unit late"
    assert made_late <= named
    assert not (named & only_on_time)


async def test_regenerating_a_past_month_from_the_event_log_gives_the_stored_digest(
    db_pool: asyncpg.Pool,
) -> None:
    """The stored January notice, regenerated after February's and March's events were
    recorded, has the same digest: later events never change a past month."""
    from domain.notice_state import month_end
    from domain.parsers import parse_file
    from services.simulate import simulate
    from store.plans import save_plan, save_tasks
    from tests.test_simulate import CHUZHOU

    parsed = parse_file(Path(CHUZHOU))
    plan_id = parsed.plan.id
    simulation = await simulate(parsed, date(2018, 7, 22), date(2019, 3, 31), "mixed")
    task_ids = {wid: task_id for task_id, wid in simulation.workflow_ids.items()}
    async with db_pool.acquire() as connection:
        await save_plan(connection, parsed, "fingerprint")
        await save_tasks(connection, plan_id, parsed.tasks)

    async def record(after: datetime | None, until: datetime | None) -> None:
        rows = [
            (wid, event.seq, plan_id, task_ids[wid], event.kind, event.at, event.unit,
             event.stage_after, event.milestone, event.level, json.dumps(event.detail))
            for wid, chain in simulation.task_events.items()
            for event in chain
            if (after is None or event.at > after) and (until is None or event.at <= until)
        ]  # fmt: skip
        async with db_pool.acquire() as connection:
            await connection.executemany(
                "INSERT INTO task_events (workflow_id, seq, plan_id, task_id, kind, at, unit,"
                " stage_after, milestone, level, detail)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)",
                rows,
            )

    january_end = month_end("2019-01")
    await record(None, january_end)
    stored = await notices.store_once(db_pool, "2019-01", plan_id)
    assert stored.created
    assert stored.notice["totals"]["tasks"] > 0
    await record(january_end, None)
    _, regenerated = await notices.generate(db_pool, "2019-01", plan_id)
    assert regenerated == stored.digest
    _, march = await notices.generate(db_pool, "2019-03", plan_id)
    assert march != stored.digest
    again = await notices.store_once(db_pool, "2019-01", plan_id)
    assert not again.created
    assert (await count_rows(db_pool, "2019-01"))[0] == 1
