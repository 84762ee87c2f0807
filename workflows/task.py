"""TaskWorkflow, as it stands before the lifecycle lands: it holds one imported plan task.

Import starts one per task with a workflow id derived from plan and task, so the task
exists durably in Temporal from the moment it is imported. For now it keeps the task
current (``revise``, when a re-import changes it) and ends when the task is withdrawn
from its plan. The lifecycle issue replaces the body with 交办 → 办结; the workflow name,
id scheme and input stay.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from domain.plan import PlanTask


def task_workflow_id(plan_id: str, task_id: str) -> str:
    return f"{plan_id}/{task_id}"


class TaskWorkflowInput(BaseModel):
    plan_id: str
    task: PlanTask


class TaskSnapshot(BaseModel):
    plan_id: str
    task: PlanTask
    status: Literal["held", "withdrawn"]
    revision: int
    withdrawn_reason: str | None = None


class Withdrawal(BaseModel):
    reason: str


@workflow.defn(name="TaskWorkflow")
class TaskWorkflow:
    @workflow.init
    def __init__(self, request: TaskWorkflowInput) -> None:
        self._plan_id = request.plan_id
        self._task = request.task
        self._revision = 1
        self._withdrawn_reason: str | None = None

    @workflow.run
    async def run(self, request: TaskWorkflowInput) -> TaskSnapshot:
        await workflow.wait_condition(lambda: self._withdrawn_reason is not None)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.snapshot()

    @workflow.query
    def snapshot(self) -> TaskSnapshot:
        return TaskSnapshot(
            plan_id=self._plan_id,
            task=self._task,
            status="withdrawn" if self._withdrawn_reason is not None else "held",
            revision=self._revision,
            withdrawn_reason=self._withdrawn_reason,
        )

    @workflow.update
    def revise(self, task: PlanTask) -> int:
        """Replace the held task with a re-imported reading; returns the new revision."""
        self._task = task
        self._revision += 1
        return self._revision

    @revise.validator
    def _validate_revise(self, task: PlanTask) -> None:
        if task.id != self._task.id:
            raise ApplicationError(f"task {task.id} cannot revise task {self._task.id}")
        if self._withdrawn_reason is not None:
            raise ApplicationError(f"task {self._task.id} was withdrawn")

    @workflow.update
    def withdraw(self, withdrawal: Withdrawal) -> None:
        """The task is gone from its plan: stop holding it."""
        self._withdrawn_reason = withdrawal.reason

    @withdraw.validator
    def _validate_withdraw(self, withdrawal: Withdrawal) -> None:
        if not withdrawal.reason.strip():
            raise ApplicationError("a withdrawal needs a reason")
        if self._withdrawn_reason is not None:
            raise ApplicationError(f"task {self._task.id} was already withdrawn")
