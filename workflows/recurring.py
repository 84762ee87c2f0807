"""RecurringTaskWorkflow: a task that comes back every period (每年1月底前, 一月一通报).

It owns the task's workflow id (``plan/task``) and starts one child TaskWorkflow per
occurrence (``plan/task@2018`` or ``plan/task@2018-03``) at the start of the occurrence's
period, with the period's due date as its one milestone. Children are abandoned rather
than cancelled when the parent ends, so the last occurrence runs its course. An occurrence
whose due date is before the plan was issued is not started.
"""

from __future__ import annotations

import calendar
import contextlib
import itertools
from datetime import date, datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.calendar import SHANGHAI
    from domain.lifecycle import Policy
    from domain.plan import Milestone, PlanTask, Recurrence
    from workflows.task import TaskWorkflow
    from workflows.task_contract import TaskWorkflowInput, Withdrawal


class RecurringTaskInput(BaseModel):
    plan_id: str
    task: PlanTask
    until_year: int = Field(description="the last year an occurrence falls in")
    not_before: date | None = Field(default=None, description="skip occurrences due earlier")
    policy: Policy | None = None
    search_attributes: bool = True
    clock_offset: timedelta = timedelta(0)
    next_period: date | None = Field(default=None, description="carried across continue-as-new")


class Occurrence(BaseModel):
    key: str
    period_start: date
    due: date


def occurrences(recurrence: Recurrence, first_year: int, until_year: int) -> list[Occurrence]:
    """Every occurrence due from January of ``first_year`` to December of ``until_year``.

    An occurrence's period begins the day after the previous one is due, so the whole
    span before a due date (reminders, the extension notice) lies inside its period.
    """
    due_dates: list[tuple[str, date]] = []
    for year in range(first_year - 1, until_year + 1):
        months = range(1, 13) if recurrence.frequency == "monthly" else [recurrence.month or 12]
        for month in months:
            last = calendar.monthrange(year, month)[1]
            key = f"{year}-{month:02d}" if recurrence.frequency == "monthly" else str(year)
            due_dates.append((key, date(year, month, min(recurrence.day or last, last))))
    found: list[Occurrence] = []
    for (_, previous_due), (key, due) in itertools.pairwise(due_dates):
        if due.year >= first_year:
            found.append(
                Occurrence(key=key, period_start=previous_due + timedelta(days=1), due=due)
            )
    return found


@workflow.defn(name="RecurringTaskWorkflow")
class RecurringTaskWorkflow:
    @workflow.init
    def __init__(self, request: RecurringTaskInput) -> None:
        self._request = request
        self._template = request.task
        self._withdrawn: str | None = None
        self._started: list[str] = []

    def _now(self) -> datetime:
        return workflow.now() - self._request.clock_offset

    @workflow.run
    async def run(self, request: RecurringTaskInput) -> list[str]:
        recurrence = request.task.recurrence
        if recurrence is None:
            raise ApplicationError("the task does not recur", non_retryable=True)
        today = self._now().astimezone(SHANGHAI).date()
        first_year = (request.next_period or request.not_before or today).year
        for occurrence in occurrences(recurrence, first_year, request.until_year):
            if request.next_period and occurrence.period_start < request.next_period:
                continue
            if request.not_before and occurrence.due < request.not_before:
                continue
            wait = _instant(occurrence.period_start) - self._now()
            if wait > timedelta(0):
                with contextlib.suppress(TimeoutError):  # the period has begun
                    await workflow.wait_condition(
                        lambda: self._withdrawn is not None,
                        timeout=wait,
                        timeout_summary=f"occurrence {occurrence.key} begins",
                    )
            if self._withdrawn is not None:
                break
            await self._start(occurrence)
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                carried = {
                    "task": self._template,
                    "next_period": occurrence.period_start + timedelta(days=1),
                }
                workflow.continue_as_new(request.model_copy(update=carried))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._started

    async def _start(self, occurrence: Occurrence) -> None:
        raw = self._template.recurrence.raw if self._template.recurrence else ""
        task = self._template.model_copy(
            update={"milestones": [Milestone(due=occurrence.due, raw=raw)], "recurrence": None}
        )
        child_id = f"{workflow.info().workflow_id}@{occurrence.key}"
        await workflow.start_child_workflow(
            TaskWorkflow.run,
            TaskWorkflowInput(
                plan_id=self._request.plan_id,
                task=task,
                policy=self._request.policy,
                search_attributes=self._request.search_attributes,
                clock_offset=self._request.clock_offset,
            ),
            id=child_id,
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
        self._started.append(child_id)

    @workflow.query
    def started(self) -> list[str]:
        return self._started

    @workflow.update
    def revise(self, task: PlanTask) -> int:
        """A re-import changed the task: later occurrences use the new reading."""
        self._template = task
        return len(self._started)

    @revise.validator
    def _validate_revise(self, task: PlanTask) -> None:
        if task.id != self._template.id:
            raise ApplicationError(f"task {task.id} cannot revise task {self._template.id}")

    @workflow.update
    def withdraw(self, withdrawal: Withdrawal) -> None:
        """The task left its plan: no further occurrence starts (running ones go on)."""
        self._withdrawn = withdrawal.reason

    @withdraw.validator
    def _validate_withdraw(self, withdrawal: Withdrawal) -> None:
        if not withdrawal.reason.strip():
            raise ApplicationError("a withdrawal needs a reason")


def _instant(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI)
