"""The monthly notice's as-of arithmetic (domain.notice_state): hand-worked standings for each
status and boundary, unit ranking, and random histories against a brute force that reads the
lifecycle's own state instead of the event fold."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import lifecycle
from domain.calendar import SHANGHAI, end_of_day
from domain.lifecycle import Actor, MilestoneState, Stage, TaskEvent, TaskState
from domain.notice import Notice, NoticeStatus, TaskStanding
from domain.notice_state import (
    LightPolicy,
    NoticeTask,
    build_notice,
    month_end,
    previous_month,
    task_standings,
    unit_rows_at,
)
from tests.support.lifecycle import make_task

LEAD = "市大数据局"
OTHER = "市教育局"
HELPER = "市财政局"
COORDINATOR = Actor(role="coordinator", name="督查室")
START = datetime(2026, 1, 5, 10, 0, tzinfo=SHANGHAI)


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


class Story:
    """One task's history written through the lifecycle's own apply_* functions."""

    def __init__(
        self,
        dues: tuple[date, ...] = (date(2026, 3, 31),),
        *,
        lead: str = LEAD,
        cooperating: tuple[str, ...] = (HELPER,),
        number: str = "7",
        start: datetime = START,
    ) -> None:
        task = make_task(dues, lead=lead, cooperating=cooperating).model_copy(update={"id": number})
        self.task = task
        self.entry = NoticeTask.of_task("p", f"p/{number}", task)
        self.state = TaskState(
            plan_id="p",
            task=task,
            lead_unit=lead,
            cooperating_units=list(cooperating),
            milestones=[
                MilestoneState(index=i, due=due, plan_due=due, due_at=end_of_day(due))
                for i, due in enumerate(dues)
            ],
            assigned_at=start,
        )
        self.events: list[TaskEvent] = [lifecycle.record(self.state, "assigned", start, unit=lead)]

    def lead(self) -> Actor:
        return Actor(role="unit", unit=self.state.lead_unit)

    def accept(self, when: datetime) -> Story:
        self.events += lifecycle.apply_accept(self.state, self.lead(), when)
        return self

    def progress(self, when: datetime, percent: int, text: str = "推进中") -> Story:
        self.events += lifecycle.apply_progress(self.state, self.lead(), percent, text, [], when)
        return self

    def submit(self, when: datetime) -> Story:
        self.events += lifecycle.apply_submit(self.state, self.lead(), "已完成", [], when)
        return self

    def sign(self, when: datetime, unit: str = HELPER, approve: bool = True) -> Story:
        actor = Actor(role="unit", unit=unit)
        self.events += lifecycle.apply_signoff(self.state, actor, approve, None, when)
        return self

    def deem(self, when: datetime, unit: str = HELPER) -> Story:
        self.events += lifecycle.apply_deemed_consent(self.state, unit, when)
        return self

    def review(self, when: datetime, approve: bool = True) -> Story:
        self.events += lifecycle.apply_review(self.state, COORDINATOR, approve, None, when)
        return self

    def complete(self, submitted: datetime, reviewed: datetime) -> Story:
        self.submit(submitted)
        if self.state.stage is Stage.SIGNOFF:
            for signoff in list(self.state.signoffs):
                self.sign(submitted, signoff.unit)
        return self.review(reviewed)

    def extend(self, when: datetime, new_due: date) -> Story:
        self.events += lifecycle.apply_request_extension(
            self.state, self.lead(), new_due, "原因", when
        )
        self.events += lifecycle.apply_decide_extension(
            self.state, COORDINATOR, True, "同意", end_of_day(new_due), when
        )
        return self

    def refuse(self, when: datetime) -> Story:
        self.events += lifecycle.apply_refuse(self.state, self.lead(), "不属职责", when)
        return self

    def reassign(self, when: datetime, unit: str) -> Story:
        self.events += lifecycle.apply_reassign(self.state, COORDINATOR, unit, when)
        return self

    def cancel(self, when: datetime) -> Story:
        self.events += lifecycle.apply_cancel(self.state, COORDINATOR, "撤销", when)
        return self

    def escalate(self, when: datetime, level: int) -> Story:
        milestone = self.state.current_milestone
        assert milestone is not None
        milestone.escalation_level = level
        self.events.append(
            lifecycle.record(self.state, "escalation", when, milestone=milestone.index, level=level)
        )
        return self


def standing_of(story: Story, month: str, **options: Any) -> TaskStanding:
    rows = task_standings(
        [story.entry], {story.entry.workflow_id: [story.events]}, month_end(month), **options
    )
    assert len(rows) == 1
    return rows[0]


def notice_of(stories: list[Story], month: str, **options: Any) -> Notice:
    return build_notice(
        month,
        [s.entry for s in stories],
        {s.entry.workflow_id: [s.events] for s in stories},
        **options,
    )


# ---------------------------------------------------------------- hand-worked statuses


def test_month_end_is_the_last_instant_in_shanghai() -> None:
    assert month_end("2026-02") == datetime(2026, 3, 1, tzinfo=SHANGHAI) - timedelta(microseconds=1)
    assert month_end("2026-12") == datetime(2027, 1, 1, tzinfo=SHANGHAI) - timedelta(microseconds=1)


def test_a_task_still_at_handoff_is_not_accepted() -> None:
    row = standing_of(Story(), "2026-01")
    assert row.status is NoticeStatus.NOT_ACCEPTED
    assert row.light == "green"
    assert row.stage == "assigned"


def test_completed_by_the_due_date_is_on_time_and_has_no_light() -> None:
    story = (
        Story()
        .accept(at(date(2026, 1, 6)))
        .complete(at(date(2026, 3, 31), 20), at(date(2026, 4, 2)))
    )
    row = standing_of(story, "2026-04")
    assert row.status is NoticeStatus.COMPLETED_ON_TIME
    assert row.light is None
    assert row.completed_at == at(date(2026, 4, 2))
    assert row.due == date(2026, 3, 31)
    # Before the review the task was open and, at March's end, not yet overdue.
    assert standing_of(story, "2026-03").status is not NoticeStatus.OVERDUE


def test_submitted_the_day_after_the_due_date_is_completed_late() -> None:
    story = (
        Story()
        .accept(at(date(2026, 1, 6)))
        .complete(at(date(2026, 4, 1), 9), at(date(2026, 4, 1), 15))
    )
    row = standing_of(story, "2026-04")
    assert row.status is NoticeStatus.COMPLETED_LATE
    notice = notice_of([story], "2026-04")
    assert notice.units[0].completed_late == 1
    assert notice.units[0].average_days_late == 1.0


def test_overdue_starts_the_day_after_the_due_date() -> None:
    story = (
        Story((date(2026, 2, 28),)).accept(at(date(2026, 1, 6))).progress(at(date(2026, 2, 10)), 90)
    )
    assert standing_of(story, "2026-02").status is NoticeStatus.ON_SCHEDULE
    march = standing_of(story, "2026-03")
    assert march.status is NoticeStatus.OVERDUE
    assert march.days_overdue == 31
    assert march.light == "red"


def test_overdue_wins_over_not_accepted_and_refused() -> None:
    unaccepted = Story((date(2026, 1, 20),))
    refused = Story((date(2026, 1, 20),), number="8").refuse(at(date(2026, 1, 6)))
    assert standing_of(unaccepted, "2026-01").status is NoticeStatus.OVERDUE
    assert standing_of(refused, "2026-01").status is NoticeStatus.OVERDUE
    assert standing_of(refused, "2026-01").refusals == 1


def test_refused_awaits_reassignment_until_reassigned() -> None:
    story = Story().refuse(at(date(2026, 1, 6)))
    row = standing_of(story, "2026-01")
    assert row.status is NoticeStatus.REFUSED
    story.reassign(at(date(2026, 2, 3)), OTHER)
    row = standing_of(story, "2026-02")
    assert row.status is NoticeStatus.NOT_ACCEPTED
    assert row.lead_unit == OTHER
    notice = notice_of([story], "2026-02")
    refusals = {u.unit: u.refusals for u in notice.units}
    assert refusals == {LEAD: 1, OTHER: 0}  # counted against the unit that refused


def test_cancelled() -> None:
    story = Story().accept(at(date(2026, 1, 6))).cancel(at(date(2026, 2, 1)))
    assert standing_of(story, "2026-02").status is NoticeStatus.CANCELLED
    assert standing_of(story, "2026-01").status is not NoticeStatus.CANCELLED
    notice = notice_of([story], "2026-02")
    assert notice.units[0].completion_rate == 0.0  # cancelled is out of the denominator
    assert notice.totals.cancelled == 1


def test_behind_is_progress_below_the_elapsed_share_by_more_than_the_margin() -> None:
    # 交办 1 Jan 00:00, due 31 Dec: at 30 June's end 181/365 ≈ 0.496 elapsed.
    start = datetime(2026, 1, 1, tzinfo=SHANGHAI)
    story = Story((date(2026, 12, 31),), start=start).accept(at(date(2026, 1, 2)))
    story.progress(at(date(2026, 6, 1)), 40)  # 0.40 ≥ 0.496 − 0.1
    assert standing_of(story, "2026-06").status is NoticeStatus.ON_SCHEDULE
    story.progress(at(date(2026, 6, 2)), 39)  # 0.39 < 0.396
    row = standing_of(story, "2026-06")
    assert row.status is NoticeStatus.BEHIND
    assert row.light == "yellow"
    assert standing_of(story, "2026-06", behind_margin=0.2).status is NoticeStatus.ON_SCHEDULE
    relaxed = {"p": LightPolicy(behind_is_yellow=False)}
    assert standing_of(story, "2026-06", light_policies=relaxed).light == "green"


def test_yellow_when_due_within_the_policy_days_of_the_month_end() -> None:
    story = (
        Story((date(2026, 4, 3),)).accept(at(date(2026, 1, 6))).progress(at(date(2026, 3, 20)), 95)
    )
    assert standing_of(story, "2026-03").light == "yellow"  # due in 3 days
    lax = {"p": LightPolicy(yellow_within_days=2)}
    assert standing_of(story, "2026-03", light_policies=lax).light == "green"


def test_an_extension_moves_the_due_date_and_is_listed_as_a_change() -> None:
    story = Story((date(2026, 2, 28),)).accept(at(date(2026, 1, 6)))
    story.progress(at(date(2026, 2, 20)), 90).extend(at(date(2026, 2, 25)), date(2026, 4, 30))
    row = standing_of(story, "2026-03")
    assert row.status is NoticeStatus.ON_SCHEDULE
    assert row.due == date(2026, 4, 30)
    assert notice_of([story], "2026-02").changes.extensions_granted == ("p/7",)
    assert notice_of([story], "2026-03").changes.extensions_granted == ()
    assert [r.workflow_id for r in notice_of([story], "2026-03").due_next_month] == ["p/7"]


def test_escalations_are_counted_and_the_level_kept() -> None:
    story = Story((date(2026, 1, 20),)).accept(at(date(2026, 1, 6)))
    story.escalate(at(date(2026, 1, 22)), 1).escalate(at(date(2026, 1, 27)), 2)
    notice = notice_of([story], "2026-01")
    (row,) = notice.overdue
    assert (row.escalation_level, row.escalations, row.days_overdue) == (2, 2, 11)
    assert notice.changes.newly_overdue == ("p/7",)
    assert notice_of([story], "2026-02").changes.newly_overdue == ()


def test_silent_units_reported_nothing_in_the_month() -> None:
    talking = Story(number="1").accept(at(date(2026, 1, 6))).progress(at(date(2026, 2, 3)), 50)
    silent = Story(lead=OTHER, number="2").accept(at(date(2026, 1, 6)))
    silent.progress(at(date(2026, 1, 20)), 50)  # January, not February
    assert notice_of([talking, silent], "2026-02").silent_units == (OTHER,)
    assert notice_of([talking, silent], "2026-01").silent_units == (LEAD,)


def test_deemed_consent_counts_against_the_cooperating_unit() -> None:
    story = Story().accept(at(date(2026, 1, 6))).submit(at(date(2026, 2, 2)))
    story.deem(at(date(2026, 2, 10)))
    notice = notice_of([story], "2026-02")
    rows = {u.unit: u for u in notice.units}
    assert rows[HELPER].silent_consents == 1
    assert rows[HELPER].led == 0
    assert rows[LEAD].silent_consents == 0


def test_units_ranked_by_rate_then_fewer_overdue_then_fewer_behind_then_name() -> None:
    done = Story(lead="乙局", number="1").accept(at(date(2026, 1, 6)))
    done.complete(at(date(2026, 1, 10)), at(date(2026, 1, 11)))
    late = Story((date(2026, 1, 20),), lead="甲局", number="2").accept(at(date(2026, 1, 6)))
    fine_a = Story(lead="丙局", number="3").accept(at(date(2026, 1, 6)))
    fine_a.progress(at(date(2026, 1, 30)), 50)
    fine_b = Story(lead="丁局", number="4").accept(at(date(2026, 1, 6)))
    fine_b.progress(at(date(2026, 1, 30)), 50)
    notice = notice_of([done, late, fine_a, fine_b], "2026-01")
    ordered = [(u.unit, u.rank) for u in notice.units if u.led]
    fine = sorted(["丙局", "丁局"])
    assert ordered == [("乙局", 1), (fine[0], 2), (fine[1], 3), ("甲局", 4)]
    assert notice.totals.completed == 1
    assert notice.totals.overdue == 1


def test_a_unit_notice_keeps_only_its_tasks() -> None:
    mine = Story(number="1").accept(at(date(2026, 1, 6)))
    cooperating = Story(lead=OTHER, cooperating=(LEAD,), number="2")
    other = Story(lead=OTHER, cooperating=(), number="3")
    notice = notice_of([mine, cooperating, other], "2026-01", unit=LEAD)
    assert [t.workflow_id for t in notice.tasks] == ["p/1", "p/2"]
    assert notice.unit == LEAD


def test_tasks_not_yet_handed_out_are_left_out() -> None:
    story = Story(start=at(date(2026, 3, 2)))
    assert notice_of([story], "2026-02").totals.tasks == 0
    assert notice_of([story], "2026-03").totals.tasks == 1


def test_notice_defaults() -> None:
    notice = notice_of([Story()], "2026-01")
    assert notice.issue_number == 1
    assert notice.issued_on == date(2026, 2, 1)
    assert notice.title == "关于2026年1月份重点任务推进情况的通报"
    assert notice.behind_margin == 0.1


# ---------------------------------------------------------------- random histories

# The steps that move a task on come more often, so that histories reach 办结 too.
ACTIONS = (
    *("accept", "progress", "submit", "sign", "approve") * 2,
    *("forward",) * 8,  # whichever step moves the task towards 办结
    "object", "deem", "return", "extend", "refuse", "reassign", "cancel", "escalate",
)  # fmt: skip
MONTHS = ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05")
UNITS = ("甲局", "乙局", "丙局")


@dataclass
class Script:
    lead: str
    dues: tuple[date, ...]
    steps: list[tuple[int, str, int]]  # (hours after the previous step, action, a number)


def play(script: Script, number: str, until: datetime | None = None) -> Story:
    """Plays the script's valid steps (an invalid step is skipped), stopping at ``until``."""
    helpers = tuple(u for u in UNITS if u != script.lead)[:1]
    story = Story(script.dues, lead=script.lead, cooperating=helpers, number=number)
    when = START
    state = story.state
    for hours, action, value in script.steps:
        when = when + timedelta(hours=hours)
        if until is not None and when > until:
            break
        if not state.stage.is_open:
            break
        stage, waiting = state.stage, state.awaiting_reassignment
        if action == "forward":
            action = {
                Stage.ASSIGNED: "accept",
                Stage.IN_PROGRESS: "submit",
                Stage.SIGNOFF: "sign",
                Stage.REVIEW: "approve",
            }[stage]
        if action == "reassign" and waiting:
            story.reassign(when, UNITS[value % len(UNITS)])
        elif waiting:
            continue
        elif action == "accept" and stage is Stage.ASSIGNED:
            story.accept(when)
        elif action == "refuse" and stage is Stage.ASSIGNED:
            story.refuse(when)
        elif action == "progress" and stage is Stage.IN_PROGRESS:
            story.progress(when, value % 101)
        elif action == "submit" and stage is Stage.IN_PROGRESS:
            story.submit(when)
        elif action in {"sign", "object", "deem"} and stage is Stage.SIGNOFF:
            pending = [s.unit for s in state.signoffs if s.decision == "pending"]
            if action == "deem":
                story.deem(when, pending[0])
            else:
                story.sign(when, pending[0], approve=action == "sign")
        elif action in {"approve", "return"} and stage is Stage.REVIEW:
            story.review(when, approve=action == "approve")
        elif action == "extend" and stage is Stage.IN_PROGRESS and state.current_milestone:
            story.extend(when, state.current_milestone.due + timedelta(days=value % 60 + 1))
        elif (
            action == "escalate"
            and state.current_milestone
            and state.current_milestone.escalation_level < 3
        ):
            # The ladder only climbs on a milestone (a new due date starts it again).
            story.escalate(when, state.current_milestone.escalation_level + 1)
        elif action == "cancel" and value % 5 == 0:  # rare, or few histories reach 办结
            story.cancel(when)
    return story


def brute_status(story: Story, as_of: datetime, margin: float = 0.1) -> NoticeStatus:
    """From the lifecycle's own state at ``as_of``, not from the event fold."""
    state = story.state
    day = as_of.date()
    if state.stage is Stage.CANCELLED:
        return NoticeStatus.CANCELLED
    if state.stage is Stage.COMPLETED:
        late = any(m.submitted_at is None or m.submitted_at > m.due_at for m in state.milestones)
        return NoticeStatus.COMPLETED_LATE if late else NoticeStatus.COMPLETED_ON_TIME
    current = state.current_milestone
    assert current is not None
    if day > current.due:
        return NoticeStatus.OVERDUE
    if state.awaiting_reassignment:
        return NoticeStatus.REFUSED
    if state.stage is Stage.ASSIGNED:
        return NoticeStatus.NOT_ACCEPTED
    first = story.events[0].at
    share = (as_of - first) / (end_of_day(current.due) - first)
    if state.progress_percent / 100 < min(1.0, share) - margin:
        return NoticeStatus.BEHIND
    return NoticeStatus.ON_SCHEDULE


def brute_days_late(story: Story, as_of: datetime, status: NoticeStatus) -> int | None:
    """Days late of an overdue task (to the month end) or a late-completed one (to its 办结),
    against the due date of the milestone it was on; None for every other status."""
    state = story.state
    if status is NoticeStatus.OVERDUE:
        current = state.current_milestone
        assert current is not None
        return (as_of.date() - current.due).days
    if status is NoticeStatus.COMPLETED_LATE:
        assert state.closed_at is not None
        return max(0, (state.closed_at.astimezone(SHANGHAI).date() - state.milestones[-1].due).days)
    return None


scripts = st.builds(
    Script,
    lead=st.sampled_from(UNITS),
    dues=st.sampled_from(
        [(date(2026, 2, 15),), (date(2026, 3, 31),), (date(2026, 2, 28), date(2026, 4, 30))]
    ),
    steps=st.lists(
        st.tuples(
            st.one_of(st.integers(1, 72), st.integers(24 * 10, 24 * 40)),
            st.sampled_from(ACTIONS),
            st.integers(0, 1000),
        ),
        min_size=4,
        max_size=40,
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(scripts, min_size=1, max_size=6), st.sampled_from(MONTHS))
def test_random_histories_match_a_brute_force(scripts_: list[Script], month: str) -> None:
    as_of = month_end(month)
    full = [play(s, str(i)) for i, s in enumerate(scripts_)]
    truth = [play(s, str(i), until=as_of) for i, s in enumerate(scripts_)]
    notice = notice_of(full, month)
    expected = {t.entry.workflow_id: brute_status(t, as_of) for t in truth}
    got = {row.workflow_id: row.status for row in notice.tasks}
    assert got == expected
    counts = Counter(expected.values())
    totals = notice.totals
    assert totals.tasks == len(truth)
    assert totals.completed_on_time == counts[NoticeStatus.COMPLETED_ON_TIME]
    assert totals.completed_late == counts[NoticeStatus.COMPLETED_LATE]
    assert totals.completed == totals.completed_on_time + totals.completed_late
    assert totals.on_schedule == counts[NoticeStatus.ON_SCHEDULE]
    assert totals.behind == counts[NoticeStatus.BEHIND]
    assert totals.overdue == counts[NoticeStatus.OVERDUE]
    assert totals.not_accepted == counts[NoticeStatus.NOT_ACCEPTED]
    assert totals.refused == counts[NoticeStatus.REFUSED]
    assert totals.cancelled == counts[NoticeStatus.CANCELLED]
    rows = {u.unit: u for u in notice.units}
    # The board's table (the same arithmetic without the notice's task rows) is the notice's.
    events = {s.entry.workflow_id: [s.events] for s in full}
    assert unit_rows_at([s.entry for s in full], events, as_of) == notice.units
    for unit in {t.state.lead_unit for t in truth}:
        assert unit is not None
        led = [t for t in truth if t.state.lead_unit == unit]
        statuses = Counter(expected[t.entry.workflow_id] for t in led)
        done = statuses[NoticeStatus.COMPLETED_ON_TIME] + statuses[NoticeStatus.COMPLETED_LATE]
        countable = len(led) - statuses[NoticeStatus.CANCELLED]
        row = rows[unit]
        assert row.led == len(led)
        assert row.completed == done
        assert row.behind == statuses[NoticeStatus.BEHIND]
        assert row.overdue == statuses[NoticeStatus.OVERDUE]
        assert row.on_schedule == statuses[NoticeStatus.ON_SCHEDULE]
        assert row.completion_rate == (done / countable if countable else 0.0)
        assert row.completed_late == statuses[NoticeStatus.COMPLETED_LATE]
        days = [brute_days_late(t, as_of, expected[t.entry.workflow_id]) for t in led]
        late = [d for d in days if d is not None]
        assert row.average_days_late == (sum(late) / len(late) if late else 0.0)
    for unit, row in rows.items():
        assert row.refusals == sum(1 for t in truth for r in t.state.refusals if r.unit == unit)
        # Sign-offs restart at each submission, so their lapses are counted from the log.
        assert row.silent_consents == sum(
            1 for t in truth for e in t.events if e.kind == "deemed_consent" and e.unit == unit
        )
    ranked = sorted(rows.values(), key=lambda u: u.rank)
    keys = [(-u.completion_rate, u.overdue, u.behind, u.unit) for u in ranked]
    assert keys == sorted(keys)
    overdue_levels = {
        t.entry.workflow_id: t.state.escalation_level
        for t in truth
        if expected[t.entry.workflow_id] is NoticeStatus.OVERDUE
    }
    assert {r.workflow_id: r.escalation_level for r in notice.overdue} == overdue_levels
    # 未报送进展: leads an open task not awaiting reassignment, reported nothing this month.
    month_start = month_end(previous_month(month))
    expected_silent = {
        t.state.lead_unit
        for t in truth
        if t.state.stage.is_open and not t.state.awaiting_reassignment
    } - {e.unit for t in truth for e in t.events if e.kind == "progress" and e.at > month_start}
    assert set(notice.silent_units) == expected_silent
    # As-of invariance: the events after the month end change nothing of this month.
    assert notice_of(truth, month) == notice
