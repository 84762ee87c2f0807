"""附件 task lists: a notice and its narrative, then 附件1, a task table one cell per line.

The layout (亳州 2018 “互联网+政务服务”工作方案)::

    …关于印发<plan title>的通知          the notice: issuer, plan title, 文号, signature date
    <narrative sections 一、… （一）…>     restates the table in prose: never read for tasks
    附件1
    <table title>
    序号 / 主要任务及时限要求 / 责任单位     the header, one cell per line
    1                                      a row starts with its 序号 alone on a line
    一、…  （一）…                         optional: new section headings (merged cells)
    <sub-heading>                          optional: a merged cell naming this and later rows
    <task sentence> …                      one or more
    <责任单位 cell>
    [<task sentence> [<责任单位 cell>]]     a second clause of the same row
    …
    附件2
    <…市直有关单位名单>
    <the member units, separated by 、>

How a row is read:

- ``category`` is [section, subsection, sub-heading], each kept until replaced. The table
  repeats its current 一、 heading after a page break; a repeated heading does not reset the
  subsection below it (row 10 is still in （三）).
- A line is a 责任单位 cell when every name in it ends like an organisation (…局, …委,
  …管委会, …单位); otherwise it is a task sentence. The first line of a row is a sub-heading
  when more text follows before the row's first unit cell and it is not itself a sentence
  (no 。 and no leading date).
- Sentences followed by a unit cell form a clause; sentences after a row's last unit cell share
  that cell (a merged cell, row 3). Clauses whose unit cells are the same are one task with
  one milestone per dated sentence (rows 3, 60, 75); clauses with different unit cells are
  parts of the row (row 20 becomes 20-1 and 20-2). A sentence without a date in a task with
  several sentences is due at the plan year end, implicit.
- "A、B分别牵头负责，C": one part per lead A, B, each with C cooperating (row 41).
- 附件2 lists the members of 市直有关单位; cells naming the group expand to them.
- A row without any unit cell inherits the unit cell of the row above (a merged cell) and is
  warned ``inherited_unit``; row numbers must run 1, 2, 3, … or the list is a located error.

The plan's issue date is the signature date under the notice (2018年5月17日); the web page's
生成日期 (2018-05-24) is when the page was generated, not when the plan was issued.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from domain.deadlines import DeadlineContext, find_deadlines, implicit_deadline
from domain.parsers.common import (
    NOTICE_TITLE,
    PER_LEAD,
    SECTION_MARKER,
    SUBSECTION_MARKER,
    SourceDocument,
    ambiguous_date_warnings,
    build_task,
    find_document_number,
    find_issue_date,
    find_plan_period,
    plan_id_from_file,
    roles_from_cell,
    split_per_lead,
    unsplit_group_lead_warning,
)
from domain.plan import ParsedPlan, ParseWarning, Plan, PlanTask, TaskFlag
from domain.units import UnitDirectory, split_units

FORMAT = "attachment-task-list"

_ATTACHMENT = re.compile(r"附件\s*(?P<number>\d+)")
_ROW_NUMBER = re.compile(r"\d{1,3}")
_LEADING_DATE = re.compile(r"\d{4}年")
# A name in a 责任单位 cell: an organisation, optionally with its second nameplate
# ("市发展改革委（物价局）"); sub-headings and sentences never end like this.
_UNIT_NAME = re.compile(
    r"[\u4e00-\u9fff]{1,24}?"
    r"(?:局|委|办|办公室|政府|管委会|单位|部门|中心|公司|支队|处|室|会|院)"
    r"(?:（[^（）]*）)?"
)
_HEADING_PUNCTUATION = "。；，：、 "


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based line of the file
    text: str  # normalised


@dataclass
class _Clause:
    """Task sentences and the 责任单位 cell that follows them (None until it is read)."""

    sentences: list[_Line] = field(default_factory=list)
    unit: _Line | None = None

    @property
    def last_line(self) -> int:
        numbers = [line.number for line in self.sentences]
        if self.unit is not None:
            numbers.append(self.unit.number)
        return max(numbers)


@dataclass
class _Headings:
    """The category cells in force: each stays until the table names a new one."""

    section: str | None = None
    subsection: str | None = None
    sub_heading: str | None = None

    def category(self) -> list[str]:
        return [name for name in (self.section, self.subsection, self.sub_heading) if name]


class AttachmentTaskListParser:
    format = FORMAT
    # The most score() gives: detect_parser leaves it unscored (a read of every line) when
    # another parser is already more certain, as a CSV ledger is.
    max_score = 80

    def score(self, document: SourceDocument) -> int:
        """High when an attachment holds a 序号 / 任务 / 责任单位 table, one cell per line."""
        start = _attachment_start(document.lines, 1)
        if start is None or _table_header_end(document.lines, start) is None:
            return 0
        return self.max_score

    def parse(self, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan:
        lines = document.lines
        start = _attachment_start(lines, 1)
        if start is None:
            raise document.error(None, "expected a line 附件1 opening the task list")
        header_end = _table_header_end(lines, start)
        if header_end is None:
            raise document.error(
                start + 1, "expected the header 序号 / 主要任务及时限要求 / 责任单位 after 附件1"
            )
        end = _attachment_end(lines, header_end)
        plan = _plan(document)
        context = DeadlineContext(plan.period_start, plan.period_end)
        groups = _document_groups(lines[end:], directory)
        reader = _RowReader(document, directory, groups, context, plan.is_annual)
        tasks = reader.read(_non_blank(lines, header_end, end))
        return ParsedPlan(plan=plan, tasks=tasks, warnings=reader.warnings)


PARSER = AttachmentTaskListParser()


# ---------------------------------------------------------------- the plan


def _plan(document: SourceDocument) -> Plan:
    issuer = title = None
    for line in document.lines:
        notice = NOTICE_TITLE.match(line)
        if notice and notice["printed"] and notice["subject"].endswith("的通知"):
            issuer = notice["issuer"]
            title = notice["subject"].removesuffix("的通知").strip("《》")
            break
    if title is None:
        raise document.error(None, "expected the notice title '…关于印发<plan>的通知'")
    period = find_plan_period(title)
    if period is None:
        raise document.error(None, f"expected the plan year in the title {title!r}")
    return Plan(
        id=plan_id_from_file(document.file),
        title=title,
        issuer=issuer,
        document_number=find_document_number(document.lines),
        issue_date=find_issue_date(document.lines),
        period_start=period[0],
        period_end=period[1],
        source_file=document.file,
        format=FORMAT,
    )


# ---------------------------------------------------------------- the table's frame


def _attachment_start(lines: Sequence[str], number: int) -> int | None:
    """Index of the line just after a line that is only "附件<number>"."""
    for index, line in enumerate(lines):
        match = _ATTACHMENT.fullmatch(line)
        if match and int(match["number"]) == number:
            return index + 1
    return None


def _table_header_end(lines: Sequence[str], start: int) -> int | None:
    """Index after the header cells 序号 / …任务… / 责任单位, if they open the attachment."""
    cells = _non_blank(lines, start, min(len(lines), start + 12))
    for position, cell in enumerate(cells):
        if cell.text == "序号":
            following = cells[position + 1 : position + 3]
            if (
                len(following) == 2
                and "任务" in following[0].text
                and following[1].text == "责任单位"
            ):
                return following[1].number  # the index after the 责任单位 line
            return None
    return None


def _attachment_end(lines: Sequence[str], start: int) -> int:
    """Index of the next "附件N" line (the table ends there), or the end of the document."""
    for index in range(start, len(lines)):
        if _ATTACHMENT.fullmatch(lines[index]):
            return index
    return len(lines)


def _non_blank(lines: Sequence[str], start: int, end: int) -> list[_Line]:
    return [_Line(index + 1, lines[index]) for index in range(start, end) if lines[index]]


def _document_groups(lines: Sequence[str], directory: UnitDirectory) -> dict[str, list[str]]:
    """附件2's list of units, under the group name its title names (e.g. 市直有关单位)."""
    cells = _non_blank(lines, 0, len(lines))
    if len(cells) < 3 or not _ATTACHMENT.fullmatch(cells[0].text):
        return {}
    title = cells[1].text
    known = sorted(
        [
            *directory.groups,
            *(a for a, name in directory.aliases.items() if name in directory.groups),
        ],
        key=len,
        reverse=True,
    )
    group = next((name for name in known if f"{name}名单" in title), None)
    if group is None:
        return {}
    members = split_units("、".join(cell.text for cell in cells[2:]))
    return {directory.resolve(group): members}


# ---------------------------------------------------------------- rows


def _is_unit_cell(text: str) -> bool:
    """Whether a line is a 责任单位 cell: every name in it is an organisation's."""
    if "。" in text:
        return False
    names = split_units(PER_LEAD.sub("", text))
    return bool(names) and all(_UNIT_NAME.fullmatch(name) for name in names)


def _is_sentence(text: str) -> bool:
    return "。" in text or _LEADING_DATE.match(text) is not None


def _heading(text: str) -> str:
    return text.rstrip(_HEADING_PUNCTUATION)


class _RowReader:
    """Reads the table's lines into tasks, keeping the headings and unit cells in force."""

    def __init__(
        self,
        document: SourceDocument,
        directory: UnitDirectory,
        groups: Mapping[str, Sequence[str]],
        context: DeadlineContext,
        annual: bool,
    ) -> None:
        self.document = document
        self.directory = directory
        self.groups = groups
        self.context = context
        self.annual = annual
        self.headings = _Headings()
        self.previous_unit: _Line | None = None
        self.warnings: list[ParseWarning] = []

    def read(self, cells: list[_Line]) -> list[PlanTask]:
        tasks: list[PlanTask] = []
        for seq, row in self._rows(cells):
            tasks.extend(self._row(seq, row))
        return tasks

    def _rows(self, cells: list[_Line]) -> list[tuple[int, list[_Line]]]:
        """The table's lines cut at each 序号, which must run 1, 2, 3, …"""
        rows: list[tuple[int, list[_Line]]] = []
        for cell in cells:
            if _ROW_NUMBER.fullmatch(cell.text):
                expected = len(rows) + 1
                if int(cell.text) != expected:
                    after = f" or the cells of row {expected - 1}" if rows else ""
                    raise self.document.error(
                        cell.number, f"expected row {expected}{after}, found row number {cell.text}"
                    )
                rows.append((expected, [cell]))
            elif not rows:
                raise self.document.error(cell.number, f"expected row 1, found {cell.text!r}")
            else:
                rows[-1][1].append(cell)
        if not rows:
            raise self.document.error(None, "the 附件1 task list has no rows")
        return rows

    def _row(self, seq: int, row: list[_Line]) -> list[PlanTask]:
        number_line, cells = row[0], row[1:]
        cells = self._take_headings(cells)
        if not cells:
            raise self.document.error(number_line.number, f"row {seq}: expected the task text")
        clauses = self._clauses(seq, cells)
        if len({clause.unit.text for clause in clauses if clause.unit}) <= 1:
            return self._tasks(seq, clauses, (number_line.number, clauses[-1].last_line))
        # clauses with different unit cells are parts of the row; the first part's lines
        # include the row number and headings, the others' only their own sentences and cell
        tasks: list[PlanTask] = []
        for index, clause in enumerate(clauses):
            first = number_line.number if index == 0 else clause.sentences[0].number
            tasks.extend(
                self._tasks(seq, [clause], (first, clause.last_line), first_part=len(tasks) + 1)
            )
        return tasks

    def _take_headings(self, cells: list[_Line]) -> list[_Line]:
        """Consume the row's leading heading cells; return the rest of the row."""
        position = 0
        while position < len(cells):
            text = cells[position].text
            if SECTION_MARKER.match(text):
                if _heading(text) != self.headings.section:
                    self.headings = _Headings(section=_heading(text))
            elif SUBSECTION_MARKER.match(text):
                self.headings.subsection = _heading(text)
                self.headings.sub_heading = None
            else:
                break
            position += 1
        rest = cells[position:]
        before_unit = next(
            (index for index, cell in enumerate(rest) if _is_unit_cell(cell.text)), len(rest)
        )
        if before_unit >= 2 and not _is_sentence(rest[0].text):
            self.headings.sub_heading = _heading(rest[0].text)
            rest = rest[1:]
        return rest

    def _clauses(self, seq: int, cells: list[_Line]) -> list[_Clause]:
        clauses: list[_Clause] = [_Clause()]
        for cell in cells:
            current = clauses[-1]
            if not _is_unit_cell(cell.text):
                if current.unit is not None:
                    clauses.append(_Clause(sentences=[cell]))
                else:
                    current.sentences.append(cell)
            elif not current.sentences:
                raise self.document.error(
                    cell.number, f"row {seq}: expected a task sentence before this 责任单位 cell"
                )
            elif current.unit is None:
                current.unit = cell
            else:  # a cell wrapped onto a second line: one cell, ending on the later line
                joiner = "" if current.unit.text.endswith(("、", "，")) else "，"
                current.unit = _Line(cell.number, current.unit.text + joiner + cell.text)
        trailing = clauses[-1]
        if trailing.unit is None and len(clauses) > 1:
            # sentences after the row's last unit cell share it (a merged cell)
            clauses.pop()
            clauses[-1].sentences.extend(trailing.sentences)
        return clauses

    def _tasks(
        self,
        seq: int,
        clauses: list[_Clause],
        span: tuple[int, int],
        first_part: int | None = None,
    ) -> list[PlanTask]:
        """One task (or one per lead, for 分别牵头) from clauses sharing one unit cell.

        ``first_part`` is set when the row has several parts: this one's first part number.
        """
        task_id = str(seq) if first_part is None else f"{seq}-{first_part}"
        sentences = [line.text for clause in clauses for line in clause.sentences]
        text = _join(sentences)
        unit = clauses[0].unit
        flags: list[TaskFlag] = []
        if unit is None:
            unit = self.previous_unit
            if unit is None:
                self._warn(span[0], "no_unit", "no 责任单位 cell in this row", task_id)
            else:
                flags.append(TaskFlag.INHERITED_UNIT)
                self._warn(
                    span[0],
                    "inherited_unit",
                    f"no 责任单位 cell: the cell of the row above (line {unit.number}) applies",
                    task_id,
                )
        else:
            self.previous_unit = unit
        cell = unit.text if unit else ""
        per_lead = split_per_lead(cell, self.directory, self.groups)
        if per_lead is not None and len(per_lead) == 1:
            self.warnings.append(unsplit_group_lead_warning(cell, span[0], task_id))
        roles_list = per_lead or [roles_from_cell(cell, self.directory, self.groups)]
        tasks = []
        for offset, roles in enumerate(roles_list):
            part: int | None = None
            if first_part is not None or len(roles_list) > 1:
                part = (first_part or 1) + offset
            task = build_task(
                self.document,
                seq=seq,
                part=part,
                category=self.headings.category(),
                text=text,
                roles=roles,
                lines=span,
                context=self.context,
                annual=self.annual,
                extra_flags=flags,
                warnings=self.warnings,
            )
            task = _with_undated_sentences(task, sentences, self.context)
            self.warnings.extend(ambiguous_date_warnings(task))
            tasks.append(task)
        return tasks

    def _warn(self, line: int, code: str, message: str, task_id: str) -> None:
        self.warnings.append(ParseWarning(line=line, code=code, message=message, task_id=task_id))


def _join(sentences: Sequence[str]) -> str:
    text = ""
    for sentence in sentences:
        if text and not text.endswith(("。", "；", "）")):
            text += "；"
        text += sentence
    return text


def _with_undated_sentences(
    task: PlanTask, sentences: Sequence[str], context: DeadlineContext
) -> PlanTask:
    """A task of several sentences: an undated sentence is due at the plan's end, implicit."""
    if len(sentences) < 2 or not task.milestones:
        return task
    undated = []
    for sentence in sentences:
        found = find_deadlines(sentence, context)
        if not found.milestones and found.recurrence is None:
            undated.append(implicit_deadline(context).model_copy(update={"text": sentence}))
    if not undated:
        return task
    milestones = sorted([*task.milestones, *undated], key=lambda milestone: milestone.due)
    flags = list(dict.fromkeys([*task.flags, TaskFlag.IMPLICIT_DEADLINE]))
    return task.model_copy(update={"milestones": milestones, "flags": flags})
