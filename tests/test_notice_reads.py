"""The notice's reads against PostgreSQL (store.notice_reads): events recorded by the real
recording activity come back as the arithmetic needs them, only the plan asked for and only
up to the instant, so the notice read from the database equals the one from the histories."""

from __future__ import annotations

from datetime import date, timedelta

import asyncpg
from temporalio.testing import ActivityEnvironment

from activities.task_events import TaskEventActivities
from domain.lifecycle import TaskEvent
from domain.notice import NoticeStatus
from domain.notice_state import build_notice, month_end
from domain.plan import ParsedPlan, Plan
from store.notice_reads import read_notice_input
from store.plans import save_plan, save_tasks
from tests.domain.test_notice_state import OTHER, Story, at
from workflows.task_contract import RecordEvents, TaskProjection


async def _save(pool: asyncpg.Pool, plan_id: str, stories: list[Story]) -> None:
    plan = Plan(
        id=plan_id,
        title=f"{plan_id} 重点任务",
        period_start=2026,
        period_end=2026,
        source_file="plan.txt",
        format="pipe_table",
    )
    parsed = ParsedPlan(plan=plan, tasks=[s.task for s in stories])
    async with pool.acquire() as connection, connection.transaction():
        await save_plan(connection, parsed, f"fp-{plan_id}")
        await save_tasks(connection, plan_id, parsed.tasks)


async def _record(pool: asyncpg.Pool, plan_id: str, story: Story) -> None:
    """Each story's events as its run sends them, in two batches."""
    activities = TaskEventActivities(pool, ("log",))
    state = story.state
    half = len(story.events) // 2 or 1
    batches: list[list[TaskEvent]] = [story.events[:half], story.events[half:]]
    for batch in batches:
        if not batch:
            continue
        projection = TaskProjection(
            plan_id=plan_id,
            task_id=story.task.id,
            stage=state.stage,
            lead_unit=state.lead_unit,
            cooperating_units=state.cooperating_units,
            next_due=None,
            next_due_at=None,
            escalation_level=0,
            extensions_granted=state.extensions_granted,
            progress_percent=state.progress_percent,
            awaiting_reassignment=state.awaiting_reassignment,
            closed_at=state.closed_at,
            seq=batch[-1].seq,
        )
        request = RecordEvents(
            workflow_id=f"{plan_id}/{story.task.id}",
            lineage="run-1",
            run_id="run-1",
            sent_at=batch[-1].at + timedelta(seconds=1),
            events=batch,
            projection=projection,
        )
        await ActivityEnvironment().run(activities.record_task_events, request)


async def test_the_notice_read_from_postgres_equals_the_one_from_the_histories(
    db_pool: asyncpg.Pool,
) -> None:
    late = Story((date(2026, 2, 15),), number="1").accept(at(date(2026, 1, 6)))
    late.progress(at(date(2026, 2, 3)), 30).escalate(at(date(2026, 2, 20)), 1)
    done = Story(number="2").accept(at(date(2026, 1, 6)))
    done.complete(at(date(2026, 2, 10)), at(date(2026, 2, 11)))
    refused = Story(number="3").refuse(at(date(2026, 1, 8))).reassign(at(date(2026, 3, 2)), OTHER)
    stories = [late, done, refused]
    other_plan = [Story(number="1").accept(at(date(2026, 1, 9)))]
    await _save(db_pool, "p", stories)
    await _save(db_pool, "q", other_plan)
    for story in stories:
        await _record(db_pool, "p", story)
    await _record(db_pool, "q", other_plan[0])

    as_of = month_end("2026-02")
    read = await read_notice_input(db_pool, as_of, "p")
    assert [t.workflow_id for t in read.tasks] == ["p/1", "p/2", "p/3"]
    assert read.plan_titles == {"p": "p 重点任务"}
    # Only events up to the instant: the reassignment of 2 March is not read for February.
    assert all(e.at <= as_of for chains in read.events.values() for e in chains[0])
    assert [e.kind for e in read.events["p/3"][0]] == ["assigned", "refused"]

    from_db = build_notice("2026-02", read.tasks, read.events, plan_id="p")
    from_histories = build_notice(
        "2026-02",
        [s.entry for s in stories],
        {s.entry.workflow_id: [s.events] for s in stories},
        plan_id="p",
    )
    assert from_db.totals == from_histories.totals
    assert from_db.units == from_histories.units
    assert from_db.overdue == from_histories.overdue
    assert from_db.changes == from_histories.changes
    assert {t.workflow_id: t.status for t in from_db.tasks} == {
        "p/1": NoticeStatus.OVERDUE,
        "p/2": NoticeStatus.COMPLETED_ON_TIME,
        "p/3": NoticeStatus.REFUSED,
    }
    assert from_db.overdue[0].escalations == 1

    everything = await read_notice_input(db_pool, as_of)
    assert sorted(t.workflow_id for t in everything.tasks) == ["p/1", "p/2", "p/3", "q/1"]
    march = await read_notice_input(db_pool, month_end("2026-03"), "p")
    assert [e.kind for e in march.events["p/3"][0]] == ["assigned", "refused", "reassigned"]
