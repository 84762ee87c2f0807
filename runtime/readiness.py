"""What the worker's and the API's readiness probes check, and why a check fails.

Ready means more than "PostgreSQL and Temporal answer": the schema must have every migration
this code ships (a pod started before the migration Job finished would write to columns
that are not there yet), and the namespace must have Duban's search attributes (without
them every workflow task that upserts one fails, over and over). Each failure comes with a
sentence saying what is wrong and what to run. A schema found current, or attributes
found registered, are not checked again: neither goes backwards while a process lives.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg
from temporalio.client import Client

from runtime.temporal import SearchAttributesRefusedError, search_attribute_status, temporal_answers
from store.db import database_answers
from store.migrate import schema_status

_DATABASE_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


@dataclass(frozen=True)
class ReadinessReport:
    checks: dict[str, bool]
    problems: list[str]

    @property
    def ready(self) -> bool:
        return all(self.checks.values())


@dataclass
class Readiness:
    pool: asyncpg.Pool
    client: Client
    _schema_current: bool = field(default=False, init=False)
    _attributes_registered: bool = field(default=False, init=False)

    @property
    def namespace(self) -> str:
        return self.client.namespace

    async def report(self) -> ReadinessReport:
        database, temporal = await asyncio.gather(
            database_answers(self.pool), temporal_answers(self.client)
        )
        problems = []
        if not database:
            problems.append("PostgreSQL does not answer")
        if not temporal:
            problems.append("Temporal does not answer")
        schema, attributes = await asyncio.gather(
            self._schema(problems) if database else _false(),
            self._attributes(problems) if temporal else _false(),
        )
        checks = {
            "postgresql": database,
            "temporal": temporal,
            "schema": schema,
            "search_attributes": attributes,
        }
        return ReadinessReport(checks, problems)

    async def _schema(self, problems: list[str]) -> bool:
        if self._schema_current:
            return True
        try:
            async with self.pool.acquire(timeout=2) as connection:
                status = await asyncio.wait_for(schema_status(connection), timeout=2)
        except _DATABASE_ERRORS as error:
            problems.append(f"cannot read the schema version: {type(error).__name__}")
            return False
        if status.behind:
            problems.append(f"{status.describe()}; run `duban migrate`")
            return False
        self._schema_current = True
        return True

    async def _attributes(self, problems: list[str]) -> bool:
        if self._attributes_registered:
            return True
        try:
            status = await search_attribute_status(self.client, self.namespace, timeout=2)
        except SearchAttributesRefusedError as refused:
            problems.append(refused.message)
            return False
        if not status.complete:
            problems.extend(status.problems())
            return False
        self._attributes_registered = True
        return True


async def _false() -> bool:
    return False
