"""The live demo of ``duban dev``: how far each re-dated example task is played forward.

Pure: ``today`` is passed in. After :func:`domain.rebase.choose_rebase_years` has put at
most a fifth of a plan's deadlines before today, :func:`demo_parts` gives every task a
part, so that the board shows a plan in motion. Tasks are taken in order of their first
deadline (document order among equals):

* **past due** (first deadline before today): the 1st, 5th, 9th … are left as they are,
  overdue and escalating (the board's red); the others have every milestone due before
  today submitted, signed off and approved now (completed late): 办结 when no milestone is
  left, else 承办 on the next one with a progress report;
* **ahead**: of every five, the 1st has its first milestone completed early (办结 for a
  task with one milestone), the 2nd and 3rd are accepted with a progress report (承办),
  the 4th and 5th wait to be accepted (交办).

A recurring task, and one without a lead unit or a deadline, has no part (``played`` is
false): no unit could carry it through. Each part is a prefix of the one path to 办结
(accept, then per milestone progress, submit, sign-offs, review), so parts worked out on
two days never name two different actions under one step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from domain.plan import ParsedPlan, PlanTask

# The board's horizon for "due soon" in the demo's summary line.
DUE_SOON_DAYS = 90
# One past-due task in this many is left overdue; the rest are caught up.
OVERDUE_EVERY = 4
# Of this many tasks ahead: one is completed early, two are in progress, the rest wait.
AHEAD_CYCLE = 5
IN_PROGRESS_PER_CYCLE = 2


class DemoRole(StrEnum):
    OVERDUE = "overdue"  # past due and left alone: red, escalating (督办)
    CAUGHT_UP = "caught_up"  # past due, its past milestones completed late
    EARLY = "early"  # ahead, its first milestone completed early
    IN_PROGRESS = "in_progress"  # ahead, accepted with a progress report (承办)
    WAITING = "waiting"  # ahead, not accepted yet (交办)
    NOT_PLAYED = "not_played"  # recurring, or no lead unit, or no deadline


@dataclass(frozen=True)
class DemoPart:
    task: PlanTask
    role: DemoRole
    milestones_done: int = 0  # the first this many milestones are approved
    progress_reported: bool = False  # accepted, with a progress report on the next milestone

    @property
    def played(self) -> bool:
        return self.role is not DemoRole.NOT_PLAYED

    @property
    def acts(self) -> bool:
        """Whether anyone acts on the task at all (an accepted task has been)."""
        return self.milestones_done > 0 or self.progress_reported

    @property
    def completed(self) -> bool:
        return bool(self.task.milestones) and self.milestones_done == len(self.task.milestones)

    @property
    def next_due(self) -> date | None:
        """The deadline the task waits on once played (None when completed or undated)."""
        milestones = self.task.milestones
        return (
            milestones[self.milestones_done].due if self.milestones_done < len(milestones) else None
        )


def demo_parts(parsed: ParsedPlan, today: date) -> list[DemoPart]:
    """Every task's part in the demo on ``today``, in the plan's task order (module text)."""
    playable = [
        (index, task)
        for index, task in enumerate(parsed.tasks)
        if task.recurrence is None and task.lead_units and task.milestones
    ]
    by_first_due = sorted(playable, key=lambda item: (item[1].milestones[0].due, item[0]))
    past = [task for _, task in by_first_due if task.milestones[0].due < today]
    ahead = [task for _, task in by_first_due if task.milestones[0].due >= today]
    parts: dict[str, DemoPart] = {}
    for position, task in enumerate(past):
        if position % OVERDUE_EVERY == 0:
            parts[task.id] = DemoPart(task, DemoRole.OVERDUE)
            continue
        done = sum(milestone.due < today for milestone in task.milestones)
        parts[task.id] = DemoPart(
            task, DemoRole.CAUGHT_UP, done, progress_reported=done < len(task.milestones)
        )
    for position, task in enumerate(ahead):
        place = position % AHEAD_CYCLE
        if place == 0:
            parts[task.id] = DemoPart(
                task, DemoRole.EARLY, 1, progress_reported=len(task.milestones) > 1
            )
        elif place <= IN_PROGRESS_PER_CYCLE:
            parts[task.id] = DemoPart(task, DemoRole.IN_PROGRESS, 0, progress_reported=True)
        else:
            parts[task.id] = DemoPart(task, DemoRole.WAITING)
    return [parts.get(task.id) or DemoPart(task, DemoRole.NOT_PLAYED) for task in parsed.tasks]


@dataclass(frozen=True)
class DemoCounts:
    """What the board shows of a plan's dated one-off tasks once the demo has played."""

    done: int
    due_soon: int  # open, next deadline within DUE_SOON_DAYS from today (today included)
    overdue: int  # open, next deadline before today

    def describe(self) -> str:
        return (
            f"{self.done} done, {self.due_soon} due in {DUE_SOON_DAYS} days, {self.overdue} overdue"
        )


@dataclass(frozen=True)
class Standing:
    """Where a dated one-off task stands, as far as the counts care."""

    done: bool
    next_due: date | None  # None when done


def standing(part: DemoPart) -> Standing | None:
    """Where the part leaves its task; None for a recurring or undated task, which the
    counts leave out (a recurring task's occurrences are tasks of their own)."""
    if part.task.recurrence is not None or not part.task.milestones:
        return None
    return Standing(done=part.completed, next_due=part.next_due)


def demo_counts(standings: Iterable[Standing | None], today: date) -> DemoCounts:
    """How many tasks are done, open and due within DUE_SOON_DAYS of ``today`` (today
    included), and open and overdue (next deadline before today)."""
    horizon = today + timedelta(days=DUE_SOON_DAYS)
    done = due_soon = overdue = 0
    for task in standings:
        if task is None:
            continue
        if task.done or task.next_due is None:
            done += task.done
        elif task.next_due < today:
            overdue += 1
        elif task.next_due <= horizon:
            due_soon += 1
    return DemoCounts(done=done, due_soon=due_soon, overdue=overdue)
