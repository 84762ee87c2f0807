"""A narrative notice whose items name their units inline (东营市2017年电子政务重点工作).

The body is running text, in the example all on one line: sections "一、…二、…", items
"（一）…（二）…" under each, and every item ending with its unit parenthesis
"（责任单位：A、B、C）". The first unit listed leads and the others cooperate (flag
INFERRED_LEAD when there are several); deadlines are read from the item's text.

Where the text is cut:

* A section marker "二、" counts only right after a boundary (start of a line, or after
  ：。；）), and sections and items must come in sequence, so "统一、" or a "（二）"
  quoted in a later section is never taken for a marker.
* An item runs from its marker to the next item's marker or the next section's heading.
  After its unit parenthesis nothing else may follow; if it does, the item boundaries are
  not understood and the parser raises a located error rather than guess.
* An item with several unit parentheses is a list ("2017年重点整合以下政务数据：——人口数据
  （责任单位：…）——法人数据（责任单位：…）"): each entry becomes one part of the item's
  task (ids "7-1", "7-2", …). The item's title sentence becomes a category level, and each
  part's text is the rest of the item's preamble (its body, e.g. "按照“突出重点、急用先行”
  原则…资源共享。", and the sentence introducing the list) followed by the entry, so that
  it reads as a task on its own and no sentence of the item is lost. A preamble that is one
  sentence only is both the category level and the start of each part's text.
* The notice ends with its signature ("东营市人民政府办公室2017年6月8日…"); the body stops
  there.
* A section in which no item names a unit, headed as safeguards (保障措施, 组织实施,
  工作要求), is the notice's closing guidance, not tasks: it is not imported, and a
  ``skipped_section`` warning names it so the coordinator can see why. An item without a
  unit anywhere else becomes a task with no unit (flag NO_UNIT) and a ``no_unit`` warning.

Task ids follow document order (the items have no global 序号). The plan's year comes from
the title, the issuer and issue date from the 发布部门/发布时间 lines or the signature.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from domain.deadlines import DeadlineContext
from domain.parsers.common import (
    Roles,
    SourceDocument,
    ambiguous_date_warnings,
    build_task,
    find_document_number,
    find_issue_date,
    find_plan_period,
    notice_issuer,
    plan_id_from_file,
    roles_from_cell,
)
from domain.plan import ParsedPlan, ParseWarning, Plan, PlanTask, TaskFlag
from domain.units import UnitDirectory

FORMAT = "inline-units"

# One level of nested parentheses inside the unit list: "市发展改革委（市物价局）".
_UNIT_PARENTHESIS = re.compile(r"（(?:责任单位|责任部门)：(?P<units>(?:[^（）]|（[^（）]*）)*)）")
_MIN_UNIT_PARENTHESES = 3
_BOUNDARY = "：。；）\n"
_LIST_ENTRY = "——"
_NOT_TASKS_HEADING = re.compile(r"保障|组织实施|工作要求")
_ISSUER_FIELD = re.compile(r"^(?:发布部门|发文机关|发布机构)：(?P<issuer>.+)$")
_ISSUE_DATE_FIELD = re.compile(
    r"^(?:发布时间|发布日期|成文日期)：(?P<y>\d{4})[年-](?P<m>\d{1,2})[月-](?P<d>\d{1,2})"
)
_SIGNATURE_DATE = r"\d{4}年\d{1,2}月\d{1,2}日"
_TEXT_END_PUNCTUATION = "。；，："
_DIGITS = "一二三四五六七八九"


def chinese_number(number: int) -> str:
    """1 → 一, 10 → 十, 14 → 十四, 21 → 二十一 (item and section numbers up to 99)."""
    if not 1 <= number <= 99:
        raise ValueError(f"{number} is outside 1–99")
    tens, ones = divmod(number, 10)
    prefix = "" if tens == 0 else ("十" if tens == 1 else _DIGITS[tens - 1] + "十")
    return prefix + (_DIGITS[ones - 1] if ones else "")


@dataclass(frozen=True)
class _Body:
    """The document's lines joined by newlines, with a way back from offsets to lines."""

    text: str
    line_starts: list[int]

    @classmethod
    def of(cls, lines: Sequence[str]) -> _Body:
        starts: list[int] = []
        offset = 0
        for line in lines:
            starts.append(offset)
            offset += len(line) + 1
        return cls("\n".join(lines), starts)

    def line_of(self, offset: int) -> int:
        """The 1-based line holding character ``offset``."""
        return bisect.bisect_right(self.line_starts, offset)

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.line_of(start), self.line_of(max(start, end - 1))

    def raw_slice(self, document: SourceDocument, start: int, end: int) -> str:
        """The raw text of ``start``..``end``, cut from the raw lines where it can be.

        Normalisation mostly swaps one character for one (",", "（"), so a column in the
        normalised line is the same column in the raw line; a line whose length changed
        (pinyin stripped, spaces removed) is given whole instead.
        """
        first, last = self.span(start, end)
        pieces: list[str] = []
        for line in range(first, last + 1):
            raw = document.raw_lines[line - 1]
            normalised = document.lines[line - 1]
            indent = len(raw) - len(raw.lstrip())
            if len(raw.strip()) != len(normalised):
                pieces.append(raw)
                continue
            line_start = self.line_starts[line - 1]
            from_column = start - line_start if line == first else 0
            to_column = end - line_start if line == last else len(normalised)
            pieces.append(raw[indent + from_column : indent + to_column])
        return "\n".join(piece for piece in pieces if piece.strip())


@dataclass
class _Entry:
    """A piece of an item that ends with one unit parenthesis (or the whole unit-less item)."""

    text: str
    units: str | None
    start: int
    end: int


@dataclass
class _Item:
    number: int
    start: int
    end: int
    title: str
    entries: list[_Entry] = field(default_factory=list)
    lead_in: str = ""  # a list's preamble after the title: its body and the list's lead-in

    @property
    def has_units(self) -> bool:
        return any(entry.units is not None for entry in self.entries)


@dataclass
class _Section:
    heading: str
    start: int
    items: list[_Item] = field(default_factory=list)


class InlineUnitsParser:
    format = FORMAT

    def score(self, document: SourceDocument) -> int:
        """High when items end in "（责任单位：…）" several times over."""
        count = sum(len(_UNIT_PARENTHESIS.findall(line)) for line in document.lines)
        if count < _MIN_UNIT_PARENTHESES:
            return 0
        if not any("（一）" in line for line in document.lines):
            return 0
        return 60 + min(count, 30)

    def parse(self, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan:
        body = _Body.of(document.lines)
        first_section = _find_section(body.text, 1, 0)
        if first_section is None:
            raise document.error(None, "expected sections 一、二、… holding items （一）（二）…")
        header_lines = document.lines[: body.line_of(first_section)]
        plan = _plan(document, header_lines, body)
        end = _body_end(body.text, first_section, plan.issuer)
        sections = _sections(document, body, first_section, end)
        context = DeadlineContext(plan_year=plan.period_end, period_end=plan.period_end)
        tasks: list[PlanTask] = []
        warnings: list[ParseWarning] = []
        seq = 0
        for section in sections:
            if not any(item.has_units for item in section.items) and _NOT_TASKS_HEADING.search(
                section.heading
            ):
                warnings.append(_skipped_section_warning(body, section))
                continue
            for item in section.items:
                seq += 1
                for task in _item_tasks(
                    document, directory, body, section, item, seq, context, plan, warnings
                ):
                    tasks.append(task)
                    warnings.extend(ambiguous_date_warnings(task))
        return ParsedPlan(plan=plan, tasks=tasks, warnings=warnings)


PARSER = InlineUnitsParser()


# ---------------------------------------------------------------- metadata


def _plan(document: SourceDocument, header_lines: Sequence[str], body: _Body) -> Plan:
    titled = [line for line in header_lines if line]
    if not titled:
        raise document.error(1, "expected the notice's title before its first section")
    title = titled[0]
    period = find_plan_period(title)
    if period is None:
        raise document.error(1, "expected the plan year in the title (e.g. 2017年)")
    issuer = next((m["issuer"] for line in header_lines if (m := _ISSUER_FIELD.match(line))), None)
    if issuer is None:
        issuer = notice_issuer(title)
    return Plan(
        id=plan_id_from_file(document.file),
        title=title,
        issuer=issuer,
        document_number=find_document_number(header_lines),
        issue_date=_issue_date(header_lines, body.text, issuer),
        period_start=period[0],
        period_end=period[1],
        source_file=document.file,
        format=FORMAT,
    )


def _issue_date(header_lines: Sequence[str], text: str, issuer: str | None) -> date | None:
    """The 发布时间 field, a line that is only a date, or the date in the signature."""
    for line in header_lines:
        field_match = _ISSUE_DATE_FIELD.match(line)
        if field_match:
            return date(int(field_match["y"]), int(field_match["m"]), int(field_match["d"]))
    standalone = find_issue_date(header_lines)
    if standalone is not None or issuer is None:
        return standalone
    signatures = list(re.finditer(re.escape(issuer) + _SIGNATURE_DATE, text))
    if not signatures:
        return None
    return find_issue_date([signatures[-1].group(0).removeprefix(issuer)])


def _body_end(text: str, start: int, issuer: str | None) -> int:
    """Where the items stop: the issuer's signature with its date, else the end."""
    if issuer is None:
        return len(text)
    signatures = list(re.finditer(re.escape(issuer) + r"\s*" + _SIGNATURE_DATE, text[start:]))
    return start + signatures[-1].start() if signatures else len(text)


# ---------------------------------------------------------------- sections and items


def _find_section(text: str, number: int, start: int, end: int | None = None) -> int | None:
    """Offset of section marker "N、" at a boundary, searching ``text[start:end]``."""
    pattern = re.compile(rf"(?:^|(?<=[{_BOUNDARY}])){chinese_number(number)}、", re.MULTILINE)
    match = pattern.search(text, start, len(text) if end is None else end)
    return match.start() if match else None


def _find_item(text: str, number: int, start: int, end: int) -> int | None:
    position = text.find(f"（{chinese_number(number)}）", start, end)
    return position if position != -1 else None


def _sections(document: SourceDocument, body: _Body, first: int, end: int) -> list[_Section]:
    text = body.text
    sections: list[_Section] = []
    start: int | None = first
    number = 1
    while start is not None:
        next_start = _find_section(text, number + 1, start + 1, end)
        section_end = next_start if next_start is not None else end
        marker_end = start + len(chinese_number(number)) + 1
        first_item = _find_item(text, 1, marker_end, section_end)
        if first_item is None:
            raise document.error(
                body.line_of(start),
                f"section {chinese_number(number)}、 holds no item （一）; expected items "
                "（一）（二）… under each section",
            )
        heading = _clean(text[start:first_item]).rstrip(_TEXT_END_PUNCTUATION)
        section = _Section(heading=heading, start=start)
        section.items = _items(document, body, first_item, section_end)
        sections.append(section)
        start = next_start
        number += 1
    return sections


def _items(document: SourceDocument, body: _Body, first: int, end: int) -> list[_Item]:
    text = body.text
    items: list[_Item] = []
    start: int | None = first
    number = 1
    while start is not None:
        content_start = start + len(chinese_number(number)) + 2
        next_start = _find_item(text, number + 1, content_start, end)
        item_end = next_start if next_start is not None else end
        items.append(_item(document, body, number, start, content_start, item_end))
        start = next_start
        number += 1
    return items


def _item(
    document: SourceDocument, body: _Body, number: int, start: int, content_start: int, end: int
) -> _Item:
    text = body.text
    content = _clean(text[content_start:end])
    title = content.split("。", 1)[0]
    item = _Item(number=number, start=start, end=end, title=title)
    position = content_start
    for match in _UNIT_PARENTHESIS.finditer(text, content_start, end):
        item.entries.append(
            _Entry(_clean(text[position : match.start()]), match["units"], position, match.end())
        )
        position = match.end()
    rest = _clean(text[position:end])
    if not item.entries:
        item.entries.append(_Entry(rest, None, content_start, end))
    elif rest:
        raise document.error(
            body.line_of(position),
            f"item （{chinese_number(number)}）: expected the next item or section after its "
            f"责任单位, found “{rest[:20]}”",
        )
    if len(item.entries) > 1:
        _split_list_preamble(item)
    return item


def _split_list_preamble(item: _Item) -> None:
    """Separate the item's preamble from its first list entry; every part repeats it.

    The preamble's first sentence is the item's title (a category level); the sentences
    after it (the body and the list's lead-in) start each part's text.
    """
    first = item.entries[0]
    preamble, found, entry = first.text.partition(_LIST_ENTRY)
    if not found:
        return
    first.text = entry
    sentences = [sentence for sentence in re.split(r"(?<=。)", preamble) if sentence]
    if len(sentences) > 1:
        item.lead_in = "".join(sentences[1:])
    else:  # no title sentence of its own: the whole preamble titles the list and leads in
        item.title = preamble.rstrip(_TEXT_END_PUNCTUATION)
        item.lead_in = preamble
    for later in item.entries[1:]:
        later.text = later.text.removeprefix(_LIST_ENTRY)


def _clean(text: str) -> str:
    return text.replace("\n", "").strip()


# ---------------------------------------------------------------- tasks


def _item_tasks(
    document: SourceDocument,
    directory: UnitDirectory,
    body: _Body,
    section: _Section,
    item: _Item,
    seq: int,
    context: DeadlineContext,
    plan: Plan,
    warnings: list[ParseWarning],
) -> list[PlanTask]:
    marker = f"（{chinese_number(item.number)}）"
    is_list = len(item.entries) > 1
    category = [section.heading, marker + item.title] if is_list else [section.heading]
    tasks: list[PlanTask] = []
    for part, entry in enumerate(item.entries, start=1):
        if entry.units is None:
            roles = Roles([], [], [TaskFlag.NO_UNIT])
        else:
            roles = roles_from_cell(entry.units, directory)
        # Part 1 carries the item's marker and preamble; later parts start at their entry.
        start = item.start if part == 1 else entry.start
        lines = body.span(start, entry.end)
        task = build_task(
            document,
            seq=seq,
            part=part if is_list else None,
            category=category,
            text=item.lead_in + entry.text if is_list else entry.text,
            roles=roles,
            lines=lines,
            context=context,
            annual=plan.is_annual,
            warnings=warnings,
        )
        source = task.source.model_copy(update={"raw": body.raw_slice(document, start, entry.end)})
        task = task.model_copy(update={"source": source})
        if TaskFlag.NO_UNIT in task.flags:
            warnings.append(
                ParseWarning(
                    line=lines[0],
                    code="no_unit",
                    message=(
                        f"{section.heading} {marker}{item.title}: the document names no "
                        "责任单位; assign a lead unit"
                    ),
                    task_id=task.id,
                )
            )
        tasks.append(task)
    return tasks


def _skipped_section_warning(body: _Body, section: _Section) -> ParseWarning:
    titles = "、".join(f"（{chinese_number(item.number)}）{item.title}" for item in section.items)
    return ParseWarning(
        line=body.line_of(section.start),
        code="skipped_section",
        message=(
            f"{section.heading} names no 责任单位 and sets out safeguard measures, not tasks; "
            f"its {len(section.items)} items were not imported: {titles}"
        ),
    )
