"""The bare workflows' one activity: an asyncpg INSERT of the batch into ``bare_events``.

It writes a row per recorded action, keyed like ``task_events`` (workflow id, sequence)
and with the same ``recorded_at`` default, so a baseline does a comparable write per
activity and its rows can be timed the same way. Duban's ``record_task_events`` does more
in its transaction (two counts, the ``task_states`` upsert, the notification outbox);
that difference is part of what the benchmarks measure.
"""

from __future__ import annotations

import asyncpg
from temporalio import activity

from bench.bare_workflows import BARE_RECORD

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS bare_events (
    workflow_id  text NOT NULL,
    seq          integer NOT NULL,
    kind         text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, seq)
)
"""


async def create_table(pool: asyncpg.Pool) -> None:
    await pool.execute(CREATE_TABLE)
    await pool.execute("TRUNCATE bare_events")


class BareActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name=BARE_RECORD)
    async def record(self, workflow_id: str, first_seq: int, kinds: list[str]) -> int:
        rows = [(workflow_id, first_seq + offset, kind) for offset, kind in enumerate(kinds)]
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.executemany(
                "INSERT INTO bare_events (workflow_id, seq, kind) VALUES ($1, $2, $3)"
                " ON CONFLICT (workflow_id, seq) DO NOTHING",
                rows,
            )
        return len(rows)
