"""TaskWorkflow: one plan task from hand-off (交办) to closure (办结 or 撤销).

The rules live in :mod:`domain.lifecycle`; this class is the durable shell around them:

* every action is an update whose validator runs the domain check, so a wrong actor, a
  wrong stage or a bad payload is rejected before anything reaches history;
* handlers change the state synchronously and queue the resulting events; the main loop
  records them in PostgreSQL in batches through one activity (idempotent on workflow id
  and sequence number) and waits for the next alarm or action;
* alarms (reminders, 催办, the 督办 ladder, unaccepted and progress reminders, sign-off
  windows) come from a schedule counted here over the holiday calendar's years as a local
  activity read them once (recorded in history, kept in the state), because working days
  need the calendar and replay must not;
* a caller's Idempotency-Key is remembered with its request's fingerprint and result,
  across continue-as-new too, so a retried request applies once and the same key sent
  with another request is rejected (see ``task_contract.action_update_id``);
* a rejection's type says why: ``WrongStageError``, ``ActorNotAllowedError`` or
  ``InvalidActionError`` (the domain's), or ``IdempotencyKeyReused``; its first detail
  gives the task's current stage.

A change here that alters what a running workflow does needs a ``workflow.patched`` guard,
a kept history in ``tests/histories`` and an entry in ``tests/test_replay.KNOWN_PATCHES``.
"""

# No ``from __future__ import annotations`` here: the sandbox imports this module afresh for
# every workflow run, and the SDK reads each handler's type hints; string annotations would
# be compiled again each time (about 2 ms a run).
import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import lifecycle
    from domain.alarms import (
        Alarm,
        AlarmKind,
        Schedule,
        calendar_years_needed,
        due_alarms,
        owes_monthly_progress,
        plan_schedule,
    )
    from domain.calendar import (
        CalendarGapError,
        CalendarYears,
        WorkingCalendar,
        end_of_day,
        local_date,
    )
    from domain.event_log import cooperating_at_assignment
    from domain.lifecycle import (
        Actor,
        InvalidActionError,
        LifecycleError,
        MilestoneState,
        Stage,
        TaskEvent,
        TaskState,
        WrongStageError,
    )
    from domain.plan import PlanTask
    from domain.plan_diff import task_fingerprint
    from workflows.task_contract import (
        LEAD_UNIT_ATTRIBUTE,
        NEXT_DUE_ATTRIBUTE,
        OVERDUE_ATTRIBUTE,
        PLAN_ATTRIBUTE,
        READ_WORKING_CALENDAR,
        RECORD_TASK_EVENTS,
        RESYNC_PROJECTION_SIGNAL,
        STAGE_ATTRIBUTE,
        Accept,
        ActionResult,
        AppliedUpdate,
        CalendarSpan,
        Cancel,
        DecideExtension,
        Reassign,
        RecordEvents,
        Refuse,
        ReportProgress,
        RequestExtension,
        Review,
        SignOff,
        Submit,
        TaskSnapshot,
        TaskWorkflowInput,
        Withdrawal,
        action_result,
        parse_update_id,
        projection_of,
        task_workflow_id,
    )

__all__ = ["TaskWorkflow", "TaskWorkflowInput", "Withdrawal", "task_workflow_id"]

SYSTEM = Actor(role="coordinator", name="duban")
APPLIED_UPDATES_KEPT = 500
# A reassignment drops the former lead's waiting extension request.
REASSIGN_LAPSES_EXTENSION_PATCH = "reassign-lapses-extension"
_RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)


def initial_state(request: TaskWorkflowInput, now: datetime) -> TaskState:
    task = request.task
    due_at = request.due_at or [end_of_day(m.due) for m in task.milestones]
    if len(due_at) != len(task.milestones):
        raise ApplicationError(
            f"{len(due_at)} due instants for {len(task.milestones)} milestones", non_retryable=True
        )
    return TaskState(
        plan_id=request.plan_id,
        task=task,
        policy=request.policy or lifecycle.Policy(),
        lead_unit=task.lead_units[0] if task.lead_units else None,
        cooperating_units=cooperating_at_assignment(task),
        awaiting_reassignment=not task.lead_units,
        milestones=[
            MilestoneState(
                index=index,
                due=milestone.due,
                plan_due=milestone.due,
                due_at=instant,
                raw=milestone.raw,
            )
            for index, (milestone, instant) in enumerate(zip(task.milestones, due_at, strict=True))
        ],
        ongoing=task.ongoing or not task.milestones,
        assigned_at=now,
    )


@workflow.defn(name="TaskWorkflow")
class TaskWorkflow:
    @workflow.init
    def __init__(self, request: TaskWorkflowInput) -> None:
        self._input = request
        self._state: TaskState | None = request.state
        self._unrecorded: list[TaskEvent] = []
        self._schedule = Schedule()
        self._needs_schedule = True
        self._attributes_dirty = True
        self._recorded_seq = request.state.seq if request.state else 0
        self._alarm_timer: asyncio.Task[None] | None = None
        self._alarm_timer_at: datetime | None = None
        self._alarm_rang = False
        self._resync_asked = False
        # An update sent with the start (accept right after import) runs before run():
        # the state must exist from the first activation. run() reports a bad input.
        if self._state is None:
            with contextlib.suppress(ApplicationError):
                self._begin_lifecycle(request)

    def _begin_lifecycle(self, request: TaskWorkflowInput) -> None:
        self._state = initial_state(request, self._now())
        overdue = self._state.overdue_days(self._now())
        self._queue(
            lifecycle.record(
                self._state,
                "assigned",
                self._now(),
                unit=self._state.lead_unit,
                recipients=[u for u in [self._state.lead_unit] if u],
                overdue_at_import=overdue > 0,
                overdue_days=overdue,
            )
        )

    # ------------------------------------------------------------------ main loop

    @workflow.run
    async def run(self, request: TaskWorkflowInput) -> TaskSnapshot:
        if self._state is None:
            self._begin_lifecycle(request)
        state = self._state_or_fail()
        while True:
            if self._needs_schedule:
                await self._refresh_schedule()
            self._fire_due_alarms()
            if self._unrecorded or self._resync_asked:
                await self._record()
                continue  # recording took time: alarms may have come due meanwhile
            self._upsert_search_attributes()
            if not state.stage.is_open:
                break
            if self._history_is_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._unrecorded:
                    workflow.continue_as_new(request.model_copy(update={"state": state}))
                continue
            await self._wait_for_work()
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._unrecorded:
            await self._record()
        return self.snapshot()

    async def _wait_for_work(self) -> None:
        """Sleep until an action arrives or the next alarm is due.

        The alarm timer outlives the wait: an action that leaves the next alarm where it was
        keeps the same timer, instead of cancelling and starting one (two history events)
        on every action.
        """
        next_at = self._schedule.next_at(set(self._state_or_fail().fired_alarms))
        timer_spent = self._alarm_timer is None or self._alarm_timer.done()
        if next_at != self._alarm_timer_at or timer_spent:
            if self._alarm_timer is not None and not self._alarm_timer.done():
                self._alarm_timer.cancel()
            self._alarm_timer = None
            self._alarm_timer_at = next_at
            self._alarm_rang = False
            if next_at is not None:
                self._alarm_timer = asyncio.create_task(self._ring_at(next_at))
        await workflow.wait_condition(
            lambda: (
                bool(self._unrecorded)
                or self._needs_schedule
                or self._alarm_rang
                or self._resync_asked
            )
        )
        self._alarm_rang = False

    async def _ring_at(self, at: datetime) -> None:
        await workflow.sleep(
            max(at - self._now(), timedelta(0)), summary="next reminder or escalation"
        )
        self._alarm_rang = True

    async def _refresh_schedule(self) -> None:
        state = self._state_or_fail()
        self._needs_schedule = False
        self._schedule = await self._schedule_over_recorded_calendar(state)
        for milestone in state.milestones:
            milestone.extension_deadline = self._schedule.extension_deadlines.get(
                milestone.index, milestone.extension_deadline
            )
        for signoff in state.signoffs:
            if signoff.decision == "pending" and signoff.window_ends is None:
                signoff.window_ends = self._schedule.signoff_windows.get(signoff.unit)

    async def _schedule_over_recorded_calendar(self, state: TaskState) -> Schedule:
        """Count the alarms here, over calendar years recorded in the state: one local
        activity reads the calendar for a task's years, instead of one per refresh."""
        first, last = calendar_years_needed(state, self._now())
        today = local_date(self._now())
        while True:
            known = state.calendar
            if known is None or known.needs_reading(first, last, today):
                if known is not None:
                    first, last = min(first, known.first_year), max(last, known.last_year)
                years = await workflow.execute_local_activity(
                    READ_WORKING_CALENDAR,
                    CalendarSpan(first_year=first, last_year=last),
                    result_type=CalendarYears,
                    start_to_close_timeout=timedelta(seconds=30),
                )
                state.calendar = years.model_copy(update={"read_on": today})
            try:
                return plan_schedule(state, WorkingCalendar(years=state.calendar))
            except CalendarGapError as gap:  # an alarm reached past the span: widen it,
                # with a year to spare, as a count of working days tends to go on
                first, last = min(first, gap.year - 1), max(last, gap.year + 1)

    def _fire_due_alarms(self) -> None:
        state = self._state_or_fail()
        now = self._now()
        to_fire, to_skip = due_alarms(self._schedule, set(state.fired_alarms), now)
        for alarm in to_skip:
            state.fired_alarms.append(alarm.key)
        for alarm in to_fire:
            state.fired_alarms.append(alarm.key)
            self._fire(alarm, now, skipped=len(to_skip))
        if to_fire or to_skip:
            self._attributes_dirty = True
        # A task asleep between alarms reschedules on waking if the calendar it counted with
        # guessed a year: the next alarm should not land on a holiday a release now knows.
        known = state.calendar
        if (
            to_fire
            and known is not None
            and known.needs_reading(known.first_year, known.last_year, local_date(now))
        ):
            self._needs_schedule = True

    def _fire(self, alarm: Alarm, now: datetime, skipped: int) -> None:
        state = self._state_or_fail()
        if not state.stage.is_open:
            return
        if alarm.kind is AlarmKind.SIGNOFF_WINDOW:
            pending = any(s.unit == alarm.unit and s.decision == "pending" for s in state.signoffs)
            if pending and alarm.unit is not None and state.stage is Stage.SIGNOFF:
                self._queue(*lifecycle.apply_deemed_consent(state, alarm.unit, now))
                self._needs_schedule = True
            return
        if alarm.kind is AlarmKind.DUE_PASSED:
            return  # nothing to tell anyone; the overdue flag refreshes with the attributes
        if alarm.kind is AlarmKind.ESCALATION and alarm.level and alarm.milestone is not None:
            milestone = state.milestones[alarm.milestone]
            milestone.escalation_level = max(milestone.escalation_level, alarm.level)
        if alarm.kind is AlarmKind.PROGRESS:
            state.last_progress_reminder_at = now
            self._needs_schedule = True
        self._queue(
            lifecycle.record(
                state,
                alarm.kind.value,
                now,
                unit=alarm.unit,
                stage_before=state.stage,
                milestone=alarm.milestone,
                level=alarm.level,
                recipients=alarm.recipients,
                scheduled_for=alarm.at.isoformat(),
                superseded_alarms=skipped,
            )
        )

    async def _record(self) -> None:
        state = self._state_or_fail()
        batch, self._unrecorded = self._unrecorded, []
        self._resync_asked = False
        info = workflow.info()
        request = RecordEvents(
            workflow_id=info.workflow_id,
            lineage=info.first_execution_run_id,
            events=batch,
            projection=projection_of(state, self._yellow_from(state)),
        )
        # The recorder tells a reset run's events from those of the run it replaced by the
        # run id and the send time (a reset keeps the first run id). They are activity
        # input, not commands, so no patch guards them: a history recorded before they
        # existed replays the same, and its activity, sending neither, has the recorder
        # take both from the activity's own info.
        request.run_id = info.run_id
        request.sent_at = workflow.now()
        await workflow.execute_activity(
            RECORD_TASK_EVENTS,
            request,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_RECORD_RETRY,
        )
        self._recorded_seq = max((event.seq for event in batch), default=self._recorded_seq)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.continue_as_new_after_events
        )

    def _upsert_search_attributes(self) -> None:
        if not self._input.search_attributes or not self._attributes_dirty:
            return
        self._attributes_dirty = False
        state = self._state_or_fail()
        milestone = state.current_milestone
        wanted: list[tuple[Any, Any]] = [
            (PLAN_ATTRIBUTE, state.plan_id),
            (STAGE_ATTRIBUTE, state.stage.value),
            (OVERDUE_ATTRIBUTE, state.overdue_days(self._now()) > 0),
            (LEAD_UNIT_ATTRIBUTE, state.lead_unit if self._input.index_lead_unit else None),
            (NEXT_DUE_ATTRIBUTE, milestone.due_at if milestone else None),
        ]
        current = workflow.info().typed_search_attributes
        updates: list[SearchAttributeUpdate[Any]] = [
            key.value_set(value) if value is not None else key.value_unset()
            for key, value in wanted
            if current.get(key) != value
        ]
        if updates:
            # Each upsert is a history event: send only what changed.
            workflow.upsert_search_attributes(updates)

    # ------------------------------------------------------------------ helpers

    def _now(self) -> datetime:
        """The plan's clock: the server's, less the offset a simulation runs at."""
        return workflow.now() - self._input.clock_offset

    def _yellow_from(self, state: TaskState) -> datetime | None:
        """The instant from which the current milestone shows yellow (None: no milestone)."""
        milestone = state.current_milestone
        return self._schedule.yellow_from.get(milestone.index) if milestone else None

    def _state_or_fail(self) -> TaskState:
        if self._state is None:
            raise ApplicationError("the task has not started its lifecycle", non_retryable=True)
        return self._state

    def _queue(self, *events: TaskEvent) -> None:
        self._unrecorded.extend(events)
        self._attributes_dirty = True

    def _applied_before(self) -> AppliedUpdate | None:
        """What this request's idempotency key applied before, if it did (in this run or
        before a continue-as-new)."""
        info = workflow.current_update_info()
        if info is None or self._state is None:
            return None
        key, _ = parse_update_id(info.id)
        remembered = self._state.applied_updates.get(key)
        if remembered is None:
            return None
        return AppliedUpdate.model_validate(remembered)

    def _remember(self, result: dict[str, Any]) -> ActionResult:
        info = workflow.current_update_info()
        state = self._state_or_fail()
        answer = ActionResult.model_validate(result)
        if info is not None:
            key, fingerprint = parse_update_id(info.id)
            applied = AppliedUpdate(update=info.name, fingerprint=fingerprint, result=answer)
            state.applied_updates[key] = applied.model_dump(mode="json")
            for stale in list(state.applied_updates)[:-APPLIED_UPDATES_KEPT]:
                del state.applied_updates[stale]
        return answer

    def _validate(self, check: Any, *args: Any) -> None:
        """Run a domain check for a validator: a rejection carries the domain's reason, its
        error type (WrongStageError, ActorNotAllowedError, InvalidActionError) and the
        task's current stage."""
        if (applied := self._applied_before()) is not None:
            self._reject_reused_key(applied)
            return  # a retry of an applied request: the handler returns the first result
        state = self._state_or_fail()
        try:
            check(state, *args)
        except LifecycleError as error:
            raise self._rejection(error) from None

    def _rejection(self, error: LifecycleError) -> ApplicationError:
        """A validator's rejection: the reason, the error's type and the task's stage."""
        return ApplicationError(
            str(error),
            {"stage": self._state_or_fail().stage.value},
            type=type(error).__name__,
            non_retryable=True,
        )

    @staticmethod
    def _reject_reused_key(applied: AppliedUpdate) -> None:
        """A key already spent on another request must not answer with that request's
        result, as if this one had been applied."""
        info = workflow.current_update_info()
        assert info is not None  # only called while an update is handled
        key, fingerprint = parse_update_id(info.id)
        other_content = (
            fingerprint is not None
            and applied.fingerprint is not None
            and fingerprint != applied.fingerprint
        )
        if applied.update != info.name or other_content:
            raise ApplicationError(
                f"the idempotency key {key!r} was already used for another request "
                f"({applied.update}); send this one with a new key",
                type="IdempotencyKeyReused",
                non_retryable=True,
            )

    def _act(self, events: list[TaskEvent], *, reschedule: bool = True) -> ActionResult:
        self._queue(*events)
        if reschedule:
            self._needs_schedule = True
        return self._remember(action_result(self._state_or_fail()))

    # ------------------------------------------------------------------ queries

    @workflow.query
    def snapshot(self) -> TaskSnapshot:
        state = self._state_or_fail()
        now = self._now()
        return TaskSnapshot(
            workflow_id=workflow.info().workflow_id,
            state=state,
            overdue_days=state.overdue_days(now),
            status_light=state.status_light(now, self._yellow_from(state)),
            next_alarm_at=self._schedule.next_at(set(state.fired_alarms)),
            schedule=self._schedule,
            recorded_seq=self._recorded_seq,
        )

    # ------------------------------------------------------------------ lead unit

    @workflow.update
    def accept(self, action: Accept) -> ActionResult:
        """承办: the lead unit takes the task on."""
        if (done := self._applied_before()) is not None:
            return done.result
        return self._act(lifecycle.apply_accept(self._state_or_fail(), action.actor, self._now()))

    @accept.validator
    def _validate_accept(self, action: Accept) -> None:
        self._validate(lifecycle.check_accept, action.actor)

    @workflow.update
    def refuse(self, action: Refuse) -> ActionResult:
        """退回交办: the lead unit says the task is outside its remit."""
        if (done := self._applied_before()) is not None:
            return done.result
        state = self._state_or_fail()
        return self._act(lifecycle.apply_refuse(state, action.actor, action.reason, self._now()))

    @refuse.validator
    def _validate_refuse(self, action: Refuse) -> None:
        self._validate(lifecycle.check_refuse, action.actor, action.reason)

    @workflow.update
    def report_progress(self, action: ReportProgress) -> ActionResult:
        if (done := self._applied_before()) is not None:
            return done.result
        state = self._state_or_fail()
        events = lifecycle.apply_progress(
            state, action.actor, action.percent, action.text, action.evidence, self._now()
        )
        # Only a long task's monthly progress reminder depends on the last report.
        return self._act(events, reschedule=owes_monthly_progress(state))

    @report_progress.validator
    def _validate_report_progress(self, action: ReportProgress) -> None:
        self._validate(lifecycle.check_progress, action.actor, action.percent, action.text)

    @workflow.update
    def submit(self, action: Submit) -> ActionResult:
        """The lead unit reports the current milestone (or the task) done, with evidence."""
        if (done := self._applied_before()) is not None:
            return done.result
        state = self._state_or_fail()
        return self._act(
            lifecycle.apply_submit(
                state, action.actor, action.summary, action.evidence, self._now()
            )
        )

    @submit.validator
    def _validate_submit(self, action: Submit) -> None:
        self._validate(lifecycle.check_submit, action.actor, action.summary)

    @workflow.update
    def request_extension(self, action: RequestExtension) -> ActionResult:
        if (done := self._applied_before()) is not None:
            return done.result
        state = self._state_or_fail()
        events = lifecycle.apply_request_extension(
            state, action.actor, action.new_due, action.reason, self._now()
        )
        return self._act(events, reschedule=False)

    @request_extension.validator
    def _validate_request_extension(self, action: RequestExtension) -> None:
        self._validate(
            lifecycle.check_request_extension,
            action.actor,
            action.new_due,
            action.reason,
            self._now(),
        )

    # ------------------------------------------------------------------ cooperating units

    @workflow.update
    def sign_off(self, action: SignOff) -> ActionResult:
        """会签: a cooperating unit approves the lead's submission, or objects with a reason."""
        if (done := self._applied_before()) is not None:
            return done.result
        state = self._state_or_fail()
        events = lifecycle.apply_signoff(
            state, action.actor, action.approve, action.reason, self._now()
        )
        # An approval changes no timer (review, like sign-off, pauses the deadline alarms;
        # a decided unit's window alarm finds nothing pending); an objection restarts them.
        return self._act(events, reschedule=not action.approve)

    @sign_off.validator
    def _validate_sign_off(self, action: SignOff) -> None:
        self._validate(lifecycle.check_signoff, action.actor, action.approve, action.reason)

    # ------------------------------------------------------------------ coordinator

    @workflow.update
    def review(self, action: Review) -> ActionResult:
        """审核: the coordinator approves (the milestone, or the task, is done) or returns it."""
        if (done := self._applied_before()) is not None:
            return done.result
        state = self._state_or_fail()
        events = lifecycle.apply_review(
            state, action.actor, action.approve, action.reason, self._now()
        )
        return self._act(events)

    @review.validator
    def _validate_review(self, action: Review) -> None:
        self._validate(lifecycle.check_review, action.actor, action.approve, action.reason)

    @workflow.update
    def decide_extension(self, action: DecideExtension) -> ActionResult:
        if (done := self._applied_before()) is not None:
            return done.result
        state = self._state_or_fail()
        request = state.pending_extension
        new_due_at = end_of_day(request.requested_due) if request and action.approve else None
        if request is not None and action.approve and self._input.due_at:
            # A test clock: move the instant by as much as the date moved.
            old = state.milestones[request.milestone]
            new_due_at = old.due_at + (request.requested_due - old.due)
        events = lifecycle.apply_decide_extension(
            state, action.actor, action.approve, action.reason, new_due_at, self._now()
        )
        return self._act(events)

    @decide_extension.validator
    def _validate_decide_extension(self, action: DecideExtension) -> None:
        self._validate(
            lifecycle.check_decide_extension, action.actor, action.approve, action.reason
        )

    @workflow.update
    def reassign(self, action: Reassign) -> ActionResult:
        if (done := self._applied_before()) is not None:
            return done.result
        state = self._state_or_fail()
        lapse = state.pending_extension is None or workflow.patched(REASSIGN_LAPSES_EXTENSION_PATCH)
        return self._act(
            lifecycle.apply_reassign(
                state, action.actor, action.unit, self._now(), lapse_extension_request=lapse
            )
        )

    @reassign.validator
    def _validate_reassign(self, action: Reassign) -> None:
        self._validate(lifecycle.check_reassign, action.actor, action.unit)

    @workflow.update
    def cancel(self, action: Cancel) -> ActionResult:
        """撤销: the coordinator closes the task; every pending timer stops with it."""
        if (done := self._applied_before()) is not None:
            return done.result
        state = self._state_or_fail()
        return self._act(lifecycle.apply_cancel(state, action.actor, action.reason, self._now()))

    @cancel.validator
    def _validate_cancel(self, action: Cancel) -> None:
        self._validate(lifecycle.check_cancel, action.actor, action.reason)

    # ------------------------------------------------------------------ re-import

    @workflow.update
    def revise(self, task: PlanTask) -> int:
        """A re-import changed the task: take its new reading.

        A due date moves only where the plan's own date changed, so a re-import never undoes
        a granted extension. Units are not switched here: a different lead in the document
        is recorded on the event for the coordinator, who reassigns (the current lead may
        have accepted and be half-way through).
        """
        state = self._state_or_fail()
        moved: list[str] = []
        if len(task.milestones) == len(state.milestones):
            for milestone, revised in zip(state.milestones, task.milestones, strict=True):
                plan_due = milestone.plan_due or milestone.due
                if milestone.done_at is None and revised.due != plan_due:
                    moved.append(f"{plan_due.isoformat()}→{revised.due.isoformat()}")
                    milestone.due = milestone.plan_due = revised.due
                    milestone.due_at = end_of_day(revised.due)
                    milestone.escalation_level = 0
        document_lead = task.lead_units[0] if task.lead_units else None
        state.task = task
        self._queue(
            lifecycle.record(
                state,
                "revised",
                self._now(),
                stage_before=state.stage,
                due_dates_moved=moved,
                document_lead=document_lead if document_lead != state.lead_unit else None,
            )
        )
        self._needs_schedule = True
        return state.seq

    @revise.validator
    def _validate_revise(self, task: PlanTask) -> None:
        state = self._state_or_fail()
        if task.id != state.task.id:
            raise self._rejection(
                InvalidActionError(f"task {task.id} cannot revise task {state.task.id}")
            )
        if not state.stage.is_open:
            raise self._rejection(
                WrongStageError(
                    f"task {state.task.id} is {state.stage.value} ({state.stage.label}); "
                    "it is closed",
                    state.stage,
                )
            )
        if task_fingerprint(task) == task_fingerprint(state.task):
            # A re-import that finds this workflow running without having recorded its
            # start (it was cut short) sends the reading the workflow already holds. Refused
            # here, in the validator, it leaves no trace in history: no 'revised' event for
            # a task that did not change. (Validators do not run on replay, so histories
            # with such revisions accepted still replay.)
            raise ApplicationError(
                f"task {state.task.id} holds this reading already",
                {"stage": state.stage.value},
                type="UnchangedRevision",
                non_retryable=True,
            )

    @workflow.update
    def withdraw(self, withdrawal: Withdrawal) -> None:
        """The task left its plan: it is cancelled, by the system, with the reason."""
        state = self._state_or_fail()
        self._act(lifecycle.apply_cancel(state, SYSTEM, withdrawal.reason, self._now()))

    @withdraw.validator
    def _validate_withdraw(self, withdrawal: Withdrawal) -> None:
        state = self._state_or_fail()
        if not withdrawal.reason.strip():
            raise self._rejection(InvalidActionError("a withdrawal needs a reason"))
        if not state.stage.is_open:
            raise self._rejection(
                WrongStageError(
                    f"the task is {state.stage.value} ({state.stage.label}); it was already "
                    "withdrawn or closed",
                    state.stage,
                )
            )

    @workflow.signal(name=RESYNC_PROJECTION_SIGNAL)
    def resync_projection(self) -> None:
        """Record the task's state now, with or without new events: after an operator reset
        whose undone actions are not replayed, PostgreSQL would otherwise show them until
        the reset run's next event. A signal: there is nothing to refuse, and an operator
        sends it with ``temporal workflow signal --name resync_projection``."""
        self._resync_asked = True

    @workflow.signal(name="withdraw_occurrence")
    def withdraw_occurrence(self, withdrawal: Withdrawal) -> None:
        """The recurring task this occurrence belongs to left its plan: cancel as ``withdraw``
        does. The parent workflow sends this, as a workflow cannot send an update; a signal
        cannot be refused, so one that finds the task closed, or carries no reason, is
        dropped."""
        if not withdrawal.reason.strip() or self._state is None:
            return  # no state: the input was bad, and run() fails with the reason
        if self._state.stage.is_open:
            self._act(lifecycle.apply_cancel(self._state, SYSTEM, withdrawal.reason, self._now()))
