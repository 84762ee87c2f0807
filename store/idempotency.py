"""What a mutation answered under its Idempotency-Key (table ``idempotency_keys``).

A key is reserved with the request's fingerprint before the mutation runs, and its answer
is stored once it succeeded. A retry of the same request finds the answer and gets it
again; another request under the same key is refused. A request that failed leaves no
answer and gives its key back, so the caller may retry it once the cause is mended. A
reservation left without an answer for ten minutes (the process died mid-request; no
request runs that long) is taken over by the next try: the mutations behind it are
idempotent themselves (a workflow update under the same id applies once), so finishing the
request again is safe. Each try owns its reservation, so a late answer or release from a
try that was taken over changes nothing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from store.db import Connection


@dataclass(frozen=True)
class Reservation:
    fingerprint: str
    status: int | None
    response: Any  # the stored JSON answer, when the first request finished

    @property
    def answered(self) -> bool:
        return self.status is not None


@dataclass(frozen=True)
class Held:
    """This try holds the key: ``owner`` answers or releases it."""

    owner: str


async def reserve(
    connection: Connection, token_id: str, key: str, fingerprint: str
) -> Held | Reservation:
    """Reserve the key for this request: Held when it was free (or abandoned), else what
    holds it already (this request's earlier try, or another request)."""
    owner = uuid.uuid4().hex
    taken = await connection.fetchval(
        """
        INSERT INTO idempotency_keys (token_id, key, fingerprint, owner) VALUES ($1, $2, $3, $4)
        ON CONFLICT (token_id, key) DO UPDATE SET created_at = now(), owner = EXCLUDED.owner
            WHERE idempotency_keys.status IS NULL
              AND idempotency_keys.fingerprint = EXCLUDED.fingerprint
              AND idempotency_keys.created_at < now() - interval '10 minutes'
        RETURNING true
        """,
        token_id,
        key,
        fingerprint,
        owner,
    )
    if taken:
        return Held(owner)
    row = await connection.fetchrow(
        "SELECT fingerprint, status, response FROM idempotency_keys"
        " WHERE token_id = $1 AND key = $2",
        token_id,
        key,
    )
    if row is None:  # released between the two statements: take it now
        return await reserve(connection, token_id, key, fingerprint)
    response = json.loads(row["response"]) if row["response"] is not None else None
    return Reservation(row["fingerprint"], row["status"], response)


async def answer(
    connection: Connection, token_id: str, key: str, held: Held, status: int, response: Any
) -> None:
    await connection.execute(
        "UPDATE idempotency_keys SET status = $4, response = $5::jsonb"
        " WHERE token_id = $1 AND key = $2 AND owner = $3 AND status IS NULL",
        token_id,
        key,
        held.owner,
        status,
        json.dumps(response, ensure_ascii=False),
    )


async def release(connection: Connection, token_id: str, key: str, held: Held) -> None:
    await connection.execute(
        "DELETE FROM idempotency_keys"
        " WHERE token_id = $1 AND key = $2 AND owner = $3 AND status IS NULL",
        token_id,
        key,
        held.owner,
    )
