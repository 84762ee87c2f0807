"""What every parser shares: the source document, plan metadata, units to roles, deadlines."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from keyword import iskeyword
from pathlib import PurePath
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from domain.deadlines import DeadlineContext, find_deadlines, implicit_deadline
from domain.errors import DocumentError
from domain.parsers.unit_fields import UnitField, parse_unit_phrase
from domain.plan import (
    DeadlineFlag,
    Milestone,
    ParsedPlan,
    ParseWarning,
    PlanTask,
    Provenance,
    Recurrence,
    TaskFlag,
)
from domain.text import normalize_lines
from domain.units import UnitDirectory, split_units

_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True)
class SourceDocument:
    """A document as read: its name, its bytes, and (for text) its lines, raw and normalised.

    ``lines[i]`` is line ``i + 1`` of the file in canonical form (Simplified, no pinyin,
    full-width punctuation), ``raw_lines[i]`` the same line as written.

    ``source_lines[i]``, when given, is the line of the file that line ``i + 1`` came from
    (a web page's paragraph and its HTML source line): provenance then names file lines.
    """

    file: str
    data: bytes
    raw_lines: Sequence[str] = ()
    lines: Sequence[str] = ()
    source_lines: Sequence[int] = ()

    @classmethod
    def from_text(cls, file: str, text: str, data: bytes = b"") -> SourceDocument:
        raw_lines = text.splitlines()
        return cls(file, data, raw_lines, normalize_lines(raw_lines))

    @property
    def suffix(self) -> str:
        return PurePath(self.file).suffix.lower()

    def error(self, line: int | None, message: str) -> DocumentError:
        return DocumentError(self.file, line, message)

    def provenance(self, first: int, last: int) -> Provenance:
        """Lines ``first``..``last`` (1-based, inclusive) as a task's source."""
        if first == last:  # a ledger row: one line
            line = self.raw_lines[first - 1] if 0 < first <= len(self.raw_lines) else ""
            raw = line if line and not line.isspace() else ""  # line.strip(), not copied
        else:
            raw = "\n".join(line for line in self.raw_lines[first - 1 : last] if line.strip())
        if self.source_lines:
            first, last = self.source_lines[first - 1], self.source_lines[last - 1]
        if type(first) is not int or type(last) is not int or type(self.file) is not str:
            return Provenance(file=self.file, lines=(first, last), raw=raw)
        # Already of the field types: built without validation, and with one shared set
        # of the field names (see _TASK_FIELDS), as a ledger makes one per row; a one-line
        # source holds its line number once (two equal ints are two objects past 256).
        lines = (first, first) if first == last else (first, last)
        return _new_provenance(self.file, lines, raw, 0)  # file, lines, raw, rebased_years


def constructed(model: type[_Model], values: dict[str, Any]) -> _Model:
    """``model.model_construct(**values)`` for values that are already of their fields'
    types and name every field: what a ledger row's task costs most to build otherwise.
    (:func:`constructor` gives the same without the dictionary, the values in field order.)

    It does what model_construct does when every field is given (no aliases, no defaults
    to fill), without its per-field loop, and gives every instance of a model one shared
    set of the fields set (they all set every field) instead of one per instance, 400 bytes
    a task; pydantic only ever adds to that set, on assignment, a name it already holds.
    The instance's ``__dict__`` is a key-sharing dictionary (PEP 412) whose field names
    are stored once for all instances of the model, not in each: 190 bytes less a task
    of a 100,000-row ledger. It is an ordinary dict in every other way (a key it did not
    have when built makes it a dict of its own).
    tests/domain/test_parse_speed_equivalence.py checks the result against validation.
    """
    instance: _Model = constructor(model)(**values)
    return instance


_SET_FIELDS_SET = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__


@cache
def constructor(model: type[_Model]) -> Callable[..., _Model]:
    """What :func:`constructed` does, as a function of the field values in field order
    (or by name): a ledger builds two models a row, and a call with thirteen values costs
    half of one with a dictionary of them."""
    holder = _field_holder(model)
    fields_set = _all_fields(model)
    new, set_attribute = object.__new__, object.__setattr__

    def construct(*args: Any, **kwargs: Any) -> _Model:
        instance = new(model)
        set_attribute(instance, "__dict__", vars(holder(*args, **kwargs)))
        _SET_FIELDS_SET(instance, fields_set)
        _SET_EXTRA(instance, None)
        _SET_PRIVATE(instance, None)
        return instance

    return construct


@cache
def _all_fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


@cache
def _field_holder(model: type[BaseModel]) -> type:
    """A plain class whose ``__init__`` sets the model's fields as attributes, in field
    order: CPython gives the instances of such a class one shared table of keys, sized to
    what ``__init__`` sets, and ``vars()`` of one is a dictionary holding the values alone
    (a copy of it would not be: its values are sized to the class's largest key table)."""
    names = list(model.model_fields)
    assert all(name.isidentifier() and not iskeyword(name) for name in names)
    source = f"def __init__(self, {', '.join(names)}):\n" + "".join(
        f"    self.{name} = {name}\n" for name in names
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 - built from the model's own field names
    return type(f"{model.__name__}Fields", (), {"__init__": namespace["__init__"]})


_new_provenance: Callable[..., Provenance] = constructor(Provenance)
_new_task: Callable[..., PlanTask] = constructor(PlanTask)


class Parser(Protocol):
    """One document format. ``score`` says how sure it is the document is its format."""

    format: str

    def score(self, document: SourceDocument) -> int:
        """0 when the document is not this format; higher is more certain."""
        ...

    def parse(self, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan: ...


# ---------------------------------------------------------------- plan metadata

# "A、B分别牵头负责，C": A and B each lead their own part, C cooperates with each.
PER_LEAD = re.compile(r"分别牵头(?:负责)?")
# A cell naming roles in words, not only units (see :func:`cell_phrase`).
_ROLE_WORD = re.compile(r"牵头|负责|配合|参与|指导|落实|协办|协助|协同|主办|会同|：")
# A year as documents write it ("2018年"); plans of this century only.
YEAR = re.compile(r"(20\d{2})年")
# Chinese-numeral headings: "一、" opens a section, "（一）" a subsection; a heading cell of
# a table may also be "一." or "第一部分".
CHINESE_NUMERAL = "[一二三四五六七八九十]+"
SECTION_MARKER = re.compile(rf"{CHINESE_NUMERAL}、")
SUBSECTION_MARKER = re.compile(rf"（{CHINESE_NUMERAL}）")
HEADING_MARKER = re.compile(
    rf"^(?:{CHINESE_NUMERAL}[、.．]|（{CHINESE_NUMERAL}）|第{CHINESE_NUMERAL}部分)"
)
# How the name of an issuing body ends: a government, its office, a bureau or commission.
ISSUING_BODY_END = "(?:政府|办公室|办公厅|委员会|领导小组|局|委|办)"
# The notice that issues a plan: "<issuer>关于印发<plan>的通知" or "<issuer>关于<subject>…".
# A cited title (in 《》) or a labelled field ("信息名称：…") is not a notice's own title line.
NOTICE_TITLE = re.compile(
    rf"^(?P<issuer>[^《》：，。；]+?{ISSUING_BODY_END})关于(?P<printed>印发)?(?P<subject>.+)$"
)
_DOCUMENT_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,8}〔\d{4}〕\d+号")
_CHINESE_DATE = re.compile(r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日")
_ISO_DATE = re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})")
_PERIOD = re.compile(r"(?P<start>20\d{2})\s*[-—–~至到]\s*(?P<end>20\d{2})年")
_FIVE_YEAR = {"十三五": (2016, 2020), "十四五": (2021, 2025), "十二五": (2011, 2015)}


def find_document_number(lines: Sequence[str]) -> str | None:
    """The first 文号 (e.g. 滁政办秘〔2018〕109号) that is not a cited document's."""
    for line in lines:
        if "《" in line:  # cited documents come in 《title》（number）
            continue
        match = _DOCUMENT_NUMBER.search(line)
        if match:
            return match.group(0)
    return None


def calendar_date(year: str, month: str, day: str) -> date | None:
    """The day written, or None when no calendar has it ("2024年13月45日", "2月30日")."""
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def find_issue_date(lines: Sequence[str]) -> date | None:
    """A line that is only a date (the signature date under the notice); a date that
    cannot exist is no signature date."""
    for line in lines:
        stripped = line.strip()
        match = _CHINESE_DATE.fullmatch(stripped) or _ISO_DATE.fullmatch(stripped)
        if match:
            found = calendar_date(match["y"], match["m"], match["d"])
            if found is not None:
                return found
    return None


def find_plan_period(title: str, fallback_year: int | None = None) -> tuple[int, int] | None:
    """(start, end) years from a title: "2016-2020年", "十三五", or one year "2018年"."""
    period = _PERIOD.search(title)
    if period:
        return int(period["start"]), int(period["end"])
    for name, years in _FIVE_YEAR.items():
        if name in title:
            return years
    year = YEAR.search(title)
    if year:
        return int(year.group(1)), int(year.group(1))
    if fallback_year is not None:
        return fallback_year, fallback_year
    return None


def notice_issuer(line: str) -> str | None:
    """The issuing office of a notice's title line ("滁州市人民政府办公室关于印发…的通知")."""
    match = NOTICE_TITLE.match(line)
    return match["issuer"] if match else None


def plan_id_from_file(file: str) -> str:
    """A stable ASCII slug from the file name: the default plan id.

    A name with no ASCII letters or digits (滁州市2018年计划.xlsx) keeps its digits and gets a
    short hash of the whole name, so two Chinese-named ledgers never share an id.
    """
    stem = PurePath(file).stem
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    if re.search(r"[a-z]", slug):
        return slug
    digest = hashlib.sha256(stem.encode()).hexdigest()[:8]
    return f"{slug}-{digest}" if slug else f"plan-{digest}"


# ---------------------------------------------------------------- units to roles


@dataclass
class Roles:
    lead_units: list[str]
    cooperating_units: list[str]
    flags: list[TaskFlag] = field(default_factory=list)


def roles_from_cell(
    cell: str,
    directory: UnitDirectory,
    document_groups: Mapping[str, Sequence[str]] | None = None,
) -> Roles:
    """A single 责任单位 cell: the first unit leads, the rest cooperate (flagged inferred).

    A cell that says who leads in words ("X牵头，Y按职责分工负责", "A、B负责") is read as it
    says (see :mod:`domain.parsers.unit_fields`): no inference. Group names expand to their
    members where the document or the directory lists them.
    """
    phrase = cell_phrase(cell)
    if phrase is not None:
        return roles_from_columns(
            "，".join(phrase.leads), "，".join(phrase.cooperating), directory, document_groups
        )
    units = _expand(split_units(cell), directory, document_groups)
    if not units.names:
        return Roles([], [], [TaskFlag.NO_UNIT])
    flags = [TaskFlag.INFERRED_LEAD] if len(units.names) > 1 else []
    if units.expanded:
        flags.append(TaskFlag.GROUP_EXPANDED)
    return Roles(units.names[:1], units.names[1:], flags)


def roles_from_columns(
    lead_cell: str,
    cooperating_cell: str,
    directory: UnitDirectory,
    document_groups: Mapping[str, Sequence[str]] | None = None,
) -> Roles:
    """Explicit 牵头 / 配合 columns: no inference needed.

    A cell holding role words besides the names ("A、B按职责分工负责" in a 牵头 column) is
    read as a unit phrase: its names stay in their column, anyone it says cooperates
    cooperates.
    """
    lead_phrase = cell_phrase(lead_cell)
    if lead_phrase is not None:
        lead_cell = "，".join(lead_phrase.leads)
        cooperating_cell = "，".join([*lead_phrase.cooperating, cooperating_cell])
    cooperating_phrase = cell_phrase(cooperating_cell)
    if cooperating_phrase is not None:
        cooperating_cell = "，".join([*cooperating_phrase.leads, *cooperating_phrase.cooperating])
    leads = _expand(split_units(lead_cell), directory, document_groups)
    cooperating = _expand(split_units(cooperating_cell), directory, document_groups)
    cooperating_names = [name for name in cooperating.names if name not in leads.names]
    flags = [] if leads.names else [TaskFlag.NO_UNIT]
    if leads.expanded or cooperating.expanded:
        flags.append(TaskFlag.GROUP_EXPANDED)
    return Roles(leads.names, cooperating_names, flags)


def cell_phrase(cell: str) -> UnitField | None:
    """The roles a 责任单位 cell states in words, or None for a bare list of names (and for
    "分别牵头", which :func:`split_per_lead` reads)."""
    if PER_LEAD.search(cell) or not _ROLE_WORD.search(cell):
        return None
    phrase = parse_unit_phrase(cell)
    if phrase is None or phrase.deadline or not phrase.leads:
        return None
    return phrase


@dataclass
class _Units:
    names: list[str]
    expanded: bool


def _expand(
    names: Sequence[str],
    directory: UnitDirectory,
    document_groups: Mapping[str, Sequence[str]] | None,
) -> _Units:
    result: list[str] = []
    expanded = False
    for name in names:
        members = directory.members(name, document_groups)
        resolved = members if members is not None else [directory.resolve(name)]
        expanded = expanded or members is not None
        for unit in resolved:
            if unit not in result:
                result.append(unit)
    return _Units(result, expanded)


def split_per_lead(
    cell: str,
    directory: UnitDirectory,
    document_groups: Mapping[str, Sequence[str]] | None = None,
    cooperating_cell: str = "",
) -> list[Roles] | None:
    """Roles for "A、B分别牵头，C配合": one per lead, C cooperating in each; None without 分别牵头.

    ``cooperating_cell`` is a separate 配合 column's cell, when the table has one: its units
    cooperate in each part too. A lead that is a group with known members splits into
    those members. One lead alone (a group nobody lists) gives one Roles without the
    SPLIT_PER_LEAD flag: see :func:`unsplit_group_lead_warning`.
    """
    marker = PER_LEAD.search(cell)
    if marker is None:
        return None
    leads: list[str] = []
    for name in split_units(cell[: marker.start()]):
        members = directory.members(name, document_groups)
        for unit in members if members is not None else [directory.resolve(name)]:
            if unit not in leads:
                leads.append(unit)
    rest = cell[marker.end() :].strip("，、；,; ").removesuffix("配合").strip("，、；,; ")
    cooperating = "、".join(part for part in (rest, cooperating_cell) if part)
    result: list[Roles] = []
    for lead in leads:
        roles = roles_from_columns(lead, cooperating, directory, document_groups)
        roles.cooperating_units = [unit for unit in roles.cooperating_units if unit != lead]
        roles.flags = [*roles.flags, TaskFlag.SPLIT_PER_LEAD] if len(leads) > 1 else roles.flags
        result.append(roles)
    return result


def unsplit_group_lead_warning(cell: str, line: int, task_id: str) -> ParseWarning:
    """The warning for a 分别牵头 cell with one lead only (split_per_lead gave one Roles)."""
    return ParseWarning(
        line=line,
        code="unsplit_group_lead",
        message=f"“{cell}” says 分别牵头 (each lead its own part) but names a single lead, "
        "a group whose member units nobody lists: kept as one task; assign the lead units",
        task_id=task_id,
    )


def no_unit_warning(where: str, line: int, task_id: str) -> ParseWarning:
    """The warning for a row whose document names no responsible unit; ``where`` is how the
    document locates it (“row 12”)."""
    return ParseWarning(
        line=line,
        code="no_unit",
        message=f"{where} names no responsible unit",
        task_id=task_id,
    )


# ---------------------------------------------------------------- deadlines


@dataclass
class TaskDeadlines:
    milestones: list[Milestone]
    recurrence: Recurrence | None
    ongoing: bool
    starts: date | None
    flags: list[TaskFlag]
    warnings: list[str]
    unplaced_relative: list[str] = field(default_factory=list)  # no issue date to count from


def task_deadlines(
    text: str, context: DeadlineContext, *, annual: bool, bare_dates: bool = False
) -> TaskDeadlines:
    """:func:`read_task_deadlines`; a deadline cell's reading is remembered by its text, as a
    ledger repeats the same few phrases (2025年12月底前, 持续推进) down 100,000 rows. Each
    caller gets lists of its own; the milestones in them are frozen and shared."""
    if not bare_dates:
        return read_task_deadlines(text, context, annual=annual)
    read = _cell_deadlines(text, context, annual)
    return TaskDeadlines(
        list(read.milestones),
        read.recurrence,
        read.ongoing,
        read.starts,
        list(read.flags),
        list(read.warnings),
        list(read.unplaced_relative),
    )


@lru_cache(maxsize=4096)
def _cell_deadlines(text: str, context: DeadlineContext, annual: bool) -> TaskDeadlines:
    return read_task_deadlines(text, context, annual=annual, bare_dates=True)


def read_task_deadlines(
    text: str, context: DeadlineContext, *, annual: bool, bare_dates: bool = False
) -> TaskDeadlines:
    """The milestones of one task's text, with the plan's defaults applied and flagged.

    No date in an annual plan: the plan year end, implicit. No date in a multi-year plan:
    ongoing if the text says 持续/长期, otherwise the end of the plan period, implicit. A
    deadline cell (``bare_dates``) that says 持续推进 / 长期坚持 is ongoing in any plan: the
    office wrote it where a date would stand. A recurring task (每年…, 每季度, 一月一通报)
    carries its recurrence instead of a default. A relative deadline (印发之日起30日内) is
    flagged RELATIVE_DATE, placed or not.
    """
    found = find_deadlines(text, context, bare_dates=bare_dates)
    milestones = sorted(found.milestones, key=lambda milestone: milestone.due)
    ongoing = False
    if not milestones and found.recurrence is None:
        if (bare_dates or not annual) and found.ongoing:
            ongoing = True
        else:
            milestones = [implicit_deadline(context)]
    flags: list[TaskFlag] = []
    all_flags = {flag for milestone in milestones for flag in milestone.flags}
    if DeadlineFlag.IMPLICIT in all_flags:
        flags.append(TaskFlag.IMPLICIT_DEADLINE)
    if DeadlineFlag.AMBIGUOUS in all_flags:
        flags.append(TaskFlag.AMBIGUOUS_DATE)
    if DeadlineFlag.TARGET in all_flags:
        flags.append(TaskFlag.TARGET_DATE)
    if DeadlineFlag.RELATIVE in all_flags or found.relative:
        flags.append(TaskFlag.RELATIVE_DATE)
    return TaskDeadlines(
        milestones,
        found.recurrence,
        ongoing,
        found.starts,
        flags,
        found.problems,
        found.relative,
    )


def build_task(
    document: SourceDocument,
    *,
    seq: int,
    part: int | None,
    category: Sequence[str],
    text: str,
    roles: Roles,
    lines: tuple[int, int],
    context: DeadlineContext,
    annual: bool,
    deadline_text: str | None = None,
    extra_flags: Sequence[TaskFlag] = (),
    warnings: list[ParseWarning] | None = None,
) -> PlanTask:
    """A PlanTask with its deadlines found and its flags merged.

    ``deadline_text`` is a dedicated deadline cell (时限 / 序时进度 column): every date in it
    counts, even without 前. Without it, deadlines are read from ``text``. Deadline phrases
    naming impossible days become warnings on ``warnings``.

    ``starts`` ("X年起") read from the task text is kept only when it is not later than the
    task's first milestone: a start after the first deadline belongs to some other clause
    of the text (东营 task 3: "2018年起，市级财政不再安排…" follows its own 2017-10-31
    milestone and is a funding rule, not the day the work starts). A start written in the
    deadline cell ("2025年7月1日起实施") is the cell's own statement and always kept.

    A relative deadline (印发之日起30日内) gets a ``relative_date`` warning: placed from the
    issue date, to be confirmed, or (no issue date) left to the plan's default.
    """
    task_id = f"{seq}" if part is None else f"{seq}-{part}"
    # A deadline cell's reading is shared (read only here); the task gets its own list.
    deadlines = (
        read_task_deadlines(text, context, annual=annual)
        if deadline_text is None
        else _cell_deadlines(deadline_text, context, annual)
    )
    if warnings is not None:
        for problem in deadlines.warnings:
            warnings.append(
                ParseWarning(line=lines[0], code="bad_date", message=problem, task_id=task_id)
            )
        if TaskFlag.RELATIVE_DATE in deadlines.flags:  # what every such warning is about
            warnings.extend(
                relative_date_warnings(deadlines, context.issue_date, lines[0], task_id)
            )
    if roles.flags or extra_flags:
        flags = list(dict.fromkeys([*roles.flags, *deadlines.flags, *extra_flags]))
    else:
        flags = list(deadlines.flags)  # each flag once, as read_task_deadlines adds them
    starts = deadlines.starts
    if (
        deadline_text is None
        and starts is not None
        and deadlines.milestones
        and starts > deadlines.milestones[0].due
    ):
        starts = None
    if seq < 1 or (part is not None and part < 1) or not isinstance(text, str):
        return PlanTask(  # refused with the model's own message
            id=task_id,
            seq=seq,
            part=part,
            category=list(category),
            text=text,
            lead_units=list(roles.lead_units),
            cooperating_units=list(roles.cooperating_units),
            milestones=list(deadlines.milestones),
            recurrence=deadlines.recurrence,
            ongoing=deadlines.ongoing,
            starts=starts,
            source=document.provenance(*lines),
            flags=flags,
        )
    # Every value is already of its field's type (the lists built here, the models by
    # their own constructors): validating them again is a third of a ledger row's cost.
    # Given in PlanTask's field order, without a dictionary of them (see constructor).
    return _new_task(
        task_id,
        seq,
        part,
        list(category),
        text,
        list(roles.lead_units),
        list(roles.cooperating_units),
        list(deadlines.milestones),
        deadlines.recurrence,
        deadlines.ongoing,
        starts,
        document.provenance(*lines),
        flags,
    )


def relative_date_warnings(
    deadlines: TaskDeadlines, issued: date | None, line: int, task_id: str
) -> list[ParseWarning]:
    """One ``relative_date`` warning per deadline counted from the issue date: the date it
    was placed on, to confirm, or why it could not be placed and what applies instead."""
    found: list[ParseWarning] = []
    for milestone in deadlines.milestones:
        if DeadlineFlag.RELATIVE in milestone.flags and issued is not None:
            message = (
                f"“{milestone.raw}” counts from the issue date {issued.isoformat()}: read as "
                f"{milestone.due.isoformat()}; confirm the date"
            )
            found.append(_relative_warning(line, message, task_id))
    for raw in deadlines.unplaced_relative:
        if deadlines.recurrence is not None:
            instead = "the task recurs"
        elif deadlines.ongoing:
            instead = "the task is kept as ongoing"
        elif TaskFlag.IMPLICIT_DEADLINE in deadlines.flags:
            instead = f"due {deadlines.milestones[0].due.isoformat()} by the plan's default"
        else:
            instead = "the task keeps its other dates"
        message = (
            f"“{raw}” counts from the plan's issue date, which the document does not give: "
            f"{instead}; enter the due date"
        )
        found.append(_relative_warning(line, message, task_id))
    return found


def _relative_warning(line: int, message: str, task_id: str) -> ParseWarning:
    return ParseWarning(line=line, code="relative_date", message=message, task_id=task_id)


def ambiguous_date_warnings(task: PlanTask) -> list[ParseWarning]:
    """One warning per milestone read from "X年M月前", whose month the coordinator confirms."""
    return [
        ParseWarning(
            line=task.source.lines[0],
            code="ambiguous_date",
            message=(
                f"“{milestone.raw}” strictly means before that month: read as "
                f"{milestone.due.isoformat()}; confirm the date"
            ),
            task_id=task.id,
        )
        for milestone in task.milestones
        if DeadlineFlag.AMBIGUOUS in milestone.flags
    ]
