"""What the API reads and answers, as the OpenAPI document describes it.

Request bodies forbid unknown fields: a body cannot smuggle in an actor, a stage or any
other field the server decides (no mass assignment). Who acts comes from the token.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.lifecycle import CONTROL_CHARACTERS, Stage

Text: Any = Field(min_length=1, max_length=4000)
Reason: Any = Field(min_length=1, max_length=2000, description="required; shown to the other side")
Evidence: Any = Field(
    default_factory=list,
    max_length=20,
    description="references to evidence (document numbers, links inside the network)",
)


def _refuse_control_characters(value: Any) -> Any:
    if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
        raise ValueError("control characters (such as NUL) are not allowed")
    if isinstance(value, list):
        for item in value:
            _refuse_control_characters(item)
    return value


class Body(BaseModel):
    """A request body: unknown fields and control characters are refused."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        return _refuse_control_characters(value)


class AcceptBody(Body):
    """承办: no content; the lead unit takes the task on."""


class RefuseBody(Body):
    """退回交办: the task is outside the unit's remit."""

    reason: str = Reason


class ProgressBody(Body):
    percent: int = Field(ge=0, le=100)
    text: str = Text
    evidence: list[str] = Evidence


class SubmitBody(Body):
    summary: str = Text
    evidence: list[str] = Evidence


class SignOffBody(Body):
    """会签: approve, or object with a reason."""

    approve: bool
    reason: str | None = Field(default=None, max_length=2000)


class ReviewBody(Body):
    """审核: approve (the milestone or task is done) or return it with a reason."""

    approve: bool
    reason: str | None = Field(default=None, max_length=2000)


class RequestExtensionBody(Body):
    new_due: date
    reason: str = Reason


class DecideExtensionBody(Body):
    approve: bool
    reason: str = Field(default="", max_length=2000)


class ReassignBody(Body):
    unit: str = Field(min_length=1, max_length=200, description="the unit that takes the lead")


class CancelBody(Body):
    """撤销: close the task for good."""

    reason: str = Reason


class ActionResponse(BaseModel):
    workflow_id: str
    plan_id: str
    task_key: str
    stage: Stage
    seq: int = Field(description="the task's event sequence number after the action")
    message: str = ""


class TaskSummary(BaseModel):
    workflow_id: str
    plan_id: str
    task_key: str = Field(description="the task id, with @period for a recurring occurrence")
    task_id: str
    text: str
    category: list[str]
    stage: Stage
    light: Literal["red", "yellow", "green", "none"]
    lead_unit: str | None
    cooperating_units: list[str]
    next_due: date | None
    next_due_at: datetime | None
    overdue_days: int
    escalation_level: int
    extensions_granted: int
    progress_percent: int
    awaiting_reassignment: bool
    closed_at: datetime | None
    seq: int
    updated_at: datetime


class TaskPage(BaseModel):
    items: list[TaskSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class TimelineEvent(BaseModel):
    seq: int
    lineage: str
    kind: str
    at: datetime
    actor_role: str | None
    actor_unit: str | None
    unit: str | None
    stage_before: str | None
    stage_after: str | None
    milestone: int | None
    level: int | None
    recipients: list[str]
    detail: dict[str, Any]


class TaskDetail(TaskSummary):
    milestones: list[dict[str, Any]]
    recurrence: dict[str, Any] | None
    ongoing: bool
    source: dict[str, Any]
    flags: list[str]
    timeline: list[TimelineEvent]


class PlanFields(BaseModel):
    plan_id: str
    title: str
    issuer: str | None
    document_number: str | None
    issue_date: date | None
    period_start: int
    period_end: int
    source_file: str
    format: str
    imported_at: datetime
    updated_at: datetime


class PlanSummary(PlanFields):
    tasks: int
    open: int
    overdue: int


class PlanDetail(PlanFields):
    tasks_imported: int
    by_stage: dict[str, int]
    by_light: dict[str, int]


class PlanImportResult(BaseModel):
    plan_id: str
    status: Literal["imported", "unchanged", "updated"]
    added: int
    changed: int
    removed: int
    unchanged: int
    workflows_started: int
    revised: int
    withdrawn: int
    warnings: int
    # What the import did not do, and why: "task 3 is closed (办结): not withdrawn".
    notes: list[str] = []
    rebased_years: int = Field(
        default=0, description="whole years every date was shifted by (rebase_year); 0: as written"
    )


class PlanPreview(BaseModel):
    """The parse preview, as `duban parse --json` prints it; nothing is stored."""

    plan: dict[str, Any]
    tasks: list[dict[str, Any]]
    warnings: list[dict[str, Any]]


class UnitModel(BaseModel):
    name: str
    aliases: list[str]
    in_directory: bool = Field(description="false: named only by an imported plan")
    group_members: list[str] | None = None


class Me(BaseModel):
    token_id: str
    role: Literal["unit", "coordinator", "admin"]
    name: str
    unit: str | None
    plans: list[str] | None = Field(description="a coordinator's plans; null means every plan")


class AuditRow(BaseModel):
    id: int
    at: datetime
    request_id: str
    token_id: str | None
    role: str | None
    unit: str | None
    method: str
    route: str
    plan_id: str | None
    task_id: str | None
    action: str | None
    idempotency_key: str | None
    payload_digest: str | None
    status: int
    error_code: str | None


class AuditPage(BaseModel):
    items: list[AuditRow]
    next_before: int | None = Field(description="pass as `before` for older rows")


class TokenModel(BaseModel):
    token_id: str
    role: Literal["unit", "coordinator", "admin"]
    name: str
    unit: str | None
    plans: list[str] | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    status: Literal["active", "expired", "revoked"]


class IssuedTokenModel(TokenModel):
    secret: str | None = Field(
        description="shown once: store it now, it cannot be read again (null when this "
        "answer is the replay of a retried request)"
    )


class TokenRequest(Body):
    role: Literal["unit", "coordinator", "admin"]
    unit: str | None = Field(default=None, max_length=200)
    plans: list[str] | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    expires_days: int = Field(default=90, ge=1, le=3650)
