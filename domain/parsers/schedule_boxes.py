"""Plans whose tasks are scheduled in 栏N boxes: the general reader's reading of them.

A plan (a five-year 规划 as a web page publishes it, 宣城 “十三五” 政务信息化发展规划 for one)
may set out its numbered tasks, each closed by （牵头部门：…）, in a chapter whose heading
names 任务, and give their staged deadlines in boxes (栏N：<box title> 2016年底前…；2017年底
前…) between them::

    名称：<title> 文号：<number>                  page metadata
    一、… 二、…                                  narrative chapters: not tasks
    三、重点任务                                  the chapter holding the tasks
    （一）<section>
    1.<task paragraph>（牵头部门：A）              "N." or "N、"; （牵头单位：…） alike
    栏1：<box title>  2016年底前…；2017年底前…     a box: the staged deadlines
    …
    四、保障措施                                    the chapters after: not tasks

The general reader (:mod:`domain.parsers.general`) is certain of a document holding a 栏N
box and a （牵头部门：…） unit field (:func:`has_boxes`), and reads it here
(:func:`read_boxes`), or refuses it at the line where its tasks and boxes do not fit
together; it is never read as numbered items, which would lose the boxes' deadlines.

A flattened page may hold several paragraphs on one line, separated by runs of spaces (a
task, then a box and its text), a task may start right after the previous task's unit
parenthesis ("…分别牵头）7.推进…"), and a heading may be cut after its opening bracket
("（" / "四）…"). The chapter is first cut into pieces at those points; the pieces are then
read in order.

Which task a box belongs to: a box is the schedule of the numbered tasks of its section that
come after the previous box (or the section heading) and before it. Most boxes follow one
task; a box following several tasks (宣城's 栏5 follows tasks 5, 6 and 7, and its text
covers all three) belongs to each of them and each is warned ``shared_box``. A box that
comes before any task of its section belongs to the section's next task. A box that belongs
to no task (its section has none) is a located error.

Deadlines: the box's dated clauses are the task's milestones; a date in the task paragraph
that the box does not state is added. A task without a box takes the dates of its
paragraph, else is ongoing when it says 持续/长期, else is due at the end of the plan period,
implicit.

``category`` is the task's section (（一）完善网络与信息安全基础设施); the chapter heading
(三、重点任务) holds every task and is left out.

Units: every unit in （牵头部门：A、B） leads (the label says so; nothing is inferred).
"A、B分别牵头" makes one part per lead; a group the document does not list
("市直相关部门分别牵头") leaves the task whole, warned ``unsplit_group_lead``.

Numbers must increase; a gap is warned ``missing_task_number`` (no text is invented). A
paragraph in the chapter with neither number nor lead unit is warned
``unnumbered_paragraph`` and not made a task.

Issuer (:func:`issuer_from_own_number`): a web page may name only the office that
republished it, not who issued the plan. The plan's own 文号 does: its prefix is the issuing
office's abbreviation. The issuer is taken from the 文号 only when the 文号 is the plan's own
(the page's "名称：<plan title> 文号：…" field) and its prefix is in the table of known
prefixes; otherwise it stays unknown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.deadlines import DeadlineContext, find_deadlines
from domain.errors import DocumentError
from domain.parsers.common import (
    SECTION_MARKER,
    SUBSECTION_MARKER,
    SourceDocument,
    ambiguous_date_warnings,
    build_task,
    roles_from_columns,
    split_per_lead,
    unsplit_group_lead_warning,
)
from domain.plan import ParsedPlan, ParseWarning, Plan, PlanTask
from domain.text import normalize_line
from domain.units import UnitDirectory

_PARAGRAPH_BREAK = re.compile(r"\s{2,}")
_SECTION = re.compile(rf"{SUBSECTION_MARKER.pattern}[^。]{{1,40}}")
_TASK = re.compile(r"(?P<number>\d{1,2})[.、．](?!\d)")
_BOX = re.compile(r"栏(?P<number>\d{1,2})：(?P<title>.*)")
_BOX_ANYWHERE = re.compile(r"栏\d{1,2}：")
_UNITS = re.compile(r"（牵头(?:部门|单位)?：(?P<units>[^（）]*(?:（[^（）]*）[^（）]*)*)）")
# 文号 prefixes whose issuing office is certain: the prefix of a 文号 is the issuing office's
# abbreviation (宣政办 = 宣城市人民政府办公室, whatever series follows: 宣政办秘, 宣政办发).
# Data, not inference: add a row when a plan of another office arrives.
_ISSUER_BY_NUMBER_PREFIX: dict[str, str] = {
    "宣政办": "宣城市人民政府办公室",
}
# The page's metadata line: "名称：<title> 文号：<number>" (the space is gone once normalised).
_NAME_AND_NUMBER = re.compile(r"名称：(?P<title>.+?)\s*文号：(?P<number>\S+〔\d{4}〕\d+号)")


@dataclass(frozen=True)
class _Piece:
    line: int  # 1-based line of the file where the piece starts
    text: str  # normalised


@dataclass
class _Task:
    number: int
    section: str | None
    pieces: list[_Piece]
    box: _Box | None = None
    shares_box: bool = False


@dataclass
class _Box:
    number: int
    title: str
    line: int
    pieces: list[_Piece] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(piece.text for piece in self.pieces)

    @property
    def last_line(self) -> int:
        return max([self.line, *(piece.line for piece in self.pieces)])


def has_boxes(document: SourceDocument) -> bool:
    """The document holds a 栏N box and a （牵头部门：…） unit field: its tasks are scheduled in
    boxes."""
    lines = document.lines
    return any(_BOX_ANYWHERE.search(line) for line in lines) and any(
        _UNITS.search(line) for line in lines
    )


def read_boxes(document: SourceDocument, directory: UnitDirectory, plan: Plan) -> ParsedPlan:
    """The tasks of the chapter naming 任务 and the boxes scheduling them, for ``plan`` (the
    plan's metadata, as the general reader reads it); a located error where tasks and boxes
    do not fit together."""
    context = DeadlineContext(plan.period_start, plan.period_end)
    warnings: list[ParseWarning] = []
    tasks = _read_chapter(document, _task_chapter(document), warnings)
    parsed_tasks: list[PlanTask] = []
    for task in tasks:
        parsed_tasks.extend(_plan_tasks(document, task, directory, context, warnings))
    return ParsedPlan(plan=plan, tasks=parsed_tasks, warnings=warnings)


# ---------------------------------------------------------------- the plan


def issuer_from_own_number(lines: Sequence[str], title: str) -> str | None:
    """The office the plan's own 文号 names by its prefix, if the prefix is a known one."""
    for line in lines:
        field_match = _NAME_AND_NUMBER.search(line)
        if field_match is None or field_match["title"].strip() != title:
            continue
        number = field_match["number"]
        return next(
            (
                issuer
                for prefix, issuer in _ISSUER_BY_NUMBER_PREFIX.items()
                if number.startswith(prefix)
            ),
            None,
        )
    return None


# ---------------------------------------------------------------- pieces


def _pieces(document: SourceDocument) -> list[_Piece]:
    """The document's paragraphs in order, each with the line it starts on."""
    pieces: list[_Piece] = []
    opening = ""  # a heading cut after its "（" continues on the next piece
    for number, raw in enumerate(document.raw_lines, start=1):
        for chunk in _PARAGRAPH_BREAK.split(raw):
            text = normalize_line(chunk)
            if not text:
                continue
            if text == "（":
                opening = text
                continue
            for part in _split_after_units(opening + text):
                pieces.append(_Piece(number, part))
            opening = ""
    return pieces


def _split_after_units(text: str) -> list[str]:
    """Text that follows a task's unit parenthesis is the next paragraph (a task or box)."""
    parts: list[str] = []
    start = 0
    for match in _UNITS.finditer(text):
        if match.end() < len(text):
            parts.append(text[start : match.end()])
            start = match.end()
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def _task_chapter(document: SourceDocument) -> list[_Piece]:
    """The pieces of the chapter whose heading names 任务 (三、重点任务), up to the next one."""
    pieces = _pieces(document)
    start = next(
        (
            index
            for index, piece in enumerate(pieces)
            if SECTION_MARKER.match(piece.text) and "任务" in piece.text and len(piece.text) <= 20
        ),
        None,
    )
    if start is None:
        raise document.error(None, "expected a chapter heading such as 三、重点任务")
    end = next(
        (
            index
            for index in range(start + 1, len(pieces))
            if SECTION_MARKER.match(pieces[index].text) and len(pieces[index].text) <= 20
        ),
        len(pieces),
    )
    return pieces[start + 1 : end]


# ---------------------------------------------------------------- tasks and boxes


def _read_chapter(
    document: SourceDocument, pieces: Sequence[_Piece], warnings: list[ParseWarning]
) -> list[_Task]:
    tasks: list[_Task] = []
    section: str | None = None
    section_tasks: list[_Task] = []  # this section's tasks not yet given a box
    waiting_box: _Box | None = None  # a box read before any task of its section
    current: _Task | _Box | None = None  # what a plain piece continues
    for piece in pieces:
        task = _TASK.match(piece.text)
        box = _BOX.match(piece.text)
        if _SECTION.fullmatch(piece.text):
            if waiting_box is not None:
                raise _no_task(document, waiting_box)
            section, section_tasks, current = piece.text.rstrip("。"), [], None
        elif task:
            expected = tasks[-1].number + 1 if tasks else 1
            number = int(task["number"])
            if number < expected:
                raise document.error(
                    piece.line, f"expected task {expected} or later, found task {number}"
                )
            for missing in range(expected, number):
                warnings.append(
                    ParseWarning(
                        line=piece.line,
                        code="missing_task_number",
                        message=f"task {missing} is not in the document (the text jumps to "
                        f"{number})",
                    )
                )
            current = _Task(number, section, [_Piece(piece.line, piece.text[task.end() :])])
            if waiting_box is not None:
                current.box, waiting_box = waiting_box, None
            else:
                section_tasks.append(current)
            tasks.append(current)
        elif box:
            current = _Box(int(box["number"]), box["title"], piece.line)
            if section_tasks:
                for owner in section_tasks:
                    owner.box = current
                    owner.shares_box = len(section_tasks) > 1
                section_tasks = []
            elif waiting_box is not None:
                raise _no_task(document, waiting_box)
            else:
                waiting_box = current
        elif current is not None:
            current.pieces.append(piece)
        else:
            warnings.append(
                ParseWarning(
                    line=piece.line,
                    code="unnumbered_paragraph",
                    message=f"a paragraph under {section or 'the task chapter'} has no task "
                    "number and no lead unit; it was not made a task",
                )
            )
    if waiting_box is not None:
        raise _no_task(document, waiting_box)
    if not tasks:
        raise document.error(None, "expected numbered tasks (1. …（牵头部门：…）) in the chapter")
    return tasks


def _no_task(document: SourceDocument, box: _Box) -> DocumentError:
    return document.error(
        box.line, f"栏{box.number} ({box.title}) belongs to no numbered task of its section"
    )


def _plan_tasks(
    document: SourceDocument,
    task: _Task,
    directory: UnitDirectory,
    context: DeadlineContext,
    warnings: list[ParseWarning],
) -> list[PlanTask]:
    """The PlanTask (or one per lead, for 分别牵头) of one numbered task and its box."""
    paragraph = "".join(piece.text for piece in task.pieces)
    unit_parentheses = list(_UNITS.finditer(paragraph))
    units = unit_parentheses[-1] if unit_parentheses else None  # the last one is the task's
    text = paragraph if units is None else (paragraph[: units.start()] + paragraph[units.end() :])
    cell = units["units"] if units else ""
    lines = [piece.line for piece in task.pieces]
    if task.box is not None:
        lines += [task.box.line, task.box.last_line]
    first, last = task.pieces[0].line, max(lines)
    span = (min(lines), last)  # the box may come before the task
    task_id = str(task.number)

    if units is None:
        warnings.append(
            ParseWarning(line=first, code="no_unit", message="no （牵头部门：…）", task_id=task_id)
        )
    per_lead = split_per_lead(cell, directory)
    if per_lead is not None and len(per_lead) == 1:
        warnings.append(unsplit_group_lead_warning(cell, first, task_id))
    roles_list = per_lead or [roles_from_columns(cell, "", directory)]
    deadline_text = _deadline_text(text.strip(), task.box, context)

    result: list[PlanTask] = []
    for index, roles in enumerate(roles_list, start=1):
        part = index if len(roles_list) > 1 else None
        built = build_task(
            document,
            seq=task.number,
            part=part,
            category=[task.section] if task.section else [],
            text=text.strip(),
            roles=roles,
            lines=span,
            context=context,
            annual=False,
            deadline_text=deadline_text,
            warnings=warnings,
        )
        result.append(built)
        if task.shares_box and task.box is not None:
            warnings.append(
                ParseWarning(
                    line=task.box.line,
                    code="shared_box",
                    message=f"栏{task.box.number} ({task.box.title}) follows several tasks of "
                    "its section; its deadlines were given to each of them",
                    task_id=built.id,
                )
            )
        warnings.extend(ambiguous_date_warnings(built))
    return result


def _deadline_text(text: str, box: _Box | None, context: DeadlineContext) -> str:
    """The box's text, plus the task's own dated clauses the box does not already state."""
    if box is None:
        return text
    box_dates = {milestone.due for milestone in find_deadlines(box.text, context).milestones}
    if not box_dates:
        return f"{box.text}\n{text}"
    own = [
        milestone.text
        for milestone in find_deadlines(text, context).milestones
        if milestone.due not in box_dates
    ]
    return "\n".join([box.text, *own])
