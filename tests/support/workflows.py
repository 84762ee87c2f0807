"""Workflows that exist only for tests. Kept apart from test modules because the sandbox
re-imports a workflow's module, and test modules import asyncpg-using code."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

HALF_YEAR = timedelta(days=180)


@workflow.defn(name="TestHalfYearTimer")
class HalfYearTimerWorkflow:
    @workflow.run
    async def run(self) -> float:
        started = workflow.now()
        await workflow.sleep(HALF_YEAR)
        return (workflow.now() - started).total_seconds()
