"""`duban dev`'s live demo: which re-dated example tasks are played forward and how far
(pure, with an injected today), and the driver against the real dev server and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from domain.access import ActionKind
from domain.calendar import local_date
from domain.demo import DemoCounts, DemoRole, demo_counts, demo_parts, standing
from domain.lifecycle import Actor
from domain.parsers import parse_file
from domain.plan import ParsedPlan
from domain.plan_diff import PlanDiff
from domain.rebase import choose_rebase_years, rebase_plan
from runtime.settings import Settings
from services.demo import DemoOutcome, demo_steps, load_demo_plan
from services.plan_import import ImportOutcome
from services.simulate import completion_steps
from services.tasks import send_action
from tests.support.golden import EXAMPLES
from tests.support.lifecycle import settle
from workers.registry import build_activities
from workers.service import build_worker
from workflows.task_contract import Accept, task_workflow_id

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.txt"))


def _demo_plan(path_name: str, today: date) -> ParsedPlan:
    parsed = parse_file(EXAMPLES / path_name)
    return rebase_plan(parsed, choose_rebase_years(parsed, today))


def test_a_five_year_plan_shows_done_in_progress_and_overdue() -> None:
    """Xuancheng (2016–2020) on 1 December 2026: shifted +6, its three tasks first due in
    2022–2024 are past; the oldest is left overdue, the other two are caught up; of the
    tasks ahead one in five is done early, two in five are in progress."""
    today = date(2026, 12, 1)
    plan = _demo_plan("xuancheng-2016-2020-gov-informatization-plan.txt", today)
    parts = demo_parts(plan, today)
    by_role = {role: [p for p in parts if p.role is role] for role in DemoRole}
    past = sorted(
        (p for p in parts if p.task.milestones[0].due < today),
        key=lambda p: p.task.milestones[0].due,
    )
    assert [p.role for p in past] == [DemoRole.OVERDUE, DemoRole.CAUGHT_UP, DemoRole.CAUGHT_UP]
    for part in by_role[DemoRole.CAUGHT_UP]:
        assert part.milestones_done == sum(m.due < today for m in part.task.milestones)
        assert part.next_due is None or part.next_due >= today
    assert len(by_role[DemoRole.EARLY]) == 4
    assert len(by_role[DemoRole.IN_PROGRESS]) == 7
    assert len(by_role[DemoRole.WAITING]) == 6
    counts = demo_counts(map(standing, parts), today)
    assert (counts.done, counts.overdue) == (3, 1)
    assert counts.due_soon == 16  # open, next due 31 December 2026


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: path.name.split("-")[0])
@given(today=st.dates(min_value=date(2024, 1, 1), max_value=date(2040, 12, 31)))
def test_every_plan_on_any_day_is_mostly_ahead(path: Path, today: date) -> None:
    """Whatever the day: a task left overdue was past due; nothing ahead is overdue; the
    overdue are at most a quarter (rounded up) of the past-due, and at least one is left
    whenever any task is past due."""
    plan = _demo_plan(path.name, today)
    parts = demo_parts(plan, today)
    assert [part.task.id for part in parts] == [task.id for task in plan.tasks]
    played = [part for part in parts if part.played]
    past = [part for part in played if part.task.milestones[0].due < today]
    overdue = [part for part in played if part.role is DemoRole.OVERDUE]
    assert all(part in past for part in overdue)
    assert len(overdue) == (len(past) + 3) // 4
    for part in played:
        if part.role is not DemoRole.OVERDUE and part.next_due is not None:
            assert part.next_due >= today
    for part in parts:
        if not part.played:
            assert part.task.recurrence is not None or not part.task.lead_units
            assert demo_steps(part) == []


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: path.name.split("-")[0])
def test_each_part_is_a_prefix_of_the_one_path_to_completion(path: Path) -> None:
    """Whatever a part asks, it is the start of accept → (progress, submit, sign-offs,
    review) per milestone, with names unique per task, so the idempotency keys of two runs
    on two days never name two different actions."""
    for today in (date(2026, 3, 1), date(2026, 12, 1), date(2027, 8, 15)):
        plan = _demo_plan(path.name, today)
        for part in demo_parts(plan, today):
            whole = completion_steps(part.task)
            steps = demo_steps(part)
            assert steps == whole[: len(steps)]
            assert len({step.name for step in whole}) == len(whole)
            if part.completed:
                assert steps == whole
            if part.role is DemoRole.IN_PROGRESS:
                assert [step.kind for step in steps] == [ActionKind.ACCEPT, ActionKind.PROGRESS]
            if part.role in (DemoRole.WAITING, DemoRole.OVERDUE):
                assert steps == []


def test_counts_follow_the_parts() -> None:
    """Done are the tasks whose every milestone is approved; overdue the open ones whose next
    deadline is before today; due soon the open ones due within 90 days."""
    today = date(2026, 12, 1)
    plan = _demo_plan("dongying-2017-egov-key-work.txt", today)
    parts = demo_parts(plan, today)
    counts = demo_counts(map(standing, parts), today)
    horizon = today + timedelta(days=90)
    dated = [part for part in parts if part.task.milestones and part.task.recurrence is None]
    assert counts.done == sum(part.completed for part in dated)
    open_dues = [part.next_due for part in dated if part.next_due is not None]
    assert counts.overdue == sum(due < today for due in open_dues)
    assert counts.due_soon == sum(today <= due <= horizon for due in open_dues)
    assert counts.describe() == (
        f"{counts.done} done, {counts.due_soon} due in 90 days, {counts.overdue} overdue"
    )
    assert counts.done > 0
    assert counts.overdue > 0


def test_the_address_table_line_names_plan_shift_and_counts() -> None:
    outcome = DemoOutcome(
        plan_id="dongying-2017-egov-key-work",
        tasks=34,
        years=9,
        imported=ImportOutcome("dongying-2017-egov-key-work", "imported", PlanDiff()),
        counts=DemoCounts(done=7, due_soon=24, overdue=1),
    )
    assert outcome.summary() == "dongying: dates +9 years, 7 done, 24 due in 90 days, 1 overdue"


def test_the_demo_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """DUBAN_DEV_DEMO=false: the example plans are imported as written."""
    assert Settings().dev_demo is True
    monkeypatch.setenv("DUBAN_DEV_DEMO", "false")
    assert Settings().dev_demo is False


# ---------------------------------------------------------------- against the real servers


async def _settled_states(
    client: Client, pool: asyncpg.Pool, plan_id: str, task_ids: list[str]
) -> list[asyncpg.Record]:
    """The plan's task_states once every open workflow's events are all recorded (a
    closed TaskWorkflow records before it returns)."""
    for task_id in task_ids:
        handle = client.get_workflow_handle(task_workflow_id(plan_id, task_id))
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await settle(handle, pool, timeout=60)
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT task_id, stage, next_due, progress_percent, escalation_level, seq"
        " FROM task_states WHERE plan_id = $1 ORDER BY task_id",
        plan_id,
    )
    return rows


async def test_the_demo_plays_a_plan_forward_once(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """Xuancheng re-dated to the real today and played on the dev server: task_states has
    tasks completed, tasks open and due ahead (some with a progress report), and tasks
    overdue, in the numbers the demo reports; a second run sends no action: every row and
    every recorded event stay as they were, and the shift is the one stored; a task a person
    acted on is never played afterwards."""
    client = dev_server_env.client
    today = local_date(datetime.now(UTC))
    document = parse_file(EXAMPLES / "xuancheng-2016-2020-gov-informatization-plan.txt")
    plan_id = f"xuancheng-demo-{uuid.uuid4().hex[:8]}"
    parsed = document.model_copy(update={"plan": document.plan.model_copy(update={"id": plan_id})})
    settings = Settings(temporal_task_queue=task_queue)
    task_ids = [task.id for task in parsed.tasks]

    async with build_worker(client, settings, activities=build_activities(db_pool, "test")):
        first = await load_demo_plan(
            parsed, pool=db_pool, client=client, task_queue=task_queue, today=today
        )
        rows = await _settled_states(client, db_pool, plan_id, task_ids)
        events = await db_pool.fetchval(
            "SELECT count(*) FROM task_events WHERE workflow_id LIKE $1", f"{plan_id}/%"
        )

        assert first.imported.status == "imported"
        first_parts = demo_parts(rebase_plan(parsed, first.years), today)
        assert first.actions_sent == sum(len(demo_steps(part)) for part in first_parts)
        assert first.years == choose_rebase_years(parsed, today)
        assert f"dates {first.years:+d} years" in first.summary()
        stored = await db_pool.fetch(
            "SELECT DISTINCT (source ->> 'rebased_years')::int AS years FROM plan_tasks"
            " WHERE plan_id = $1",
            plan_id,
        )
        assert [row["years"] for row in stored] == [first.years]
        completed = [row for row in rows if row["stage"] == "completed"]
        open_rows = [row for row in rows if row["stage"] != "completed"]
        overdue = [row for row in open_rows if row["next_due"] < today]
        ahead = [row for row in open_rows if row["next_due"] >= today]
        assert len(rows) == len(parsed.tasks)
        assert len(completed) == first.counts.done > 0
        assert len(overdue) == first.counts.overdue > 0
        assert all(row["escalation_level"] > 0 for row in overdue)  # 督办 from the start
        assert ahead
        assert any(row["stage"] == "in_progress" and row["progress_percent"] == 50 for row in ahead)
        assert any(row["stage"] == "assigned" for row in ahead)

        second = await load_demo_plan(
            parsed, pool=db_pool, client=client, task_queue=task_queue, today=today
        )
        assert second.imported.status == "unchanged"
        assert second.imported.workflows_started == 0
        assert (second.years, second.counts) == (first.years, first.counts)
        assert second.left_to_people == []
        assert second.actions_sent == 0
        assert second.already_played == sum(demo_steps(part) != [] for part in first_parts)
        assert await _settled_states(client, db_pool, plan_id, task_ids) == rows
        assert (
            await db_pool.fetchval(
                "SELECT count(*) FROM task_events WHERE workflow_id LIKE $1", f"{plan_id}/%"
            )
            == events
        )

        # A person accepts a waiting task; a year on, the demo plays the untouched tasks that
        # fell due meanwhile and leaves the person's task as the person left it.
        a_year_on = date(today.year + 1, 12, 31)
        later = demo_parts(rebase_plan(parsed, first.years), a_year_on)
        waiting = next(  # one the demo would catch up a year on, were it untouched
            part
            for part, then in zip(first_parts, later, strict=True)
            if part.role is DemoRole.WAITING and then.role is DemoRole.CAUGHT_UP
        )
        person_task = task_workflow_id(plan_id, waiting.task.id)
        lead = Actor(role="unit", unit=waiting.task.lead_units[0])
        await send_action(client, person_task, ActionKind.ACCEPT, Accept(actor=lead), "person-1")
        await _settled_states(client, db_pool, plan_id, task_ids)
        third = await load_demo_plan(
            parsed, pool=db_pool, client=client, task_queue=task_queue, today=a_year_on
        )
        await _settled_states(client, db_pool, plan_id, task_ids)
        assert third.years == first.years  # the stored shift, not one chosen for that day
        assert third.actions_sent > 0
        assert third.left_to_people == []
        acted = await db_pool.fetch(
            "SELECT kind, actor_unit FROM task_events WHERE workflow_id = $1"
            " AND actor_role IS NOT NULL",
            person_task,
        )
        assert [(row["kind"], row["actor_unit"]) for row in acted] == [("accepted", lead.unit)]
        for task_id in task_ids:  # leave nothing running on the session's server
            handle = client.get_workflow_handle(task_workflow_id(plan_id, task_id))
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate(reason="test finished")
