"""Random sequences against one task on the time-skipping server, checked after every step.

A hypothesis state machine plays the task's units and coordinator: accept, refuse,
reassign (to a new unit, to a cooperating one, to the lead), report progress, submit, sign
off or object, approve or return, request and decide extensions, cancel, with wrong actors
as often as right ones, plus time skips (the alarms: reminders, 催办, 督办, unaccepted
reminders, deemed consent), re-import revisions and withdrawals. After each step:

* the workflow accepted exactly what the pure rules of domain.lifecycle allow, and a
  refused action changed nothing;
* the event log in PostgreSQL is each sequence number once, and its stage changes are
  legal ones (closed stages stay closed);
* each alarm fired at most once (from the recorded events, and in the state);
* the projection (task_states) equals the workflow's own state (its snapshot query).

The coroutines run on an event loop this test owns, in a thread of its own, so one
server, worker and database pool serve every example; each example is a new task.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Coroutine
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar, TypeVar

import asyncpg
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from pydantic import BaseModel
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.access import ActionKind
from domain.calendar import local_date
from domain.lifecycle import Actor, Stage, TaskState
from domain.plan import Milestone
from runtime.embedded import installed_executable
from runtime.settings import Settings
from services.tasks import (
    TaskActionRefusedError,
    TaskGoneError,
    revise_task,
    send_action,
    withdraw_task,
)
from tests.support.lifecycle import COOPERATING, COORDINATOR, LEAD, make_task, settle, start_task
from workers.registry import build_activities
from workers.service import build_worker
from workflows.task_contract import (
    Accept,
    Cancel,
    DecideExtension,
    Reassign,
    Refuse,
    ReportProgress,
    RequestExtension,
    Review,
    SignOff,
    Submit,
    TaskSnapshot,
    projection_of,
)

T = TypeVar("T")

# Every stage change the lifecycle makes (README, "The task lifecycle"): accept; submit
# into sign-off, or straight to review without cooperating units; sign-off complete, or
# an objection back to the lead; review approves (the next milestone, or closure) or
# returns; a reassignment restarts at 交办; any open stage may be cancelled.
LEGAL_STAGE_CHANGES = {
    (Stage.ASSIGNED, Stage.IN_PROGRESS),
    (Stage.IN_PROGRESS, Stage.SIGNOFF),
    (Stage.IN_PROGRESS, Stage.REVIEW),
    (Stage.SIGNOFF, Stage.REVIEW),
    (Stage.SIGNOFF, Stage.IN_PROGRESS),
    (Stage.REVIEW, Stage.IN_PROGRESS),
    (Stage.REVIEW, Stage.COMPLETED),
    (Stage.IN_PROGRESS, Stage.ASSIGNED),
    *((stage, Stage.CANCELLED) for stage in Stage if stage.is_open),
}
ALARM_KINDS = ("reminder", "urge", "escalation", "unaccepted_reminder", "progress_reminder")
OPEN_STAGES = tuple(stage for stage in Stage if stage.is_open)
NEW_UNIT = "市大数据局"
STRANGER = "市民政局"
PROJECTED = (
    "stage", "lead_unit", "cooperating_units", "next_due", "next_due_at", "escalation_level",
    "extensions_granted", "progress_percent", "awaiting_reassignment", "closed_at", "seq",
    "yellow_from",
)  # fmt: skip


class LoopThread:
    """An event loop run forever in its own thread; ``run`` waits for one coroutine."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="machine-loop")
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


@dataclass
class World:
    """What every example shares: the server, the database pool and the worker."""

    env: WorkflowEnvironment
    pool: asyncpg.Pool
    worker: Worker
    polling: asyncio.Task[None]
    task_queue: str

    @classmethod
    async def open(cls, database_url: str) -> World:
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter,
            test_server_existing_path=str(installed_executable("temporal-test-server")),
        )
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
        task_queue = f"machine-{uuid.uuid4().hex}"
        worker = build_worker(
            env.client,
            Settings(temporal_task_queue=task_queue),
            activities=build_activities(pool, "machine"),
        )
        return cls(env, pool, worker, asyncio.create_task(worker.run()), task_queue)

    async def close(self) -> None:
        await self.worker.shutdown()
        with suppress(Exception):
            await self.polling
        await self.pool.close()
        await self.env.shutdown()


def _as(payload: Any, actor: Actor) -> Any:
    return payload.model_copy(update={"actor": actor})


def permitted(state: TaskState, kind: ActionKind, payload: Any) -> bool | None:
    """Who may do what when, written out apart from domain.lifecycle (the README's table),
    so a rule that goes missing there shows up here. None: it depends on the clock."""
    actor: Actor = payload.actor
    is_lead = actor.role == "unit" and actor.unit == state.lead_unit
    is_coordinator = actor.role == "coordinator"
    stage, returned = state.stage, state.awaiting_reassignment
    if kind in {ActionKind.ACCEPT, ActionKind.REFUSE}:
        return stage is Stage.ASSIGNED and not returned and is_lead
    if kind is ActionKind.PROGRESS:
        return stage is Stage.IN_PROGRESS and is_lead and payload.percent >= state.progress_percent
    if kind is ActionKind.SUBMIT:
        return stage is Stage.IN_PROGRESS and is_lead
    if kind is ActionKind.SIGN_OFF:
        pending = {s.unit for s in state.signoffs if s.decision == "pending"}
        return stage is Stage.SIGNOFF and actor.role == "unit" and actor.unit in pending
    if kind is ActionKind.REVIEW:
        return stage is Stage.REVIEW and is_coordinator
    if kind is ActionKind.DECIDE_EXTENSION:
        return stage.is_open and is_coordinator and state.pending_extension is not None
    if kind is ActionKind.REASSIGN:
        movable = stage in {Stage.ASSIGNED, Stage.IN_PROGRESS}
        return movable and is_coordinator and (payload.unit != state.lead_unit or returned)
    if kind is ActionKind.CANCEL:
        return stage.is_open and is_coordinator
    allowed_stage = stage in {Stage.ASSIGNED, Stage.IN_PROGRESS} and not returned
    if kind is ActionKind.REQUEST_EXTENSION and not (allowed_stage and is_lead):
        return False
    return None


class TaskMachine(RuleBasedStateMachine):
    world: ClassVar[World]
    runner: ClassVar[LoopThread]

    def __init__(self) -> None:
        super().__init__()
        self.handle: WorkflowHandle[Any, Any] | None = None
        self.snapshot: TaskSnapshot | None = None
        self.steps = 0
        self.withdrawn = False

    # ------------------------------------------------------------------ plumbing

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coroutine)

    @property
    def state(self) -> TaskState:
        assert self.snapshot is not None
        return self.snapshot.state

    @property
    def workflow_id(self) -> str:
        assert self.handle is not None
        return self.handle.id

    def _actor(self, who: str) -> Actor:
        """A role resolved against the task as it stands: right and wrong actors alike."""
        if who == "coordinator":
            return COORDINATOR
        if who == "lead":
            return Actor(role="unit", unit=self.state.lead_unit or LEAD)
        if who == "cooperating":
            units = self.state.cooperating_units or list(COOPERATING)
            return Actor(role="unit", unit=units[self.steps % len(units)])
        return Actor(role="unit", unit=STRANGER)

    def _act(self, kind: ActionKind, payload: BaseModel) -> None:
        """Send one action: the workflow takes it exactly when the model below allows it
        (None: a rule that depends on the workflow's clock, where only its effect is seen),
        and a refused one changes nothing."""
        allowed = permitted(self.state, kind, payload)
        if allowed:
            self._impostor_is_refused(kind, payload)
        before, was_open = self.state.seq, self.state.stage.is_open
        refused = False
        try:
            self._run(
                send_action(
                    self.world.env.client, self.workflow_id, kind, payload, uuid.uuid4().hex
                )
            )
        except TaskActionRefusedError:
            refused = True
        except TaskGoneError:  # a closed task's workflow has completed: nothing to update
            assert not was_open, f"{kind}: an open task's workflow is gone"
            refused = True
        if allowed is not None:
            assert refused != allowed, (kind, payload, self.state.stage)
        self._refresh()
        if refused:
            assert self.state.seq == before, f"a refused {kind} changed the task"

    def _impostor_is_refused(self, kind: ActionKind, payload: BaseModel) -> None:
        """The same request from someone else (a cooperating unit doing the lead's part,
        the lead signing off or reviewing, an outsider) is refused, whatever the stage."""
        lead = Actor(role="unit", unit=self.state.lead_unit or LEAD)
        others = [
            *(Actor(role="unit", unit=u) for u in self.state.cooperating_units),
            Actor(role="unit", unit=STRANGER),
            COORDINATOR,
            lead,
        ]
        impostors = [a for a in others if not permitted(self.state, kind, _as(payload, a))]
        impostor = impostors[self.steps % len(impostors)]
        try:
            self._run(
                send_action(
                    self.world.env.client,
                    self.workflow_id,
                    kind,
                    _as(payload, impostor),
                    uuid.uuid4().hex,
                )
            )
        except TaskActionRefusedError:
            return
        raise AssertionError(f"{kind} by {impostor} was applied: only its rightful actor may")

    def _refresh(self) -> None:
        self.steps += 1
        self.snapshot = self._run(settle(self._handle(), self.world.pool))

    def _in(self, *stages: Stage) -> bool:
        return self.snapshot is not None and self.state.stage in stages

    def _handle(self) -> WorkflowHandle[Any, Any]:
        assert self.handle is not None
        return self.handle

    # ------------------------------------------------------------------ the task

    @initialize()
    def start(self) -> None:
        async def begin() -> WorkflowHandle[Any, Any]:
            today = local_date(await self.world.env.get_current_time())
            task = make_task([today + timedelta(days=20), today + timedelta(days=50)])
            return await start_task(self.world.env.client, self.world.task_queue, task)

        self.handle = self._run(begin())
        self._refresh()

    def teardown(self) -> None:
        if self.handle is None:
            return

        async def stop(handle: WorkflowHandle[Any, Any]) -> None:
            with suppress(RPCError, AssertionError):
                await settle(handle, self.world.pool, timeout=5)
            with suppress(RPCError):
                await handle.terminate(reason="example finished")

        self._run(stop(self.handle))

    # ------------------------------------------------------------------ the lead unit

    @precondition(lambda self: self._in(Stage.ASSIGNED))
    @rule(who=st.sampled_from(["lead", "lead", "cooperating", "coordinator"]))
    def accept(self, who: str) -> None:
        actor = self._actor(who)
        self._act(ActionKind.ACCEPT, Accept(actor=actor))

    @precondition(lambda self: self._in(Stage.ASSIGNED))
    @rule(who=st.sampled_from(["lead", "stranger"]))
    def refuse(self, who: str) -> None:
        actor, reason = self._actor(who), "不属于本单位职责"
        self._act(ActionKind.REFUSE, Refuse(actor=actor, reason=reason))

    @precondition(lambda self: self._in(Stage.IN_PROGRESS))
    @rule(who=st.sampled_from(["lead", "lead", "cooperating"]), step=st.sampled_from([-10, 10, 40]))
    def report_progress(self, who: str, step: int) -> None:
        actor = self._actor(who)
        percent = max(0, min(100, self.state.progress_percent + step))
        text = f"完成{percent}%"
        self._act(ActionKind.PROGRESS, ReportProgress(actor=actor, percent=percent, text=text))

    @precondition(lambda self: self._in(Stage.IN_PROGRESS))
    @rule(who=st.sampled_from(["lead", "lead", "cooperating"]))
    def submit(self, who: str) -> None:
        actor, summary = self._actor(who), "已完成"
        self._act(ActionKind.SUBMIT, Submit(actor=actor, summary=summary))

    @precondition(lambda self: self._in(Stage.ASSIGNED, Stage.IN_PROGRESS))
    @rule(who=st.sampled_from(["lead", "lead", "stranger"]), days=st.sampled_from([10, 60]))
    def request_extension(self, who: str, days: int) -> None:
        milestone = self.state.current_milestone
        new_due = (milestone.due if milestone else date(2030, 1, 1)) + timedelta(days=days)
        actor = self._actor(who)
        # Whether the request is still in time depends on the workflow's clock.
        self._act(
            ActionKind.REQUEST_EXTENSION,
            RequestExtension(actor=actor, new_due=new_due, reason="需协调资金"),
        )

    # ------------------------------------------------------------------ cooperating units

    @precondition(lambda self: self._in(Stage.SIGNOFF))
    @rule(
        who=st.sampled_from(["cooperating", "cooperating", "lead"]),
        approve=st.sampled_from([True, True, False]),
    )
    def sign_off(self, who: str, approve: bool) -> None:
        actor, reason = self._actor(who), None if approve else "数据口径不一致"
        self._act(ActionKind.SIGN_OFF, SignOff(actor=actor, approve=approve, reason=reason))

    # ------------------------------------------------------------------ the coordinator

    @precondition(lambda self: self._in(Stage.REVIEW))
    @rule(
        who=st.sampled_from(["coordinator", "coordinator", "lead"]),
        approve=st.sampled_from([True, True, False]),
    )
    def review(self, who: str, approve: bool) -> None:
        actor, reason = self._actor(who), None if approve else "材料不全"
        self._act(ActionKind.REVIEW, Review(actor=actor, approve=approve, reason=reason))

    @precondition(lambda self: self.state.pending_extension is not None)
    @rule(who=st.sampled_from(["coordinator", "lead"]), approve=st.booleans())
    def decide_extension(self, who: str, approve: bool) -> None:
        actor, reason = self._actor(who), "" if approve else "理由不充分"
        self._act(
            ActionKind.DECIDE_EXTENSION,
            DecideExtension(actor=actor, approve=approve, reason=reason),
        )

    @precondition(lambda self: self._in(Stage.ASSIGNED, Stage.IN_PROGRESS))
    @rule(who=st.sampled_from(["coordinator", "lead"]), to=st.sampled_from(["new", "coop", "lead"]))
    def reassign(self, who: str, to: str) -> None:
        actor = self._actor(who)
        target = {"new": NEW_UNIT, "lead": self.state.lead_unit or LEAD}.get(
            to, self._actor("cooperating").unit or NEW_UNIT
        )
        self._act(ActionKind.REASSIGN, Reassign(actor=actor, unit=target))

    @precondition(lambda self: self.steps >= 14 and self._in(*OPEN_STAGES))
    @rule(who=st.sampled_from(["coordinator", "lead"]))
    def cancel(self, who: str) -> None:
        actor, reason = self._actor(who), "并入其他事项"
        self._act(ActionKind.CANCEL, Cancel(actor=actor, reason=reason))

    @rule(
        action=st.sampled_from(
            ["accept", "refuse", "progress", "submit", "sign_off", "review", "decide", "reassign"]
        )
    )
    def out_of_turn(self, action: str) -> None:
        """The right actor at any stage (the rules above wait for theirs): a wrong stage,
        a closed task included, must be refused."""
        {
            "accept": lambda: self.accept(who="lead"),
            "refuse": lambda: self.refuse(who="lead"),
            "progress": lambda: self.report_progress(who="lead", step=10),
            "submit": lambda: self.submit(who="lead"),
            "sign_off": lambda: self.sign_off(who="cooperating", approve=True),
            "review": lambda: self.review(who="coordinator", approve=True),
            "decide": lambda: self.decide_extension(who="coordinator", approve=True),
            "reassign": lambda: self.reassign(who="coordinator", to="new"),
        }[action]()

    def _next_right_step(self) -> None:
        state = self.state
        if state.stage is Stage.ASSIGNED and state.awaiting_reassignment:
            self.reassign(who="coordinator", to="coop")
        elif state.stage is Stage.ASSIGNED:
            self.accept(who="lead")
        elif state.stage is Stage.IN_PROGRESS:
            self.submit(who="lead")
        elif state.stage is Stage.SIGNOFF:
            pending = next(s.unit for s in state.signoffs if s.decision == "pending")
            self._act(
                ActionKind.SIGN_OFF, SignOff(actor=Actor(role="unit", unit=pending), approve=True)
            )
        else:
            self.review(who="coordinator", approve=True)

    # Twice, so that sequences get as far as sign-off, review and closure.
    @precondition(lambda self: self._in(*OPEN_STAGES))
    @rule()
    def the_next_right_step(self) -> None:
        """Whatever moves the task on: accept, submit, a pending sign-off, approval."""
        self._next_right_step()

    @precondition(lambda self: self._in(*OPEN_STAGES))
    @rule()
    def and_the_next(self) -> None:
        self._next_right_step()

    # ------------------------------------------------------------------ time and re-import

    @rule(days=st.sampled_from([1, 4, 9, 26]))
    def let_time_pass(self, days: int) -> None:
        """The alarms due meanwhile fire: reminders, 催办, 督办, deemed consent."""
        self._run(self.world.env.sleep(timedelta(days=days)))
        self._refresh()

    @rule(shift=st.sampled_from([0, 15]))
    def revise(self, shift: int) -> None:
        """A re-import with the first milestone's date moved (or the text only changed)."""
        task = self.state.task
        first = task.milestones[0]
        moved = Milestone(due=first.due + timedelta(days=shift), raw=first.raw)
        milestones = [moved, *task.milestones[1:]]
        text = f"{task.text}（修订{self.steps}）"
        revised = task.model_copy(update={"text": text, "milestones": milestones})
        was_open = self.state.stage.is_open
        answer = self._run(
            revise_task(self.world.env.client, self.workflow_id, revised, uuid.uuid4().hex)
        )
        # Each revision rewords the text, so an open task always takes it.
        assert (answer == "revised") == was_open, answer
        self._refresh()

    @precondition(lambda self: self.steps >= 18)
    @rule()
    def withdraw(self) -> None:
        """The task left the plan. Sent again, the withdrawal (one update id per task)
        gets its first answer; a task closed otherwise is not withdrawn."""
        was_open = self.state.stage.is_open
        answer = self._run(withdraw_task(self.world.env.client, self.workflow_id, "计划调整"))
        withdrawn = answer == "withdrawn"
        assert withdrawn == (was_open or self.withdrawn), answer
        self.withdrawn = withdrawn
        self._refresh()
        assert self.state.stage in {Stage.CANCELLED, Stage.COMPLETED}

    # ------------------------------------------------------------------ what must hold

    @invariant()
    def the_log_the_alarms_and_the_projection_agree_with_the_workflow(self) -> None:
        if self.snapshot is None:
            return
        events, row = self._run(self._recorded())
        assert [event["seq"] for event in events] == list(range(1, self.state.seq + 1))
        stage = Stage.ASSIGNED
        for event in events:
            after = Stage(event["stage_after"])
            before = Stage(event["stage_before"]) if event["stage_before"] else after
            for change in ((stage, before), (before, after)):
                assert change[0] == change[1] or change in LEGAL_STAGE_CHANGES, (event, change)
            stage = after
        alarms = [
            (e["kind"], e["milestone"], e["level"], e["unit"], e["detail"].get("scheduled_for"))
            for e in events
            if e["kind"] in ALARM_KINDS
        ]
        assert len(alarms) == len(set(alarms)), f"an alarm fired twice: {alarms}"
        assert len(self.state.fired_alarms) == len(set(self.state.fired_alarms))
        assert row is not None
        milestone = self.state.current_milestone
        schedule = self.snapshot.schedule
        yellow_from = schedule.yellow_from.get(milestone.index) if milestone and schedule else None
        expected = projection_of(self.state, yellow_from).model_dump()
        assert {name: row[name] for name in PROJECTED} == {
            name: expected[name] for name in PROJECTED
        }

    async def _recorded(self) -> tuple[list[dict[str, Any]], asyncpg.Record | None]:
        pool = self.world.pool
        rows = await pool.fetch(
            "SELECT seq, kind, stage_before, stage_after, milestone, level, unit, detail"
            " FROM task_events WHERE workflow_id = $1 ORDER BY seq",
            self.workflow_id,
        )
        events = [{**dict(row), "detail": _json(row["detail"])} for row in rows]
        row = await pool.fetchrow(
            f"SELECT {', '.join(PROJECTED)} FROM task_states WHERE workflow_id = $1",
            self.workflow_id,
        )
        return events, row


def _json(value: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(value) if isinstance(value, str) else dict(value)
    return loaded


@pytest.mark.fault
def test_random_action_sequences_keep_the_lifecycle_s_invariants(database_url: str) -> None:
    runner = LoopThread()
    world = runner.run(World.open(database_url))
    TaskMachine.world, TaskMachine.runner = world, runner
    try:
        run_state_machine_as_test(
            TaskMachine,
            settings=settings(
                max_examples=7,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                database=None,
                # A failure prints its steps; shrinking them would cost minutes of server time.
                phases=[Phase.explicit, Phase.generate],
            ),
        )
    finally:
        runner.run(world.close())
        runner.close()
