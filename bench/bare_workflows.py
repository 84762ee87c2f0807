"""Bare workflows: the floor the benchmarks compare Duban's TaskWorkflow against.

They do the Temporal work a task does, and nothing of Duban's: no domain checks, no
schedule, no search attributes, no state beyond a list. Kept free of asyncpg (and of any
I/O import) because the worker's sandbox re-imports a workflow's module for every run.

* :class:`BareTaskWorkflow` mirrors TaskWorkflow's recording pattern: a handler changes
  the state and raises a flag, the main loop records whatever is pending with one activity
  per wake-up (the start counts as one, like TaskWorkflow's ``assigned`` event), and the
  workflow completes once the last of its ``steps`` updates is recorded. It has the
  happy path's update names; ``sign_off`` is called twice, so a task is six updates.
* :class:`BareTimerWorkflow` records one row at its start (as TaskWorkflow records
  ``assigned``, so a bench can tell when every one is waiting), sleeps until one
  instant, then records another.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

BARE_RECORD = "bare_record"
_RECORD_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name="BareTaskWorkflow")
class BareTaskWorkflow:
    def __init__(self) -> None:
        self._actions: list[str] = ["assigned"]
        self._recorded = 0

    @workflow.run
    async def run(self, steps: int) -> int:
        while True:
            if self._recorded < len(self._actions):
                batch = self._actions[self._recorded :]
                first = self._recorded + 1
                self._recorded = len(self._actions)
                await workflow.execute_activity(
                    BARE_RECORD,
                    args=[workflow.info().workflow_id, first, batch],
                    start_to_close_timeout=_RECORD_TIMEOUT,
                )
                continue
            if len(self._actions) > steps:  # the start plus every update, all recorded
                break
            await workflow.wait_condition(lambda: self._recorded < len(self._actions))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return len(self._actions)

    def _act(self, action: str) -> int:
        self._actions.append(action)
        return len(self._actions)

    @workflow.update
    def accept(self, actor: str) -> int:
        return self._act(f"accepted:{actor}")

    @workflow.update
    def report_progress(self, actor: str) -> int:
        return self._act(f"progress:{actor}")

    @workflow.update
    def submit(self, actor: str) -> int:
        return self._act(f"submitted:{actor}")

    @workflow.update
    def sign_off(self, actor: str) -> int:
        return self._act(f"signed_off:{actor}")

    @workflow.update
    def review(self, actor: str) -> int:
        return self._act(f"completed:{actor}")


@workflow.defn(name="BareTimerWorkflow")
class BareTimerWorkflow:
    @workflow.run
    async def run(self, wake_at: datetime) -> None:
        workflow_id = workflow.info().workflow_id
        await workflow.execute_activity(
            BARE_RECORD, args=[workflow_id, 1, ["assigned"]], start_to_close_timeout=_RECORD_TIMEOUT
        )
        delay = wake_at - workflow.now()
        if delay > timedelta(0):
            await workflow.sleep(delay)
        await workflow.execute_activity(
            BARE_RECORD, args=[workflow_id, 2, ["reminder"]], start_to_close_timeout=_RECORD_TIMEOUT
        )
