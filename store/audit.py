"""The audit log: one append-only row per mutation, accepted or refused (see 0006_api.sql)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from store.db import Connection


@dataclass(frozen=True)
class AuditEntry:
    request_id: str
    method: str
    route: str
    status: int
    token_id: str | None = None
    role: str | None = None
    unit: str | None = None
    plan_id: str | None = None
    task_id: str | None = None
    action: str | None = None
    idempotency_key: str | None = None
    payload_digest: str | None = None
    error_code: str | None = None


async def append(connection: Connection, entry: AuditEntry) -> None:
    await connection.execute(
        """
        INSERT INTO audit_log (request_id, token_id, role, unit, method, route, plan_id,
                               task_id, action, idempotency_key, payload_digest, status,
                               error_code)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        """,
        entry.request_id,
        entry.token_id,
        entry.role,
        entry.unit,
        entry.method,
        entry.route,
        entry.plan_id,
        entry.task_id,
        entry.action,
        entry.idempotency_key,
        entry.payload_digest,
        entry.status,
        entry.error_code,
    )


async def append_command(
    connection: Connection,
    command: str,
    *,
    action: str,
    plan_id: str | None = None,
    status: int = 200,
    error_code: str | None = None,
) -> None:
    """A row for a mutation made from the command line (``duban token issue``, ``duban
    import``): by an operator at the database, so no token, and method ``CLI``."""
    await append(
        connection,
        AuditEntry(
            request_id=uuid.uuid4().hex,
            method="CLI",
            route=command[:500],
            status=status,
            role="operator",
            plan_id=plan_id,
            action=action,
            error_code=error_code,
        ),
    )


async def read(
    connection: Connection,
    *,
    everything: bool,
    plans: tuple[str, ...] | None,
    before_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first. ``everything`` (admins) reads every row, token management included;
    otherwise only rows about a plan, of ``plans`` when given (a plan coordinator)."""
    rows = await connection.fetch(
        """
        SELECT id, at, request_id, token_id, role, unit, method, route, plan_id, task_id,
               action, idempotency_key, payload_digest, status, error_code
        FROM audit_log
        WHERE ($1 OR (plan_id IS NOT NULL AND ($2::text[] IS NULL OR plan_id = ANY($2::text[]))))
          AND ($3::bigint IS NULL OR id < $3)
        ORDER BY id DESC
        LIMIT $4
        """,
        everything,
        list(plans) if plans is not None else None,
        before_id,
        limit,
    )
    return [dict(row) for row in rows]
