"""How a parsed plan looks to a coordinator before it is imported: a table and its flags."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from domain.calendar import SHANGHAI
from domain.plan import ParsedPlan, PlanTask
from domain.rebase import REBASED_WARNING, needs_check

if TYPE_CHECKING:  # the simulator pulls in Temporal's test server; parse must stay light
    from services.simulate import SimulatedEvent, Simulation

_TEXT_WIDTH = 30
# Piped into a file or a pager, a preview is read whole: do not squeeze it to 80 columns.
_MIN_WIDTH_WHEN_PIPED = 160


def _due(task: PlanTask) -> str:
    if task.recurrence is not None:
        return task.recurrence.describe()
    if task.ongoing:
        return "ongoing"
    return "\n".join(
        milestone.due.isoformat() + (" *" if milestone.flags else "")
        for milestone in task.milestones
    )


def _units(names: list[str], limit: int = 3) -> str:
    shown = "、".join(names[:limit])
    return shown + (f" +{len(names) - limit}" if len(names) > limit else "")


def wide(console: Console) -> Console:
    """A console at least 160 columns wide when piped: a table read whole, not squeezed."""
    if not console.is_terminal and console.width < _MIN_WIDTH_WHEN_PIPED:
        return Console(file=console.file, width=_MIN_WIDTH_WHEN_PIPED)
    return console


def render_preview(parsed: ParsedPlan, console: Console) -> None:
    console = wide(console)
    plan = parsed.plan
    # Everything from the document is escaped: rich would read "[bold]" in a unit's name as
    # markup and drop it, so the preview would not show what the document says.
    console.print(f"[bold]{escape(plan.title)}[/bold]")
    details = [
        plan.issuer,
        plan.document_number,
        plan.issue_date.isoformat() if plan.issue_date else None,
        f"{plan.period_start}–{plan.period_end}"
        if plan.period_end != plan.period_start
        else str(plan.period_start),
        f"format {plan.format}",
        f"plan id {plan.id}",
    ]
    console.print(" · ".join(detail for detail in details if detail), markup=False)

    table = Table(show_lines=False, header_style="bold")
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("task", max_width=_TEXT_WIDTH, overflow="ellipsis", no_wrap=True)
    table.add_column("lead 牵头", min_width=12)
    table.add_column("cooperating 配合", min_width=12)
    table.add_column("due", no_wrap=True)
    table.add_column("flags")
    table.add_column("lines", no_wrap=True)
    for task in parsed.tasks:
        table.add_row(
            escape(task.id),
            escape(task.text),
            escape(_units(task.lead_units)) or "—",
            escape(_units(task.cooperating_units)),
            _due(task),
            ", ".join(str(flag) for flag in task.flags),
            f"{task.source.lines[0]}–{task.source.lines[1]}",
        )
    console.print(table)
    console.print("* a date with a flag: see the task's flags")

    flags = Counter(str(flag) for task in parsed.tasks for flag in task.flags)
    summary = ", ".join(f"{count} {flag}" for flag, count in sorted(flags.items()))
    console.print(f"[bold]{len(parsed.tasks)} tasks[/bold]" + (f" ({summary})" if summary else ""))
    for note in parsed.warnings:
        if note.code == REBASED_WARNING:  # asked for with --rebase-year: said, not a warning
            console.print("[bold]dates shifted[/bold] " + escape(f"[{note.code}] {note.message}"))
    warnings = needs_check(parsed.warnings)
    if warnings:
        console.print(
            f"[bold yellow]{len(warnings)} warnings[/bold yellow] — the plan imports only "
            "after they are fixed in the document or accepted with --accept-warnings:"
        )
        for warning in warnings:
            where = f"line {warning.line}" if warning.line is not None else "document"
            about = f" task {warning.task_id}" if warning.task_id else ""
            console.print(
                f"  {where}{about} [{warning.code}] {warning.message}", markup=False, soft_wrap=True
            )
    else:
        console.print("no warnings: the plan can be imported as it is")


def render_simulation(simulation: Simulation, console: Console) -> None:
    """The calendar of reminders and escalations by day, then the state at each month end."""
    console = wide(console)
    deadline_kinds = ("reminder", "urge", "escalation")
    by_day: dict[str, list[SimulatedEvent]] = {}
    for event in simulation.events:
        if event.kind in deadline_kinds:
            day = event.at.astimezone(SHANGHAI).date().isoformat()
            by_day.setdefault(day, []).append(event)
    calendar = Table(
        title=f"Reminders and escalations, {escape(simulation.plan_id)}", header_style="bold"
    )
    for column in ("day", "reminders", "催办 urges", "督办 level 1", "level 2+", "tasks"):
        calendar.add_column(column)
    for day, events in sorted(by_day.items()):
        kinds = Counter(
            event.kind if event.kind != "escalation" else f"escalation{min(event.level or 1, 2)}"
            for event in events
        )
        tasks = sorted({event.task for event in events})
        calendar.add_row(
            day,
            str(kinds["reminder"] or ""),
            str(kinds["urge"] or ""),
            str(kinds["escalation1"] or ""),
            str(kinds["escalation2"] or ""),
            escape(", ".join(tasks[:6])) + (f" +{len(tasks) - 6}" if len(tasks) > 6 else ""),
        )
    console.print(calendar)
    month_end = Table(title="State at each month's end", header_style="bold")
    stages = ("assigned", "in_progress", "signoff", "review", "completed", "cancelled")
    for column in ("month", *stages, "overdue", "escalated"):
        month_end.add_column(column, justify="right")
    for moment, counts in simulation.month_end.items():
        month_end.add_row(moment, *(str(counts[key]) for key in (*stages, "overdue", "escalated")))
    console.print(month_end)
    totals = Counter(event.kind for event in simulation.events)
    console.print(
        f"{simulation.start} – {simulation.end}: "
        + ", ".join(f"{count} {kind}" for kind, count in sorted(totals.items()))
    )
