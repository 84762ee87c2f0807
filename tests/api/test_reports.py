"""GET /api/v1/reports/{YYYY-MM}: who gets which monthly notice (issue #10)."""

from __future__ import annotations

import json
from typing import Any

from services import notices
from store.notices import read_notice, read_notice_file
from tests.support.api import ApiStack
from tests.test_notices import add_plan, sample_builder, unique_name

UNIT = "市财政局"


async def test_report_access_by_role(api_stack: ApiStack) -> None:
    mine, theirs = unique_name("report-mine"), unique_name("report-theirs")
    for plan_id in (mine, theirs):
        await add_plan(api_stack.pool, plan_id)
        await notices.store_once(api_stack.pool, "2026-06", plan_id, builder=sample_builder)
    await notices.store_once(api_stack.pool, "2026-06", None, builder=sample_builder)
    await notices.store_once(api_stack.pool, "2026-06", None, UNIT, builder=sample_builder)
    coordinator = await api_stack.token("coordinator", plans=(mine,))
    admin = await api_stack.token("admin")
    unit = await api_stack.token("unit", unit=UNIT)

    own = await api_stack.get("/api/v1/reports/2026-06", coordinator, plan=mine, format="md")
    assert own.status_code == 200
    assert own.headers["content-type"] == "text/markdown; charset=utf-8"
    other = await api_stack.get("/api/v1/reports/2026-06", coordinator, plan=theirs)
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    every = await api_stack.get("/api/v1/reports/2026-06", coordinator)
    assert every.status_code == 403

    for fmt, media in (("docx", "wordprocessingml"), ("png", "image/png"), ("csv", "text/csv")):
        answer = await api_stack.get("/api/v1/reports/2026-06", admin, plan=theirs, format=fmt)
        assert answer.status_code == 200
        assert media in answer.headers["content-type"]
    assert (await api_stack.get("/api/v1/reports/2026-06", admin)).status_code == 200

    # A unit reads the notice restricted to its own tasks, never the whole one.
    restricted = await api_stack.get("/api/v1/reports/2026-06", unit, format="csv")
    assert restricted.status_code == 200
    stored = await read_notice(api_stack.pool, "2026-06", None, UNIT)
    assert stored is not None
    assert restricted.content == await read_notice_file(api_stack.pool, stored.id, "csv")
    assert stored.notice["unit"] == UNIT
    not_on_plan = await api_stack.get("/api/v1/reports/2026-06", unit, plan=mine)
    assert not_on_plan.status_code == 404


async def test_report_bad_input_is_a_problem(api_stack: ApiStack) -> None:
    admin = await api_stack.token("admin")
    for path, params, status, needle in (
        ("/api/v1/reports/2026-13", {}, 422, "not YYYY-MM"),
        ("/api/v1/reports/2026-06", {"format": "pdf"}, 422, "'pdf' is not one of"),
        ("/api/v1/reports/2026-06", {"plan": "no-such-plan"}, 404, "no plan no-such-plan"),
    ):
        answer = await api_stack.get(path, admin, **params)
        assert answer.status_code == status
        assert answer.headers["content-type"] == "application/problem+json"
        assert needle in json.loads(answer.text)["detail"]
    assert (await api_stack.get("/api/v1/reports/2026-06", None)).status_code == 401


async def test_a_unit_reads_a_notice_of_its_own_tasks_computed_from_the_event_log(
    api_stack: ApiStack,
) -> None:
    """Nothing stored: the unit's notice is computed on demand, and it holds the tasks the
    unit leads or cooperates on, never another unit's."""
    import csv
    import io
    from datetime import date

    from tests.domain.test_notice_state import LEAD, OTHER, Story, at
    from tests.test_notice_reads import record_story, save_stories

    plan_id = unique_name("report-unit")
    led = Story(number="1").accept(at(date(2026, 1, 6)))
    cooperating = Story(lead=OTHER, cooperating=(LEAD,), number="2").accept(at(date(2026, 1, 6)))
    theirs = Story(lead=OTHER, cooperating=(), number="3").accept(at(date(2026, 1, 6)))
    stories = [led, cooperating, theirs]
    await save_stories(api_stack.pool, plan_id, stories)
    for story in stories:
        await record_story(api_stack.pool, plan_id, story)
    unit = await api_stack.token("unit", unit=LEAD)
    coordinator = await api_stack.token("coordinator", plans=(plan_id,))

    def rows(answer: Any) -> list[list[str]]:
        assert answer.status_code == 200, answer.text
        return list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))[1:]

    def numbers(answer: Any) -> list[str]:
        return [row[0] for row in rows(answer)]

    everyone = await api_stack.get(
        "/api/v1/reports/2026-02", coordinator, plan=plan_id, format="csv"
    )
    assert numbers(everyone) == ["1", "2", "3"]
    own = await api_stack.get("/api/v1/reports/2026-02", unit, plan=plan_id, format="csv")
    assert numbers(own) == ["1", "2"]
    # Across every plan (other tests' plans too): still only rows the unit is named on.
    across = rows(await api_stack.get("/api/v1/reports/2026-02", unit, format="csv"))
    assert across
    assert all(row[2] == LEAD or LEAD in row[3].split("、") for row in across)
    assert await read_notice(api_stack.pool, "2026-02", plan_id, LEAD) is None  # not stored
