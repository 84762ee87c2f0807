"""The stored monthly notices (一月一通报): each month and scope once, with its files, and
the coordinators' notification written in the same transaction, so a retried or repeated
store neither stores nor notifies twice."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True)
class StoredNotice:
    id: int
    month: str
    plan_id: str | None
    unit: str | None
    digest: str
    notice: dict[str, Any]
    created: bool  # False when this month and scope was already stored


def outbox_key(month: str, plan_id: str | None, unit: str | None) -> str:
    """The outbox's workflow_id column for a notice's notification: one per month and scope."""
    return f"notice:{month}:{plan_id or '*'}:{unit or '*'}"


_INSERT = """
INSERT INTO notices (month, plan_id, unit, notice, digest)
VALUES ($1, $2, $3, $4::jsonb, $5)
ON CONFLICT (month, coalesce(plan_id, ''), coalesce(unit, '')) DO NOTHING
RETURNING id
"""

_SELECT = """
SELECT id, month, plan_id, unit, notice::text AS notice, digest FROM notices
WHERE month = $1 AND coalesce(plan_id, '') = coalesce($2, '')
  AND coalesce(unit, '') = coalesce($3, '')
"""

# A coordinator token scoped to the plan, or to every plan, names who is told.
_COORDINATORS = """
SELECT name FROM api_tokens
WHERE role = 'coordinator' AND revoked_at IS NULL AND expires_at > now()
  AND (plans IS NULL OR $1::text IS NULL OR $1::text = ANY (plans))
ORDER BY name
"""


async def store_notice_once(
    pool: asyncpg.Pool,
    *,
    month: str,
    plan_id: str | None,
    unit: str | None,
    notice_json: str,
    digest: str,
    files: Mapping[str, bytes],
    channels: Sequence[str],
) -> StoredNotice:
    """Store the notice unless this month and scope is stored already; the first store also
    writes one outbox row per channel telling the plan's coordinators."""
    async with pool.acquire() as connection, connection.transaction():
        notice_id = await connection.fetchval(_INSERT, month, plan_id, unit, notice_json, digest)
        if notice_id is None:
            row = await connection.fetchrow(_SELECT, month, plan_id, unit)
            assert row is not None  # the conflicting row is there: rows are never deleted
            return _stored(row, created=False)
        await connection.executemany(
            "INSERT INTO notice_files (notice_id, format, content) VALUES ($1, $2, $3)",
            [(notice_id, fmt, content) for fmt, content in sorted(files.items())],
        )
        recipients = [r["name"] for r in await connection.fetch(_COORDINATORS, plan_id)]
        key = outbox_key(month, plan_id, unit)
        payload = json.dumps(
            {
                "workflow_id": key,
                "plan_id": plan_id,
                "task_id": None,
                "event": {
                    "kind": "monthly_notice",
                    "month": month,
                    "unit": unit,
                    "digest": digest,
                    "notice_id": notice_id,
                    "recipients": recipients,
                },
            },
            ensure_ascii=False,
        )
        # The unique outbox key (scope, lineage '', seq 0, channel) is the second guard.
        await connection.executemany(
            """
            INSERT INTO notification_outbox (workflow_id, lineage, seq, channel, payload)
            VALUES ($1, '', 0, $2, $3::jsonb)
            ON CONFLICT (workflow_id, lineage, seq, channel) WHERE superseded_at IS NULL
            DO NOTHING
            """,
            [(key, channel, payload) for channel in channels],
        )
        return StoredNotice(
            id=notice_id,
            month=month,
            plan_id=plan_id,
            unit=unit,
            digest=digest,
            notice=json.loads(notice_json),
            created=True,
        )


async def read_notice(
    pool: asyncpg.Pool, month: str, plan_id: str | None, unit: str | None
) -> StoredNotice | None:
    async with pool.acquire() as connection:
        row = await connection.fetchrow(_SELECT, month, plan_id, unit)
    return None if row is None else _stored(row, created=False)


async def read_notice_file(pool: asyncpg.Pool, notice_id: int, fmt: str) -> bytes | None:
    async with pool.acquire() as connection:
        content: bytes | None = await connection.fetchval(
            "SELECT content FROM notice_files WHERE notice_id = $1 AND format = $2",
            notice_id,
            fmt,
        )
    return content


def _stored(row: asyncpg.Record, *, created: bool) -> StoredNotice:
    return StoredNotice(
        id=row["id"],
        month=row["month"],
        plan_id=row["plan_id"],
        unit=row["unit"],
        digest=row["digest"],
        notice=json.loads(row["notice"]),
        created=created,
    )
