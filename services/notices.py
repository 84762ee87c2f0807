"""Generate, store and serve the monthly notice (一月一通报).

A notice is computed from the recorded event log as of the month's end (Asia/Shanghai) by
the as-of arithmetic (:mod:`domain.notice_state`, reading through :mod:`store.notice_reads`),
rendered by :mod:`reports`, and stored once per month and scope (:mod:`store.notices`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import asyncpg

from domain.access import Principal
from domain.notice import Notice
from domain.notice_state import notice_of_facts, paused_gc
from reports import ReportFormat, render
from reports.wording import requirements_paragraph
from runtime.errors import DubanError
from services.notice_settings import load_notice_settings
from store import task_reads
from store.db import Connection
from store.notice_checkpoints import read_notice_facts
from store.notices import StoredNotice, read_notice, read_notice_file, store_notice_once

SHANGHAI = ZoneInfo("Asia/Shanghai")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

# Builds the notice for (pool, month, plan_id, unit): the as-of arithmetic by default.
NoticeBuilder = Callable[[asyncpg.Pool, str, str | None, str | None], Awaitable[Notice]]


class NoticeInputError(DubanError):
    """A request for a notice that cannot be answered as asked: said in one line."""

    exit_code = 2


class BadMonthError(NoticeInputError):
    """A month that is not YYYY-MM."""


class UnknownPlanError(NoticeInputError):
    """A plan id no plan has."""


class BadFormatError(NoticeInputError):
    """A format no renderer knows."""


class NoticeNotVisibleError(NoticeInputError):
    """A plan the reader may not see: told apart from no plan at all by no one (404)."""


class NoticeForbiddenError(NoticeInputError):
    """The all-plans notice asked by a coordinator of some plans only (403)."""


async def reader_unit(
    connection: Connection, principal: Principal, plan_id: str | None
) -> str | None:
    """Whose tasks the notice ``principal`` reads over ``plan_id`` (None: every plan) is
    restricted to: a unit's own, else nobody's (the whole notice). The API's
    ``GET /api/v1/reports/{YYYY-MM}`` and the board's notice page both ask here.

    * an admin, and a coordinator of every plan: any plan's notice and the all-plans one;
    * a coordinator of some plans: those plans' notices; another plan is unknown
      (NoticeNotVisibleError), the all-plans notice refused (NoticeForbiddenError);
    * a unit: the notice of its own tasks, over a plan it works on or over every plan.
    """
    not_visible = NoticeNotVisibleError(f"no plan {plan_id} that you can see")
    if principal.role == "unit":
        if plan_id is not None and not await task_reads.unit_works_on_plan(
            connection, principal, plan_id
        ):
            raise not_visible
        return principal.unit
    if plan_id is None:
        if principal.role == "coordinator" and principal.plans is not None:
            raise NoticeForbiddenError(
                "only a coordinator of every plan may read the all-plans notice"
            )
    elif not principal.covers_plan(plan_id):
        raise not_visible
    return None


def parse_format(text: str) -> str:
    try:
        return ReportFormat(text.strip().lower()).value
    except ValueError:
        known = ", ".join(f.value for f in ReportFormat)
        raise BadFormatError(f"format {text!r} is not one of {known}") from None


def parse_month(text: str) -> str:
    """The month as YYYY-MM, or BadMonthError saying what was wrong."""
    if not _MONTH.match(text.strip()):
        raise BadMonthError(f"month {text!r} is not YYYY-MM (for example 2026-06)")
    return text.strip()


def previous_month(instant: datetime) -> str:
    """The month before ``instant``'s month, in Asia/Shanghai (a notice on 1 July is June's)."""
    local = instant.astimezone(SHANGHAI).date()
    first = date(local.year, local.month, 1)
    year, month = (first.year - 1, 12) if first.month == 1 else (first.year, first.month - 1)
    return f"{year:04d}-{month:02d}"


def canonical_json(notice: Notice) -> str:
    """The notice's JSON with sorted keys and no whitespace: what the digest is taken over."""
    return json.dumps(
        notice.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )


def digest(notice: Notice) -> str:
    return hashlib.sha256(canonical_json(notice).encode()).hexdigest()


async def build_from_event_log(
    pool: asyncpg.Pool, month: str, plan_id: str | None, unit: str | None
) -> Notice:
    """The as-of notice: each task's facts at the month's end, folded from the events
    recorded up to then or read back from the month's checkpoint
    (:func:`store.notice_checkpoints.read_notice_facts`), judged by the office's settings
    (its name, 主送, 滞后 margin and each plan's light rule; :mod:`services.notice_settings`)."""
    settings = load_notice_settings()  # first: a mistake in them is said before any query
    # One pause for the read and the arithmetic: the facts are freed before the collector
    # runs again, so it never scans them (see paused_gc).
    with paused_gc():
        data = await read_notice_facts(pool, month, plan_id, now=datetime.now(UTC))
        notice = notice_of_facts(
            month,
            data.facts,
            data.previous,
            plan_id=plan_id,
            plan_titles=tuple(data.plan_titles.values()),
            unit=unit,
            office=settings.office,
            addressees=settings.addressees,
            behind_margin=settings.behind_margin,
            light_policies=settings.light_policies(data.plan_titles),
            requirements="",
        )
        del data
    # 下一步工作要求 from the office's template, kept in the notice: what its files say.
    return notice.model_copy(update={"requirements": requirements_paragraph(notice)})


async def generate(
    pool: asyncpg.Pool,
    month: str,
    plan_id: str | None = None,
    unit: str | None = None,
    *,
    builder: NoticeBuilder = build_from_event_log,
) -> tuple[Notice, str]:
    """The notice for ``month`` over ``plan_id`` (None: every plan), restricted to ``unit``'s
    tasks when given, and its digest. Pure reading: nothing is stored."""
    notice = await builder(pool, parse_month(month), plan_id, unit)
    return notice, digest(notice)


def render_all(notice: Notice) -> dict[str, bytes]:
    return {fmt.value: render(notice, fmt.value) for fmt in ReportFormat}


async def store_once(
    pool: asyncpg.Pool,
    month: str,
    plan_id: str | None = None,
    unit: str | None = None,
    *,
    channels: Sequence[str] = ("log",),
    builder: NoticeBuilder = build_from_event_log,
) -> StoredNotice:
    """Generate, render and store the notice unless it is stored already, telling the plan's
    coordinators through the outbox the first time only. A retry, a second firing of the
    Schedule or a catch-up stores nothing new and notifies no one again."""
    notice, notice_digest = await generate(pool, month, plan_id, unit, builder=builder)
    return await store_notice_once(
        pool,
        month=notice.month,
        plan_id=plan_id,
        unit=unit,
        notice_json=canonical_json(notice),
        digest=notice_digest,
        files=render_all(notice),
        channels=channels,
    )


async def plan_ids(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as connection:
        rows = await connection.fetch("SELECT plan_id FROM plans ORDER BY plan_id")
    return [row["plan_id"] for row in rows]


async def plan_exists(pool: asyncpg.Pool, plan_id: str) -> bool:
    async with pool.acquire() as connection:
        found = await connection.fetchval("SELECT 1 FROM plans WHERE plan_id = $1", plan_id)
    return found is not None


async def notice_file(
    pool: asyncpg.Pool,
    month: str,
    fmt: str,
    plan_id: str | None = None,
    unit: str | None = None,
    *,
    builder: NoticeBuilder = build_from_event_log,
) -> bytes:
    """One month's notice as a file, on demand: the stored file when this month and scope was
    stored (what was sent), else computed from the event log now (the same digest)."""
    month = parse_month(month)
    fmt = parse_format(fmt)
    if plan_id is not None and not await plan_exists(pool, plan_id):
        raise UnknownPlanError(f"no plan {plan_id!r}")
    stored = await read_notice(pool, month, plan_id, unit)
    if stored is not None:
        content = await read_notice_file(pool, stored.id, fmt)
        if content is not None:
            return content
    notice, _ = await generate(pool, month, plan_id, unit, builder=builder)
    return render(notice, fmt)
