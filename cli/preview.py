"""How a parsed plan looks to a coordinator before it is imported: a table and its flags."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from domain.plan import ParsedPlan, PlanTask

_TEXT_WIDTH = 30
# Piped into a file or a pager, a preview is read whole: do not squeeze it to 80 columns.
_MIN_WIDTH_WHEN_PIPED = 160


def preview_json(parsed: ParsedPlan) -> dict[str, Any]:
    """The ``duban parse --json`` object: plan, tasks and warnings, dates as YYYY-MM-DD."""
    document = parsed.model_dump(mode="json")
    for task in document["tasks"]:
        task["source"] = {"file": task["source"]["file"], "lines": task["source"]["lines"]}
    return document


def _due(task: PlanTask) -> str:
    if task.recurrence is not None:
        if task.recurrence.frequency == "monthly":
            return "monthly"
        day = "end" if task.recurrence.day is None else str(task.recurrence.day)
        return f"yearly {task.recurrence.month}/{day}"
    if task.ongoing:
        return "ongoing"
    return "\n".join(
        milestone.due.isoformat() + (" *" if milestone.flags else "")
        for milestone in task.milestones
    )


def _units(names: list[str], limit: int = 3) -> str:
    shown = "、".join(names[:limit])
    return shown + (f" +{len(names) - limit}" if len(names) > limit else "")


def render_preview(parsed: ParsedPlan, console: Console) -> None:
    if not console.is_terminal and console.width < _MIN_WIDTH_WHEN_PIPED:
        console = Console(file=console.file, width=_MIN_WIDTH_WHEN_PIPED)
    plan = parsed.plan
    console.print(f"[bold]{plan.title}[/bold]")
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
    console.print(" · ".join(detail for detail in details if detail))

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
            task.id,
            task.text,
            _units(task.lead_units) or "—",
            _units(task.cooperating_units),
            _due(task),
            ", ".join(str(flag) for flag in task.flags),
            f"{task.source.lines[0]}–{task.source.lines[1]}",
        )
    console.print(table)
    console.print("* a date with a flag: see the task's flags")

    flags = Counter(str(flag) for task in parsed.tasks for flag in task.flags)
    summary = ", ".join(f"{count} {flag}" for flag, count in sorted(flags.items()))
    console.print(f"[bold]{len(parsed.tasks)} tasks[/bold]" + (f" ({summary})" if summary else ""))
    if parsed.warnings:
        console.print(
            f"[bold yellow]{len(parsed.warnings)} warnings[/bold yellow] — the plan imports only "
            "after they are fixed in the document or accepted with --accept-warnings:"
        )
        for warning in parsed.warnings:
            where = f"line {warning.line}" if warning.line is not None else "document"
            about = f" task {warning.task_id}" if warning.task_id else ""
            console.print(f"  {where}{about} [{warning.code}] {warning.message}", markup=False)
    else:
        console.print("no warnings: the plan can be imported as it is")
