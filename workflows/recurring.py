"""RecurringTaskWorkflow: a task that comes back every period (每年1月底前, 每季度, 一月一通报).

It owns the task's workflow id (``plan/task``) and starts one child TaskWorkflow per
occurrence (``plan/task@2018``, ``@2018-H1``, ``@2018-Q2`` or ``@2018-03``, computed by
:mod:`domain.recurrence`) at the start of the occurrence's
period, with the period's due date as its one milestone. Children are abandoned rather
than cancelled when the parent ends, so the last occurrence runs its course. An occurrence
whose due date is before the plan was issued is not started.

The parent stays open until every occurrence it started has closed, so that a re-import
can still revise or withdraw the task; a withdrawal cancels every occurrence that may still
be open.
Each next occurrence is computed from the task's current reading, so a re-import that
changes the recurrence moves the occurrences not yet started.

A change here that alters what a running workflow does needs a ``workflow.patched`` guard,
a kept history in ``tests/histories`` and an entry in ``tests/test_replay.KNOWN_PATCHES``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.calendar import SHANGHAI
    from domain.lifecycle import Policy
    from domain.plan import Milestone, PlanTask
    from domain.recurrence import Occurrence, occurrences
    from workflows.task import TaskWorkflow
    from workflows.task_contract import TaskWorkflowInput, Withdrawal


class RecurringTaskInput(BaseModel):
    plan_id: str
    task: PlanTask
    until_year: int = Field(description="the last year an occurrence falls in")
    not_before: date | None = Field(default=None, description="skip occurrences due earlier")
    policy: Policy | None = None
    search_attributes: bool = True
    index_lead_unit: bool = True
    clock_offset: timedelta = timedelta(0)
    last_occurrence: Occurrence | None = Field(
        default=None, description="the latest occurrence started, carried across continue-as-new"
    )
    revised_on: date | None = Field(
        default=None, description="occurrences due before this day are not started"
    )
    open_occurrences: list[str] = Field(
        default_factory=list,
        description="child ids started by earlier runs and not seen to close: a withdrawal "
        "tells each of them to cancel itself",
    )


@workflow.defn(name="RecurringTaskWorkflow")
class RecurringTaskWorkflow:
    @workflow.init
    def __init__(self, request: RecurringTaskInput) -> None:
        self._request = request
        self._template = request.task
        self._recurrence_revised = False
        # Occurrences a revised recurrence puts before the revision are not started: nobody
        # could have done them, and they would start overdue and escalated.
        self._revised_on = request.revised_on
        self._withdrawn: str | None = None
        self._started: list[str] = []
        self._last_occurrence = request.last_occurrence
        self._open_occurrences = list(request.open_occurrences)
        self._children: list[ChildWorkflowHandle[Any, Any]] = []  # started by this run
        self._today = self._now().astimezone(SHANGHAI).date()

    def _now(self) -> datetime:
        return workflow.now() - self._request.clock_offset

    @workflow.run
    async def run(self, request: RecurringTaskInput) -> list[str]:
        if request.task.recurrence is None:
            raise ApplicationError("the task does not recur", non_retryable=True)
        while self._withdrawn is None:
            occurrence = self._next_occurrence()
            if occurrence is None:
                if await self._await_open_occurrences():
                    continue
                break
            if not await self._period_has_begun(occurrence):
                continue
            await self._start(occurrence)
            if workflow.info().is_continue_as_new_suggested() and self._may_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                carried = {
                    "task": self._template,
                    "last_occurrence": occurrence,
                    "open_occurrences": self._open_occurrences,
                    "revised_on": self._revised_on,
                }
                workflow.continue_as_new(request.model_copy(update=carried))
        if self._withdrawn is not None:
            await self._withdraw_open_occurrences(self._withdrawn)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._started

    def _next_occurrence(self) -> Occurrence | None:
        """The first occurrence of the current recurrence due after the latest one started.

        An occurrence in the latest one's own period (a revision moved the due day within
        it) is skipped: that period has its occurrence, which keeps its own due date.
        """
        recurrence = self._template.recurrence
        if recurrence is None:
            return None
        latest = self._last_occurrence
        request = self._request
        anchor = latest.due if latest else request.not_before or self._today
        for occurrence in occurrences(recurrence, anchor.year, request.until_year):
            if latest is not None and (
                occurrence.due <= latest.due or occurrence.key == latest.key
            ):
                continue
            if request.not_before and occurrence.due < request.not_before:
                continue
            if self._revised_on and occurrence.due < self._revised_on:
                continue
            return occurrence
        return None

    async def _period_has_begun(self, occurrence: Occurrence) -> bool:
        """Wait for the occurrence's period; False if a withdrawal or a new recurrence came
        first, and the next occurrence is to be looked for again."""
        wait = _instant(occurrence.period_start) - self._now()
        if wait > timedelta(0):
            with contextlib.suppress(TimeoutError):  # the period has begun
                await workflow.wait_condition(
                    lambda: self._withdrawn is not None or self._recurrence_revised,
                    timeout=wait,
                    timeout_summary=f"occurrence {occurrence.key} begins",
                )
        if self._take_revision():
            return False
        return self._withdrawn is None

    async def _await_open_occurrences(self) -> bool:
        """No occurrence is left to start: stay open while any occurrence runs (an overdue
        one can outlive the next), so that a withdrawal or a revision can still reach the
        task. True when a revision came and the next occurrence is to be looked for again."""
        if self._all_children_closed():
            return False
        await workflow.wait_condition(
            lambda: (
                self._withdrawn is not None
                or self._recurrence_revised
                or self._all_children_closed()
            )
        )
        return self._take_revision()

    def _all_children_closed(self) -> bool:
        return all(child.done() for child in self._children)

    def _may_continue_as_new(self) -> bool:
        # A new run cannot wait for children an earlier run started, so the run that
        # started them stays while any is open. Its history grows by some ten events an
        # occurrence, bounded by the plan's period.
        return self._all_children_closed()

    def _take_revision(self) -> bool:
        revised, self._recurrence_revised = self._recurrence_revised, False
        return revised

    async def _start(self, occurrence: Occurrence) -> None:
        raw = self._template.recurrence.raw if self._template.recurrence else ""
        task = self._template.model_copy(
            update={"milestones": [Milestone(due=occurrence.due, raw=raw)], "recurrence": None}
        )
        child_id = f"{workflow.info().workflow_id}@{occurrence.key}"
        child = await workflow.start_child_workflow(
            TaskWorkflow.run,
            TaskWorkflowInput(
                plan_id=self._request.plan_id,
                task=task,
                policy=self._request.policy,
                search_attributes=self._request.search_attributes,
                index_lead_unit=self._request.index_lead_unit,
                clock_offset=self._request.clock_offset,
            ),
            id=child_id,
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
        self._started.append(child_id)
        self._last_occurrence = occurrence
        self._children.append(child)
        self._open_occurrences.append(child_id)
        child.add_done_callback(functools.partial(self._forget_closed, child_id))

    def _forget_closed(self, child_id: str, child: asyncio.Future[Any]) -> None:
        """Keep the list a withdrawal goes through to the occurrences that may be open."""
        if not child.cancelled():
            # A failed or terminated occurrence has closed all the same, and is no failure of
            # the parent's: read its error only so that asyncio does not report it as lost.
            child.exception()
        if child_id in self._open_occurrences:
            self._open_occurrences.remove(child_id)

    async def _withdraw_open_occurrences(self, reason: str) -> None:
        if not self._open_occurrences:
            return
        withdrawal = Withdrawal(reason=reason)
        await asyncio.gather(
            *(
                self._withdraw_occurrence(child_id, withdrawal)
                for child_id in self._open_occurrences
            )
        )

    async def _withdraw_occurrence(self, child_id: str, withdrawal: Withdrawal) -> None:
        try:
            await workflow.get_external_workflow_handle(child_id).signal(
                TaskWorkflow.withdraw_occurrence, withdrawal
            )
        except ApplicationError as error:
            # A closed workflow cannot be signalled (type ExternalWorkflowExecutionNotFound):
            # nothing left to cancel there, and the other occurrences still need the signal.
            workflow.logger.info("occurrence %s not withdrawn: %s", child_id, error)

    @workflow.query
    def started(self) -> list[str]:
        return self._started

    @workflow.update
    def revise(self, task: PlanTask) -> int:
        """A re-import changed the task: occurrences not yet started follow the new reading,
        its recurrence included (no recurrence: none starts any more), from the next one due
        after the revision. The running occurrence keeps its own due date."""
        recurrence_changed = task.recurrence != self._template.recurrence
        self._template = task
        if recurrence_changed:
            self._recurrence_revised = True
            self._revised_on = self._now().astimezone(SHANGHAI).date()
        return len(self._started)

    @revise.validator
    def _validate_revise(self, task: PlanTask) -> None:
        if task.id != self._template.id:
            raise ApplicationError(f"task {task.id} cannot revise task {self._template.id}")

    @workflow.update
    def withdraw(self, withdrawal: Withdrawal) -> None:
        """The task left its plan: no further occurrence starts, and every occurrence that
        may still be open is cancelled with the reason."""
        self._withdrawn = withdrawal.reason

    @withdraw.validator
    def _validate_withdraw(self, withdrawal: Withdrawal) -> None:
        if not withdrawal.reason.strip():
            raise ApplicationError("a withdrawal needs a reason")


def _instant(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI)
