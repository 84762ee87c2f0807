"""The one list of what a Duban worker runs: every workflow and every activity."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from activities.stack_check import StackCheckActivities
from workflows.stack_check import StackCheckWorkflow
from workflows.task import TaskWorkflow

WORKFLOWS: Sequence[type] = (StackCheckWorkflow, TaskWorkflow)


def build_activities(pool: asyncpg.Pool, worker_identity: str) -> list[Callable[..., Any]]:
    stack_check = StackCheckActivities(pool, worker_identity)
    return [stack_check.record_stack_check]
