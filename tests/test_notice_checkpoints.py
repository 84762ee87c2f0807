"""The monthly notice's checkpoints (store.notice_checkpoints) against PostgreSQL: a notice
read back from a month's checkpoint is the notice folded from the event log, for every
month, plan, unit and setting; and whatever could change the fold (an event recorded late
or superseded, a task's units changed by a re-import) removes the checkpoint first."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from domain.notice_state import NoticeTask, build_notice, month_end, notice_of_facts
from store import notice_checkpoints
from store.notice_checkpoints import read_notice_facts
from tests.domain.test_notice_state import HELPER, MONTHS, UNITS, Story, at, play
from tests.test_notice_reads import random_scripts, record_batch, record_story, save_stories

LATER = datetime(2027, 1, 1, tzinfo=UTC)  # a "now" after every month the stories reach
REDONE = {"percent": 5, "text": "重做"}


async def _checkpoints(pool: asyncpg.Pool) -> dict[tuple[str, str], bool]:
    rows = await pool.fetch("SELECT month, plan_id, ready FROM notice_checkpoints")
    return {(r["month"], r["plan_id"]): r["ready"] for r in rows}


async def _stored_facts(pool: asyncpg.Pool, month: str, plan_id: str) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM notice_facts WHERE month = $1 AND plan_id = $2", month, plan_id
    )
    return count


def _folded_notice(stories: dict[str, list[Story]], month: str, **options: Any) -> object:
    """The notice from every recorded event, without the database: the oracle."""
    entries = [
        NoticeTask.of_task(plan, f"{plan}/{s.task.id}", s.task)
        for plan in sorted(stories)
        for s in sorted(stories[plan], key=lambda s: s.task.id)
    ]
    events = {f"{plan}/{s.task.id}": [s.events] for plan in stories for s in stories[plan]}
    return build_notice(month, entries, events, **options).model_dump()


async def test_a_notice_from_its_checkpoint_is_the_folded_notice_for_every_scope(
    db_pool: asyncpg.Pool,
) -> None:
    scripts = random_scripts(30, 20261201)
    stories = {
        "r": [play(script, str(i)) for i, script in enumerate(scripts[:20])],
        "s": [play(script, str(i)) for i, script in enumerate(scripts[20:])],
    }
    for plan, plan_stories in stories.items():
        await save_stories(db_pool, plan, plan_stories)
        for story in plan_stories:
            await record_story(db_pool, plan, story)
    for month in MONTHS:
        first = await read_notice_facts(db_pool, month, None, now=LATER)
        assert first.folded == ("r", "s")
        assert first.from_checkpoint == ()
        again = await read_notice_facts(db_pool, month, None, now=LATER)
        assert again.folded == ()
        assert again.from_checkpoint == ("r", "s")
        one_plan = await read_notice_facts(db_pool, month, "s", now=LATER)
        assert one_plan.from_checkpoint == ("s",)
        for unit in (None, *UNITS):
            for margin in (0.0, 0.1, 0.5):
                options: dict[str, Any] = {"unit": unit, "behind_margin": margin}
                from_checkpoint = notice_of_facts(month, again.facts, again.previous, **options)
                folded = notice_of_facts(month, first.facts, first.previous, **options)
                assert from_checkpoint.model_dump() == folded.model_dump()
                assert folded.model_dump() == _folded_notice(stories, month, **options)
            plan_s = notice_of_facts(month, one_plan.facts, one_plan.previous, unit=unit)
            assert plan_s.model_dump() == _folded_notice({"s": stories["s"]}, month, unit=unit)
    assert all((await _checkpoints(db_pool)).values())
    assert await _stored_facts(db_pool, "2026-05", "r") == 20


async def test_a_plan_keeps_the_checkpoints_of_thirteen_months(db_pool: asyncpg.Pool) -> None:
    story = Story((date(2027, 6, 30),), number="1").accept(at(date(2025, 1, 6)))
    await save_stories(db_pool, "p", [story])
    await record_story(db_pool, "p", story)
    months = [f"{year}-{month:02d}" for year in (2025, 2026) for month in range(1, 13)]
    for month in months[:14]:
        await read_notice_facts(db_pool, month, "p", now=LATER)
    kept = sorted(month for month, _ in await _checkpoints(db_pool))
    assert kept == months[1:14]  # 2025-02 .. 2026-02: January 2025 went
    # An old month asked for again is folded, stored, and goes at the next newer store.
    await read_notice_facts(db_pool, "2025-01", "p", now=LATER)
    assert ("2025-01", "p") in await _checkpoints(db_pool)
    await read_notice_facts(db_pool, months[14], "p", now=LATER)
    assert sorted(month for month, _ in await _checkpoints(db_pool)) == months[2:15]


async def test_a_month_not_over_is_folded_and_never_stored(db_pool: asyncpg.Pool) -> None:
    story = Story(number="1").accept(at(date(2026, 1, 6))).progress(at(date(2026, 2, 3)), 30)
    await save_stories(db_pool, "p", [story])
    await record_story(db_pool, "p", story)
    during_february = datetime(2026, 2, 20, tzinfo=UTC)
    read = await read_notice_facts(db_pool, "2026-02", "p", now=during_february)
    assert read.folded == ("p",)
    assert [f.progress_percent for f in read.facts] == [30]
    assert await _checkpoints(db_pool) == {}


async def test_an_event_recorded_late_forgets_its_month_and_every_later_one(
    db_pool: asyncpg.Pool,
) -> None:
    # The worker was down: February's last report reaches PostgreSQL in March, after the
    # February and March checkpoints were built without it.
    story = Story((date(2026, 6, 30),), number="1").accept(at(date(2026, 1, 6)))
    story.progress(at(date(2026, 1, 20)), 10).progress(at(date(2026, 2, 25)), 40, "二月进展")
    other = Story((date(2026, 6, 30),), lead=HELPER, cooperating=(), number="1")
    other.accept(at(date(2026, 1, 7)))
    await save_stories(db_pool, "p", [story])
    await save_stories(db_pool, "q", [other])
    await record_story(db_pool, "p", story, story.events[:-1])
    await record_story(db_pool, "q", other)
    for month in ("2026-01", "2026-02", "2026-03"):
        for plan in ("p", "q"):
            await read_notice_facts(db_pool, month, plan, now=LATER)
    assert len(await _checkpoints(db_pool)) == 6
    stale = await read_notice_facts(db_pool, "2026-02", "p", now=LATER)
    assert [f.last_progress_text for f in stale.facts] == ["推进中"]

    await record_story(db_pool, "p", story, story.events[-1:])

    assert set(await _checkpoints(db_pool)) == {
        ("2026-01", "p"),
        ("2026-01", "q"),
        ("2026-02", "q"),
        ("2026-03", "q"),
    }
    assert await _stored_facts(db_pool, "2026-02", "p") == 0
    read = await read_notice_facts(db_pool, "2026-02", "p", now=LATER)
    assert read.folded == ("p",)
    assert [(f.progress_percent, f.last_progress_text) for f in read.facts] == [(40, "二月进展")]
    assert [f.reporters_this_month for f in read.facts] == [(story.state.lead_unit,)]


async def test_events_superseded_by_a_reset_forget_the_months_they_were_in(
    db_pool: asyncpg.Pool,
) -> None:
    story = Story((date(2026, 6, 30),), number="1").accept(at(date(2026, 1, 6)))
    story.progress(at(date(2026, 2, 10)), 30).progress(at(date(2026, 3, 10)), 60)
    await save_stories(db_pool, "p", [story])
    await record_story(db_pool, "p", story)
    for month in ("2026-01", "2026-02", "2026-03"):
        await read_notice_facts(db_pool, month, "p", now=LATER)
    # A reset back to before February's report: the new run's history from there on.
    reset_from = next(e.seq for e in story.events if e.kind == "progress")
    redone = [
        event.model_copy(
            update={"at": at(date(2026, 4, 2)), "detail": {"percent": 5, "text": "重做"}}
        )
        for event in story.events
        if event.seq == reset_from
    ]
    await record_batch(db_pool, "p", story, redone, run_id="run-2", sent_at=at(date(2026, 4, 2)))

    assert set(await _checkpoints(db_pool)) == {("2026-01", "p")}
    february = await read_notice_facts(db_pool, "2026-02", "p", now=LATER)
    assert [f.progress_percent for f in february.facts] == [0]


async def test_an_event_moved_into_or_out_of_a_month_forgets_it(db_pool: asyncpg.Pool) -> None:
    # Nothing moves a recorded event today; a repair by hand would, either way.
    story = Story((date(2026, 6, 30),), number="1").accept(at(date(2026, 1, 6)))
    story.progress(at(date(2026, 3, 10)), 30)
    await save_stories(db_pool, "p", [story])
    await record_story(db_pool, "p", story)

    async def checkpoint_months() -> None:
        for month in ("2026-01", "2026-02", "2026-03"):
            await read_notice_facts(db_pool, month, "p", now=LATER)

    move = "UPDATE task_events SET at = $1 WHERE kind = 'progress'"
    await checkpoint_months()
    await db_pool.execute(move, at(date(2026, 2, 10)))  # into February
    assert set(await _checkpoints(db_pool)) == {("2026-01", "p")}
    await checkpoint_months()
    await db_pool.execute(move, at(date(2026, 4, 10)))  # out of February, into April
    assert set(await _checkpoints(db_pool)) == {("2026-01", "p")}


async def test_a_reimport_that_changes_a_task_forgets_its_plans_checkpoints(
    db_pool: asyncpg.Pool,
) -> None:
    stories = {
        plan: [Story(number="1").accept(at(date(2026, 1, 6))), Story(number="2")]
        for plan in ("p", "q", "r")
    }

    async def checkpoint_every_plan() -> None:
        for plan in stories:
            await read_notice_facts(db_pool, "2026-01", plan, now=LATER)

    for plan, plan_stories in stories.items():
        await save_stories(db_pool, plan, plan_stories)
        for story in plan_stories:
            await record_story(db_pool, plan, story)
    await checkpoint_every_plan()
    # What no notice reads changes nothing.
    await db_pool.execute("UPDATE plan_tasks SET flags = ARRAY['checked'] WHERE plan_id = 'p'")
    assert len(await _checkpoints(db_pool)) == 3

    await db_pool.execute("UPDATE plan_tasks SET text = text || '（修订）' WHERE plan_id = 'p'")
    assert set(await _checkpoints(db_pool)) == {("2026-01", "q"), ("2026-01", "r")}
    await db_pool.execute(
        "UPDATE plan_tasks SET cooperating_units = ARRAY['市统计局'] WHERE plan_id = 'q'"
    )
    await db_pool.execute("UPDATE plan_tasks SET withdrawn_at = $1 WHERE plan_id = 'r'", LATER)
    assert await _checkpoints(db_pool) == {}
    await checkpoint_every_plan()
    await db_pool.execute("DELETE FROM plan_tasks WHERE plan_id = 'p' AND task_id = '2'")
    assert set(await _checkpoints(db_pool)) == {("2026-01", "q"), ("2026-01", "r")}

    p = await read_notice_facts(db_pool, "2026-01", "p", now=LATER)
    assert [f.text for f in p.facts] == [f"{stories['p'][0].task.text}（修订）"]
    q = await read_notice_facts(db_pool, "2026-01", "q", now=LATER)
    assert q.from_checkpoint == ("q",)
    assert [f.cooperating_units for f in q.facts] == [("市统计局",)] * 2


async def test_a_write_after_the_claim_keeps_the_fold_from_being_stored(
    db_pool: asyncpg.Pool,
) -> None:
    story = Story((date(2026, 6, 30),), number="1").accept(at(date(2026, 1, 6)))
    story.progress(at(date(2026, 1, 25)), 20)
    await save_stories(db_pool, "p", [story])
    await record_story(db_pool, "p", story, story.events[:-1])
    token = await notice_checkpoints._claim(db_pool, "2026-01", "p", month_end("2026-01"))
    assert token is not None
    # Between the claim and the store: the late report's trigger removes the claim.
    await record_story(db_pool, "p", story, story.events[-1:])
    stored = await notice_checkpoints._store(db_pool, "2026-01", "p", token, [], [])
    assert stored is False
    assert await _checkpoints(db_pool) == {}


async def test_a_claim_waits_for_a_write_in_flight_and_then_sees_it(
    db_pool: asyncpg.Pool, database_url: str
) -> None:
    story = Story((date(2026, 6, 30),), number="1").accept(at(date(2026, 1, 6)))
    story.progress(at(date(2026, 1, 25)), 20)
    await save_stories(db_pool, "p", [story])
    await record_story(db_pool, "p", story, story.events[:-1])
    writer = await asyncpg.connect(database_url)
    try:
        transaction = writer.transaction()
        await transaction.start()
        await writer.execute(
            "INSERT INTO task_events (workflow_id, lineage, seq, plan_id, task_id, kind, at,"
            " unit, stage_after, detail) VALUES ('p/1', 'run-1', $1, 'p', '1', 'progress', $2,"
            ' $3, \'in_progress\', \'{"percent": 20, "text": "在途"}\')',
            story.events[-1].seq,
            story.events[-1].at,
            story.state.lead_unit,
        )
        reading = asyncio.create_task(read_notice_facts(db_pool, "2026-01", "p", now=LATER))
        await asyncio.sleep(0.5)
        assert not reading.done()  # the claim's lock waits for the writer
        await transaction.commit()
        read = await asyncio.wait_for(reading, 10)
    finally:
        await writer.close()
    assert [(f.progress_percent, f.last_progress_text) for f in read.facts] == [(20, "在途")]
    assert await _checkpoints(db_pool) == {("2026-01", "p"): True}


async def test_a_claim_held_by_a_live_builder_is_left_and_a_dead_ones_taken_over(
    db_pool: asyncpg.Pool,
) -> None:
    story = Story(number="1").accept(at(date(2026, 1, 6)))
    await save_stories(db_pool, "p", [story])
    await record_story(db_pool, "p", story)
    claim = (
        "INSERT INTO notice_checkpoints (month, plan_id, as_of, token, claimed_at)"
        " VALUES ('2026-01', 'p', $1, 'someone', now() - $2::interval)"
    )
    await db_pool.execute(claim, month_end("2026-01"), timedelta(minutes=1))
    read = await read_notice_facts(db_pool, "2026-01", "p", now=LATER)
    assert read.folded == ("p",)
    assert len(read.facts) == 1
    assert await _checkpoints(db_pool) == {("2026-01", "p"): False}  # still theirs

    await db_pool.execute("DELETE FROM notice_checkpoints")
    await db_pool.execute(claim, month_end("2026-01"), notice_checkpoints.STALE_CLAIM * 2)
    await read_notice_facts(db_pool, "2026-01", "p", now=LATER)
    assert await _checkpoints(db_pool) == {("2026-01", "p"): True}
