"""The notice's reads against PostgreSQL (store.notice_reads): events recorded by the real
recording activity come back as the arithmetic needs them, only the plan asked for and only
up to the instant, so the notice read from the database equals the one from the histories."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import asyncpg
from temporalio.testing import ActivityEnvironment

from activities.task_events import TaskEventActivities
from domain import lifecycle
from domain.lifecycle import Actor, TaskEvent
from domain.notice import NoticeStatus
from domain.notice_state import NoticeTask, build_notice, month_end
from domain.plan import ParsedPlan, Plan
from store.notice_reads import read_notice_input
from store.plans import save_plan, save_tasks
from tests.domain.test_notice_state import (
    ACTIONS,
    HELPER,
    MONTHS,
    OTHER,
    UNITS,
    Script,
    Story,
    at,
    play,
)
from workflows.task_contract import RecordEvents, TaskProjection


async def save_stories(pool: asyncpg.Pool, plan_id: str, stories: list[Story]) -> None:
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


async def record_story(
    pool: asyncpg.Pool,
    plan_id: str,
    story: Story,
    events: list[TaskEvent] | None = None,
) -> None:
    """The story's events (or ``events`` of it) as its run sends them, in two batches."""
    sent = story.events if events is None else events
    half = len(sent) // 2 or 1
    for batch in (sent[:half], sent[half:]):
        if batch:
            await record_batch(
                pool, plan_id, story, batch, sent_at=batch[-1].at + timedelta(seconds=1)
            )


async def record_batch(
    pool: asyncpg.Pool,
    plan_id: str,
    story: Story,
    batch: list[TaskEvent],
    *,
    sent_at: datetime,
    run_id: str = "run-1",
) -> None:
    """One batch of the story's events as run ``run_id`` of its one lineage sends it."""
    state = story.state
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
        run_id=run_id,
        sent_at=sent_at,
        events=batch,
        projection=projection,
    )
    await ActivityEnvironment().run(TaskEventActivities(pool, ("log",)).record_task_events, request)


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
    await save_stories(db_pool, "p", stories)
    await save_stories(db_pool, "q", other_plan)
    for story in stories:
        await record_story(db_pool, "p", story)
    await record_story(db_pool, "q", other_plan[0])

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


def random_scripts(count: int, seed: int) -> list[Script]:
    """Histories heavy with progress reports (runs of them on both sides of month ends, the
    rows the read leaves in the database), through every other step too."""
    rng = random.Random(seed)  # noqa: S311 - reproducible histories, not secrets
    actions = (*ACTIONS, *("progress",) * 10)
    dues = [(date(2026, 2, 15),), (date(2026, 3, 31),), (date(2026, 2, 28), date(2026, 4, 30))]
    return [
        Script(
            lead=rng.choice(UNITS),
            dues=rng.choice(dues),
            steps=[
                (
                    rng.choice((rng.randint(1, 72), rng.randint(24 * 5, 24 * 20))),
                    rng.choice(actions),
                    rng.randint(0, 1000),
                )
                for _ in range(rng.randint(4, 60))
            ],
        )
        for _ in range(count)
    ]


async def test_the_notice_from_the_events_read_equals_the_one_from_every_event(
    db_pool: asyncpg.Pool,
) -> None:
    # The read leaves out the events that cannot change the notice at the month end or the
    # one before (most progress reports, sign-offs): the notice must not tell the difference,
    # for any month, and events after the month end must change nothing.
    stories = [play(script, str(i)) for i, script in enumerate(random_scripts(40, 20260610))]
    # A cooperating unit's report between two of the lead's is what keeps it off the silent
    # list for March, where it leads a task of its own that it did not report on.
    shared = Story((date(2026, 6, 30),), number="shared").accept(at(date(2026, 1, 6)))
    shared.progress(at(date(2026, 3, 2)), 20)
    shared.events += lifecycle.apply_progress(
        shared.state, Actor(role="unit", unit=HELPER), 30, "配合推进", [], at(date(2026, 3, 3))
    )
    shared.progress(at(date(2026, 3, 9)), 40)
    own = Story((date(2026, 6, 30),), lead=HELPER, cooperating=(), number="own")
    stories += [shared, own.accept(at(date(2026, 1, 7)))]
    await save_stories(db_pool, "r", stories)
    for story in stories:
        await record_story(db_pool, "r", story)
    left_out = 0
    for month in MONTHS:
        as_of = month_end(month)
        read = await read_notice_input(db_pool, as_of, "r")
        from_db = build_notice(month, read.tasks, read.events, plan_id="r")
        # In the order the read gives them (by number, every task having the same seq).
        entries = [
            NoticeTask.of_task("r", f"r/{s.task.id}", s.task)
            for s in sorted(stories, key=lambda s: s.task.id)
        ]
        every_event = build_notice(
            month, entries, {f"r/{s.task.id}": [s.events] for s in stories}, plan_id="r"
        )
        up_to_the_end = build_notice(
            month,
            entries,
            {f"r/{s.task.id}": [[e for e in s.events if e.at <= as_of]] for s in stories},
            plan_id="r",
        )
        assert from_db.model_dump() == every_event.model_dump() == up_to_the_end.model_dump()
        recorded = sum(1 for s in stories for e in s.events if e.at <= as_of)
        left_out += recorded - sum(len(c) for chains in read.events.values() for c in chains)
    assert left_out > 0
