"""The general reader: any text plan whose items are numbered or name their units.

No family parser is left: this reader knows the conventions all these documents share
(it reads 东营's one-line notice, 滁州's flattened table, 亳州's 附件1 task list, 南通's pipe
table and 宣城's 栏N boxes, each once a family of its own), so it reads the shapes offices
really publish (a notice, a web page, a 工作要点, a table copied one cell per line or pasted
as text):

* **A table flattened one cell per line whose rows are split by 序号** (a 序号 header line,
  the header's cells one a line with a 责任单位 column, then "1"): each number starts a row,
  read from its end backwards (是/否 flag cells, the unit cell, the text, the category
  cells), a row without a unit cell in the merged cell of the row above; see
  :mod:`domain.parsers.column_lines`. Such a table is certain: it is read as that table or
  refused at the line where its rows break, never as numbered items.
* **A notice's task list in 附件1** (a line 附件1, then the header cells 序号 / …任务… /
  责任单位 one a line): each number starts a row of 一、/（一） heading cells, a sub-heading,
  task sentences and 责任单位 cells; the narrative above restates it and is not read, and a
  group the cells name (市直有关单位) expands to the list 附件2 gives; see
  :mod:`domain.parsers.column_lines`. It is as certain as a 序号 table, and read the same way.
* **Tasks scheduled in 栏N boxes** (a 栏N： box and a （牵头部门：…） unit field): the numbered
  tasks of the chapter naming 任务, each box the staged deadlines of the tasks of its
  section before it (or of the next one); see :mod:`domain.parsers.schedule_boxes`. Such a
  plan is certain too: read with its boxes or refused where tasks and boxes do not fit.
* **Items** are found by their numbering: 一、 （一） 1. 1、 （1） ① and 第一部分, at whatever
  depth the document uses them, restarting per section or running on. A line without a
  number belongs to the item above it (a wrapped line, or the next paragraph of a web
  page). An item with numbered items under it is a heading: its text is their category.
  A notice written as one line is cut at its items: after a sentence's end, or where a
  short heading runs into its first item (一、推进应用（一）建设平台。), and its signature
  (an office and the date after the last sentence) ends it. An item listing entries
  ——…（责任单位：…）——…（责任单位：…） is one task in parts (N-1, N-2), each part read after
  the item's preamble. A task's text is its words: without its number and without the unit
  field closing it.
* **Unit fields** close a task wherever they stand: a trailing parenthesis or bracket
  （牵头单位：X；配合单位：Y；完成时限：Z） / [牵头单位：X；责任单位：Y] / （A、B负责） /
  （X牵头，Y配合） / （X会同有关部门负责）, a line of its own, or separate 牵头单位： /
  责任单位： / 完成时限： lines. A paragraph holding several unit fields holds several tasks,
  each ending with its own. A unit line standing alone after sub-items （1）…（4） that name
  no unit covers all of them.
* **Roles**: 牵头 / 主办 lead, 配合 / 参与 / 协办 / 协助 cooperate; 负责 / 指导 units lead
  unless someone 牵头 (then they cooperate), and 落实 units cooperate with those who lead or
  guide. 牵头单位 beside 责任单位 makes the 责任单位 cooperating; 责任单位 alone leads. A
  document that states its own rule (列第一位者为牵头单位，下同 / 排在第一位的部门为牵头部门)
  has the first unit of every 负责 list lead and the rest cooperate.
* **Not tasks**: a section headed as safeguards (保障措施, 组织实施, 工作要求) none of whose
  items names a unit (one ``skipped_section`` warning names it); page chrome (扫一扫,
  打印本页, 【关闭窗口】), metadata blocks (索引号, 发文机关, 成文日期 …), signatures and
  dates, 附件 headers. A unit named in running text (a
  cited document's authors, 中宣部《…》) is not an assignee: only unit fields assign.
* **Cut off**: the last item of a document that stops mid-item (no unit field where the
  document's other items have one, no closing punctuation) is kept, flagged TRUNCATED and
  given no unit, never its neighbour's.

In a document with unit fields, an item without one is not a task (a heading or a
principle) and is named in a ``skipped_item`` warning; in a document without any, the
numbered items of its most used numbering level are its tasks, flagged NO_UNIT.

**A task table pasted as text** ("|" after every cell, a header 序号 | 任务 | 牵头单位 | … and
its row 1; cells, wrapped cells and repaired rows as :mod:`domain.parsers.tables` reads
them) is what the coordinator tracks: its rows are the tasks, and the narrative around it,
which restates them, is not read (reading both would count every task twice). Its unit
columns give roles as written (牵头 / 协同 columns: no inferred lead; 责任单位 beside a 协同
column leads); its 时限 column gives the deadlines ("每年1月底前" recurs yearly). A row that
lost a unit cell is read as repaired, flagged REPAIRED_ROW and warned; a table whose rows
cannot be aligned is read as text instead if the text holds items, else refused at the row.
The plan of a title without a year runs from its issue year to the latest year of that
column: a dedicated 时限 cell holds deadlines only, unlike running text, where a year may
be a past event's.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from io import BytesIO
from pathlib import PurePath

import docx

from domain.deadlines import DeadlineContext
from domain.errors import DocumentError
from domain.parsers.column_lines import (
    numbered_header,
    read_numbered,
    read_task_list,
    task_list_header,
)
from domain.parsers.common import (
    CHINESE_NUMERAL,
    YEAR,
    Roles,
    SourceDocument,
    ambiguous_date_warnings,
    build_task,
    calendar_date,
    find_document_number,
    find_issue_date,
    find_plan_period,
    no_unit_warning,
    notice_issuer,
    plan_id_from_file,
    roles_from_cell,
    roles_from_columns,
    unsplit_group_lead_warning,
)
from domain.parsers.docx_table import is_docx
from domain.parsers.ledger import (
    Column,
    HeaderColumns,
    deadline_cell_text,
    is_unsplit_group_lead,
    task_roles,
    unit_cell_text,
)
from domain.parsers.schedule_boxes import has_boxes, issuer_from_own_number, read_boxes
from domain.parsers.tables import (
    CERTAIN_TABLE_SCORE,
    PipeCell,
    PipeRow,
    PipeTable,
    find_pipe_table,
    has_pipes,
    pipe_rows,
    repair_message,
)
from domain.parsers.unit_fields import FIRST_LEADS, UnitField, find_unit_fields
from domain.plan import ParsedPlan, ParseWarning, Plan, PlanTask, TaskFlag
from domain.units import UnitDirectory

FORMAT = "general"

# Numbering, outermost style first as documents usually nest them; the depth of each
# style is the order in which the document itself uses them.
_MARKERS: list[tuple[str, str]] = [
    ("part", rf"第{CHINESE_NUMERAL}(?:部分|章|节)"),
    ("chinese", rf"{CHINESE_NUMERAL}[、.．]"),
    ("chinese_paren", rf"（{CHINESE_NUMERAL}）"),
    ("article", rf"第{CHINESE_NUMERAL}条"),
    ("number_dot", r"\d{1,3}[.．](?!\d)"),
    ("number_comma", r"\d{1,3}、"),
    ("number_paren", r"（\d{1,3}）"),
    ("number_half_paren", r"\d{1,3}）"),
    ("circled", r"[①-⑳]"),
]
_MARKER = re.compile(
    "^(?:" + "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _MARKERS) + r")\s*"
)

_CHINESE_DIGITS = {digit: value for value, digit in enumerate("一二三四五六七八九", start=1)}
_INLINE_KINDS = ("chinese", "chinese_paren", "number_dot", "number_comma", "number_paren")
_INLINE_MARKER = re.compile(
    "(?<=[。；：）])(?:" + "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _MARKERS) + ")"
)
_MAX_TITLE = 60
# A heading run into its first item: "一、加强基础建设（一）建设政务云。".
_MAX_RUN_IN_HEADING = 40
_RUN_IN_FIRST = re.compile(r"（一）|(?<![\d.．])1[.．、](?!\d)")
_RUN_IN_SIGNATURE = re.compile(
    r"(?<=[。！）])(?P<office>[^，。；：、！？（）\s\d]{2,30}?(?:办公室|人民政府|委员会|厅|局|委|办))"
    r"\d{4}年\d{1,2}月\d{1,2}日"
)
_MOST_FIELDS_SCORED = 30
# A table flattened one cell per line with a 序号 column is certain, as the family parsers
# are (60 and up); a ledger (85 and up) stays more certain.
_NUMBERED_TABLE_SCORE = 80
_PUNCTUATION_AND_SPACE = re.compile(r"[\s，。；、：）（]")
_TITLE_ENDS = (
    "通知",
    "意见",
    "方案",
    "办法",
    "要点",
    "计划",
    "规划",
    "决定",
    "分解",
    "清单",
    "安排",
)
_DECIMAL_START = re.compile(r"^(\d{1,3})[.．](?=\d)")

# Lines that are the web page or the notice around the plan, never its tasks.
_CHROME = re.compile(
    r"^(?:[-·•]\s*)?(?:设为首页|加入收藏|无障碍|长者版|扫一扫|打印本页|打印|关闭窗口|关闭|"
    r"返回顶部|分享到|全文|字体|【[^】]*】$|[【\[]?(?:打印|关闭|关闭窗口|大|中|小)[】\]]?$)"
    r"|^(?:索引号|主题分类|发文机关|发布机构|发布机关|成文日期|发布日期|发布时间|信息来源|来源|"
    r"文号|名称|标题|主题词|所属机构|文件分类|阅读次数|浏览次数|编辑|责任编辑|时效性|"
    r"法宝引证码)[：:]"
    r"|^【[^】]*】"
    r"|^（此件[^）]*）$"
    r"|^附件\s*\d*\s*[：:]?\s*$|^附件\s*\d*[：:]"
)
# A signature: an office's name (no sentence punctuation) on its own line above the date.
_SIGNATURE = re.compile(r"^[^，。；：、！？（）]{2,30}$")
_DATE_LINE = re.compile(r"^\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日$|^\d{4}-\d{2}-\d{2}$|^\d{7,8}$")

# A closing paragraph addressed to a group: "各有关部门……", "各县（市、区）人民政府……".
_GROUP_SUBJECT = re.compile(
    r"^(?P<group>各(?:[^，。；、：]|（[^（）]*）){0,12}?(?:部门|单位|政府|地区|机关|科室|学校))"
    r"(?=要|应|须|于|在|将|按|根据|制定|结合|抓紧|认真|把|对|进一步|务必|，)"
)
# A deadline with a year and a month: what makes a closing paragraph an obligation.
_DATED = re.compile(r"\d{4}年\d{1,2}月(?:\d{1,2}日|底|末)?(?:之前|以前|前)")
_CLOSING = "。；！？）」”…"
_LIST_ENTRY = "——"
_TITLE_FIELD = re.compile(r"^(?:名称|标题)[：:]\s*(?P<title>.+?)\s*(?:(?:文号|发文字号)[：:].*)?$")
# Headings of a notice's closing guidance rather than its tasks.
_SAFEGUARDS = re.compile(r"保障|组织实施|工作要求")
_SENTENCE_END = "。；！？"


@dataclass
class _Block:
    """A numbered item (or the text before the first one) and its unnumbered lines."""

    kind: str | None
    first_line: int
    last_line: int
    text: str = ""
    line_starts: list[int] = field(default_factory=list)  # offsets of each line in ``text``
    line_numbers: list[int] = field(default_factory=list)  # the document line of each
    columns: list[int] = field(default_factory=list)  # where each starts in its line
    depth: int = 0
    children: int = 0
    fields: list[UnitField] = field(default_factory=list)

    def line_of(self, offset: int) -> int:
        return self.line_numbers[bisect.bisect_right(self.line_starts, offset) - 1]

    def column_of(self, offset: int) -> int:
        """Where ``offset`` of the item's text stands in its (stripped) document line."""
        index = bisect.bisect_right(self.line_starts, offset) - 1
        return self.columns[index] + offset - self.line_starts[index]


# ---------------------------------------------------------------- the document


def _marker(line: str) -> tuple[str, str] | None:
    """(style, marker) of an item's opening line, or None."""
    match = _MARKER.match(line)
    if match is None or match.end() == len(line):
        kind = match.lastgroup if match else None
        # A bare number on a line is a table cell or a page number, not an item.
        if match is None or kind not in ("chinese", "chinese_paren", "part"):
            return None
        return kind, match.group(0)
    kind = match.lastgroup
    assert kind is not None
    return kind, match.group(0)


def _is_chrome(line: str) -> bool:
    return bool(_CHROME.search(line) or _DATE_LINE.match(line))


def _signatures(lines: Sequence[str]) -> set[int]:
    """Indexes of signature lines: the issuing office's name on its own, short line right
    above the date line under a notice."""
    signed: set[int] = set()
    for index, line in enumerate(lines):
        if not _DATE_LINE.match(line.strip()):
            continue
        above = index - 1
        while above >= 0 and not lines[above].strip():
            above -= 1
        if above >= 0 and _SIGNATURE.match(lines[above].strip()):
            signed.add(above)
    return signed


def _blocks(lines: Sequence[str]) -> list[_Block]:
    blocks: list[_Block] = [_Block(None, 1, 0)]
    # Each block's text is joined once at the end: adding to a growing string would copy it
    # for every line, and a block of a 20 MB plan without numbering runs to megabytes.
    texts: list[list[str]] = [[]]
    lengths = [0]
    signatures = _signatures(lines)
    last: dict[str, int] = {}  # the last number of each numbering style
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or _is_chrome(stripped) or number - 1 in signatures:
            continue
        for column, segment in _segments(stripped, last):
            marker = _marker(segment)
            decimal = _DECIMAL_START.match(segment) if marker is None else None
            if decimal is not None and int(decimal[1]) == last.get("number_dot", 0) + 1:
                # "11.121人才梯队项目": item 11 (after item 10) whose text opens with a number.
                marker = ("number_dot", decimal.group(0))
            if marker is not None:
                last[marker[0]] = _number(marker[1])
                blocks.append(_Block(marker[0], number, number))
                texts.append([])
                lengths.append(0)
            block, parts = blocks[-1], texts[-1]
            if block.line_starts:
                parts.append("\n")
                lengths[-1] += 1
            block.line_starts.append(lengths[-1])
            block.line_numbers.append(number)
            block.columns.append(column)
            parts.append(segment)
            lengths[-1] += len(segment)
            block.last_line = number
    for block, parts in zip(blocks, texts, strict=True):
        block.text = "".join(parts)
    _depths(blocks)
    return blocks


def _number(marker: str) -> int:
    """The number a marker counts ("十二、" → 12, "（3）" → 3, "④" → 4)."""
    digits = re.sub(r"\D", "", marker)
    if digits:
        return int(digits)
    circled = re.search(r"[①-⑳]", marker)
    if circled:
        return ord(circled.group(0)) - ord("①") + 1
    numeral = re.search(CHINESE_NUMERAL, marker)
    if numeral is None:
        return 0
    tens, ten, ones = numeral.group(0).rpartition("十")
    value = _CHINESE_DIGITS.get(ones, 0)
    if ten:
        value += 10 * (_CHINESE_DIGITS.get(tens, 1) if tens else 1)
    return value


def _segments(line: str, last: dict[str, int]) -> list[tuple[int, str]]:
    """A line of running text cut where its items begin, each piece with its column: the
    whole plan on one line ("一、总体要求……。（一）……（责任单位：…）（二）……"). A marker inside a
    line counts only right after a sentence ends (。；：）), or right after a short heading
    ("一、加强基础建设（一）…": a heading runs into its first item), and when it continues its
    style's numbering (the next number, or 1 again), so a quoted "（二）" is never an item.
    The signature closing a notice written as one line ends its text."""
    line = line[: _signature_start(line)]
    seen = dict(last)
    cuts: list[int] = []
    head = _marker(line)
    if head is not None:
        seen[head[0]] = _number(head[1])
    run_in = _run_in_starts(line)
    for start, kind, value in _inline_markers(line):
        if value in (seen.get(kind, 0) + 1, 1) and (
            start not in run_in or _after_heading(line, cuts[-1] if cuts else 0, start)
        ):
            seen[kind] = value
            cuts.append(start)
    if not cuts:
        return [(0, line)]
    bounds = [0, *cuts, len(line)]
    return [(a, line[a:b]) for a, b in itertools.pairwise(bounds) if line[a:b].strip()]


def _inline_markers(line: str) -> list[tuple[int, str, int]]:
    """(offset, style, number) of every marker that may open an item inside a line: after a
    sentence's end, or a first item that may follow its heading without punctuation."""
    found: dict[int, tuple[int, str, int]] = {}
    for match in _RUN_IN_FIRST.finditer(line):
        found[match.start()] = (match.start(), _marker_kind(match.group(0)), 1)
    for match in _INLINE_MARKER.finditer(line):
        kind = next(k for k, _ in _MARKERS if match.group(k) is not None)
        if kind in _INLINE_KINDS:
            found[match.start()] = (match.start(), kind, _number(match.group(0)))
    return [found[offset] for offset in sorted(found)]


def _marker_kind(marker: str) -> str:
    match = _MARKER.match(marker + "x")
    assert match is not None
    assert match.lastgroup is not None
    return match.lastgroup


def _run_in_starts(line: str) -> set[int]:
    """Offsets of first-item markers not preceded by a sentence's end."""
    return {
        match.start()
        for match in _RUN_IN_FIRST.finditer(line)
        if match.start() == 0 or line[match.start() - 1] not in "。；：）"
    }


def _after_heading(line: str, start: int, item: int) -> bool:
    """``item`` follows, without punctuation, the short heading that opens at ``start``
    ("二、推进应用（一）建设平台。": a heading runs into its first item)."""
    head = _MARKER.match(line[start:])
    if head is None or head.lastgroup not in ("chinese", "part"):
        return False
    heading = line[start + head.end() : item]
    return 0 < len(heading) <= _MAX_RUN_IN_HEADING and not re.search(r"[。；：，]", heading)


def _signature_start(line: str) -> int:
    """Where the signature of a notice run into one line begins: an office's name and the
    date after the last sentence ("…目标任务。东营市人民政府办公室2017年6月8日扫一扫…"), or
    the line's end."""
    signatures = list(_RUN_IN_SIGNATURE.finditer(line))
    return signatures[-1].start("office") if signatures else len(line)


def _depths(blocks: list[_Block]) -> None:
    """Each item's depth from the order the document nests its numbering styles, and how
    many items each holds."""
    stack: list[tuple[str, _Block]] = []
    for block in blocks:
        if block.kind is None:
            continue
        kinds = [kind for kind, _ in stack]
        if block.kind in kinds:
            del stack[kinds.index(block.kind) :]
        if stack:
            stack[-1][1].children += 1
        block.depth = len(stack)
        stack.append((block.kind, block))


def _paragraph_blocks(lines: Sequence[str]) -> list[_Block]:
    signatures = _signatures(lines)
    blocks = [_Block(None, 1, 0)]
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped and not _is_chrome(stripped) and number - 1 not in signatures:
            blocks.append(_Block("paragraph", number, number, stripped, [0], [number], [0]))
    return blocks


def as_text(document: SourceDocument) -> SourceDocument | None:
    """The document as lines: a text document as it is, a Word file as its paragraphs
    (line N is paragraph N), anything else None."""
    if document.lines:
        return document
    if not is_docx(document.data):
        return None
    try:
        word = docx.Document(BytesIO(document.data))
    except Exception:  # a damaged package fails in many ways inside python-docx
        return None
    paragraphs = "\n".join(paragraph.text for paragraph in word.paragraphs)
    if not paragraphs.strip():
        return None
    return SourceDocument.from_text(document.file, paragraphs, document.data)


def document_facts(document: SourceDocument, enough: int | None = None) -> tuple[int, int]:
    """(numbered items, unit fields) of a text document: what the reader can go on.
    Counting stops at ``enough`` unit fields."""
    blocks = _blocks(document.lines)
    items = sum(1 for block in blocks if block.kind is not None)
    fields = 0
    for block in blocks:
        fields += len(find_unit_fields(block.text))
        if enough is not None and fields >= enough:
            break
    return items, fields


def diagnosis(document: SourceDocument) -> str:
    """What a document the reader cannot read holds, and what it lacks."""
    text = as_text(document)
    if text is None:
        return "found no table with a task header (序号 / 任务 / 责任单位)"
    document = text
    items, fields = document_facts(document)
    if items and not fields:
        return f"found {items} numbered items but no unit field in any of them"
    if fields and not items:
        return f"found {fields} unit fields but no numbered item"
    return (
        "found no numbered item (一、 （一） 1. 1、 （1） ①), no unit field "
        "(（牵头单位：…） or （…负责）) and no task table header (序号 / 任务 / 责任单位)"
    )


@dataclass
class _Task:
    text: str
    first_line: int
    last_line: int
    category: list[str]
    unit_field: UnitField | None
    flags: list[TaskFlag] = field(default_factory=list)
    closing: str = ""  # the unit field closing the text, as written
    list_item: int | None = None  # the first line of the item whose listed entries are parts
    block: _Block | None = None  # the item the task was cut from, and where in its text
    span: tuple[int, int] | None = None


class GeneralParser:
    format = FORMAT

    def max_score(self, document: SourceDocument) -> int:
        """The most score() gives this document, from a quick look (does any line hold a
        "|"?): detect_parser skips scoring (a whole document's worth of reading) when
        another parser is already as certain, as a CSV ledger is of its rows."""
        return CERTAIN_TABLE_SCORE if has_pipes(document) else _NUMBERED_TABLE_SCORE

    def score(self, document: SourceDocument) -> int:
        """As certain as any table reader for a task table pasted as text (in the
        document's lines: a text file, a web page's or a PDF's text); certain, as a family
        parser is, on a table flattened one cell per line whose rows are split by 序号 or on
        a notice's 附件1 task list; otherwise below every family parser that is certain (60
        and up): a fallback for any text with numbered items or unit fields, higher the
        more unit fields it has."""
        if has_pipes(document) and find_pipe_table(document) is not None:
            return CERTAIN_TABLE_SCORE
        text = as_text(document)
        if text is None:
            return 0
        if numbered_header(text.lines) is not None or task_list_header(text.lines) is not None:
            return _NUMBERED_TABLE_SCORE
        if has_boxes(text):  # as certain as of a 序号 table
            return _NUMBERED_TABLE_SCORE
        return _items_score(text)

    def parse(self, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan:
        table = find_pipe_table(document) if has_pipes(document) else None
        text = as_text(document)
        if text is None:
            raise document.error(None, f"read as {FORMAT}, but {diagnosis(document)}")
        if table is None:
            return self._parse_text(text, directory)
        try:
            return _parse_table(text, table, directory)
        except DocumentError as refusal:
            if not _items_score(text):
                raise
            try:
                return self._parse_text(text, directory)
            except DocumentError:
                raise refusal from None

    def _parse_text(self, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan:
        """The plan read from its numbered items and unit fields."""
        text = as_text(document)
        if text is None:
            raise document.error(None, f"read as {FORMAT}, but {diagnosis(document)}")
        header = numbered_header(text.lines)
        if header is not None:
            # A table split by 序号 is read as that table, or refused at the line where its
            # rows break: read as items instead, its header cells would become tasks.
            return read_numbered(text, directory, header, plan_format=FORMAT)
        task_list = task_list_header(text.lines)
        if task_list is not None:  # the same for a notice's 附件1 task list
            return read_task_list(text, directory, task_list, plan_format=FORMAT)
        if has_boxes(text):
            # Tasks scheduled in 栏N boxes are read with their boxes, or refused where the two
            # do not fit together: read as items, the boxes' deadlines would be lost.
            return read_boxes(text, directory, _plan(text, _header(text)))
        return self._parse_items(text, directory)

    def _parse_items(self, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan:
        blocks = _blocks(document.lines)
        for block in blocks:
            block.fields = find_unit_fields(block.text)
        if len(blocks) == 1 and blocks[0].fields:
            # No numbering at all: each paragraph is an item of its own.
            blocks = _paragraph_blocks(document.lines)
            for block in blocks:
                block.fields = find_unit_fields(block.text)
        first_leads = any(FIRST_LEADS.search(line) for line in document.lines)
        warnings: list[ParseWarning] = []
        has_fields = any(block.fields for block in blocks)
        skipped_sections: list[ParseWarning] = []
        if has_fields:
            blocks = _without_safeguards(blocks, skipped_sections)
        drafts = (
            _tasks_with_fields(blocks, warnings) if has_fields else _tasks_without_fields(blocks)
        )
        if not drafts:
            raise document.error(None, f"read as {FORMAT}, but {diagnosis(document)}")
        first_item = next((b.first_line for b in blocks if b.kind is not None), 1)
        plan = _plan(document, document.lines[: first_item - 1])
        context = DeadlineContext(
            plan_year=plan.period_start, period_end=plan.period_end, issue_date=plan.issue_date
        )
        tasks: list[PlanTask] = []
        for (seq, part), draft in zip(_numbering(drafts), drafts, strict=True):
            roles = _roles(draft.unit_field, directory, first_leads=first_leads)
            flags = list(draft.flags)
            if draft.unit_field is None and TaskFlag.TRUNCATED not in flags:
                flags.append(TaskFlag.NO_UNIT)
            deadline_text = (
                draft.unit_field.deadline
                if draft.unit_field and draft.unit_field.deadline
                else None
            )
            task = build_task(
                document,
                seq=seq,
                part=part,
                category=draft.category,
                text=draft.text,  # deadlines are read in its unit field too (…，6月底前完成）
                roles=roles,
                lines=(draft.first_line, draft.last_line),
                context=context,
                annual=plan.is_annual,
                deadline_text=deadline_text,
                extra_flags=flags,
                warnings=warnings,
            )
            task = _cut_raw(document, draft, task.model_copy(update={"text": _task_text(draft)}))
            tasks.append(task)
            warnings.extend(ambiguous_date_warnings(task))
            if TaskFlag.NO_UNIT in task.flags:
                warnings.append(
                    no_unit_warning(f"item “{draft.text[:20]}…”", draft.first_line, task.id)
                )
            if TaskFlag.TRUNCATED in flags:
                warnings.append(
                    ParseWarning(
                        line=draft.first_line,
                        code="truncated",
                        message=f"the document stops inside task {seq}: it names no unit "
                        "here; assign its units",
                        task_id=task.id,
                    )
                )
        warnings.extend(skipped_sections)
        return ParsedPlan(plan=plan, tasks=tasks, warnings=_file_lines(document, warnings))


PARSER = GeneralParser()


def _items_score(document: SourceDocument) -> int:
    """The score of a text read by its numbered items and unit fields."""
    items, fields = document_facts(document, enough=_MOST_FIELDS_SCORED)
    if fields:
        return 20 + min(fields, _MOST_FIELDS_SCORED)
    return 5 if items else 0


# ---------------------------------------------------------------- a task table as text


def _parse_table(
    document: SourceDocument, table: PipeTable, directory: UnitDirectory
) -> ParsedPlan:
    """The plan whose task table is pasted as text: its rows are its tasks, the text above
    it gives the plan's title, issuer and date, its 时限 column the plan's last year."""
    rows = pipe_rows(document, table)
    deadline = table.columns.get(Column.DEADLINE)
    years = [
        int(year)
        for row in rows
        for year in YEAR.findall(row.cells[deadline].text if deadline is not None else "")
    ]
    plan = _plan(document, document.lines[: table.header_line - 1], table_years=years)
    context = DeadlineContext(
        plan_year=plan.period_start, period_end=plan.period_end, issue_date=plan.issue_date
    )
    warnings: list[ParseWarning] = []
    tasks: list[PlanTask] = []
    for row in rows:
        tasks.extend(_row_tasks(document, table.columns, row, context, directory, warnings))
    return ParsedPlan(plan=plan, tasks=tasks, warnings=_file_lines(document, warnings))


def _row_tasks(
    document: SourceDocument,
    columns: HeaderColumns,
    row: PipeRow,
    context: DeadlineContext,
    directory: UnitDirectory,
    warnings: list[ParseWarning],
) -> list[PlanTask]:
    """A row's task (one per lead when its lead cell tells a list of units to lead each
    separately), the ledger's rules reading its cells."""

    def cell(column: Column) -> PipeCell | None:
        index = columns.get(column)
        return row.cells[index] if index is not None else None

    def text(column: Column) -> str:
        found = cell(column)
        return found.text if found is not None else ""

    def units(column: Column) -> str:
        found = cell(column)
        return unit_cell_text(found.raw) if found is not None else ""

    lead_cell = units(Column.LEAD) if cell(Column.LEAD) is not None else None
    parts = task_roles(lead_cell, units(Column.COOPERATING), units(Column.UNITS), directory)
    unsplit = is_unsplit_group_lead(lead_cell, units(Column.UNITS), parts)
    deadline = deadline_cell_text(text(Column.DEADLINE))
    category = text(Column.CATEGORY).rstrip("。；：，、")
    lines = row.lines
    extra = [TaskFlag.REPAIRED_ROW] if row.repaired else []
    tasks: list[PlanTask] = []
    for number, roles in enumerate(parts, start=1):
        task = build_task(
            document,
            seq=row.seq,
            part=number if len(parts) > 1 else None,
            category=[category] if category else [],
            text=text(Column.TASK),
            roles=roles,
            lines=lines,
            context=context,
            annual=context.plan_year == context.last_year,
            deadline_text=deadline or None,
            extra_flags=extra,
            warnings=warnings,
        )
        warnings.extend(ambiguous_date_warnings(task))
        if row.repair is not None:
            warnings.append(
                ParseWarning(
                    line=lines[0],
                    code="repaired_row",
                    message=repair_message(columns, row, deadline),
                    task_id=task.id,
                )
            )
        if unsplit:
            per_lead_cell = lead_cell if lead_cell is not None else units(Column.UNITS)
            warnings.append(unsplit_group_lead_warning(per_lead_cell, lines[0], task.id))
        if TaskFlag.NO_UNIT in task.flags:
            warnings.append(no_unit_warning(f"row {row.seq}", lines[0], task.id))
        tasks.append(task)
    return tasks


def _header(document: SourceDocument) -> Sequence[str]:
    """The lines above the document's first numbered item: where its title and issuer are."""
    first_item = next((b.first_line for b in _blocks(document.lines) if b.kind is not None), 1)
    return document.lines[: first_item - 1]


def _file_lines(document: SourceDocument, warnings: list[ParseWarning]) -> list[ParseWarning]:
    """Warnings name lines of the file: a web page's paragraph is its HTML source line."""
    if not document.source_lines:
        return warnings
    return [
        warning.model_copy(update={"line": document.source_lines[warning.line - 1]})
        if warning.line is not None
        else warning
        for warning in warnings
    ]


def _roles(unit_field: UnitField | None, directory: UnitDirectory, *, first_leads: bool) -> Roles:
    if unit_field is None:
        return Roles([], [], [])
    if unit_field.bare_list:
        return roles_from_cell("，".join(unit_field.leads), directory)
    leads, cooperating = list(unit_field.leads), list(unit_field.cooperating)
    if first_leads and unit_field.responsible_only and leads:
        # The document says the first listed unit leads: the others of its list cooperate.
        head = roles_from_columns("，".join(leads), "", directory).lead_units
        if head:
            return roles_from_columns(head[0], "，".join([*leads, *cooperating]), directory)
    return roles_from_columns("，".join(leads), "，".join(cooperating), directory)


def _heading_text(block: _Block) -> str:
    """An item used as a heading: its first sentence, marker kept."""
    first_line = block.text.split("\n", 1)[0]
    end = re.search("[。；：]", first_line)
    return first_line[: end.start()] if end else first_line


def _categories(blocks: list[_Block]) -> list[list[str]]:
    """The heading path above each block."""
    paths: list[list[str]] = []
    stack: list[tuple[int, str]] = []
    for block in blocks:
        if block.kind is None:
            paths.append([])
            continue
        while stack and stack[-1][0] >= block.depth:
            stack.pop()
        paths.append([heading for _, heading in stack])
        if block.children:
            stack.append((block.depth, _heading_text(block)))
    return paths


def _tasks_with_fields(blocks: list[_Block], warnings: list[ParseWarning]) -> list[_Task]:
    """Each unit field closes a task; a unit line alone covers the unit-less items above."""
    categories = _categories(blocks)
    drafts: list[_Task] = []
    uncovered: list[_Task] = []  # unit-less items since the last task or heading
    last_index = max(i for i, block in enumerate(blocks) if block.kind is not None or i == 0)
    inherited: list[tuple[int, UnitField]] = []  # headings' unit fields, outer first
    for index, block in enumerate(blocks):
        if block.kind is None and index == 0:
            continue  # the notice, title and preamble before the first item
        while block.kind is not None and inherited and inherited[-1][0] >= block.depth:
            inherited.pop()
        if block.children and _heading_field(block) is not None:
            # "一、优化营商环境（牵头单位：市发改委）" over items naming no unit: theirs.
            uncovered = _skip(uncovered, warnings)
            inherited.append((block.depth, block.fields[0]))
            continue
        if not block.fields:
            if block.children:
                uncovered = _skip(uncovered, warnings)
                continue
            draft = _Task(block.text, block.first_line, block.last_line, categories[index], None)
            if inherited:
                draft.unit_field = inherited[-1][1]
                draft.flags.append(TaskFlag.INHERITED_UNIT)
                drafts.append(draft)
                continue
            if index == last_index and _cut_off(block, blocks):
                draft.flags.append(TaskFlag.TRUNCATED)
                drafts.append(draft)
                continue
            uncovered.append(draft)
            continue
        position = 0
        pieces: list[_Task] = []
        leading: UnitField | None = None  # "1.【牵头单位：X】内容…": the field opens the item
        for number, unit_field in enumerate(block.fields):
            piece = block.text[position : unit_field.start].strip()
            if number == 0 and uncovered and _stands_alone(block.text, unit_field):
                # A unit line after sub-items (1)…(4): it covers all of them.
                for draft in uncovered:
                    draft.unit_field = unit_field
                    drafts.append(draft)
                uncovered = []
            elif number == 0 and not _has_text(re.sub(_MARKER, "", piece)):
                leading = unit_field
            if _has_text(piece) and unit_field is not leading:
                start_offset = position  # the piece's first character (never a copy of the rest)
                while block.text[start_offset].isspace():
                    start_offset += 1
                closing = block.text[unit_field.start : unit_field.end]
                pieces.append(
                    _Task(
                        piece + closing,
                        block.line_of(start_offset),
                        block.line_of(max(unit_field.end - 1, 0)),
                        categories[index],
                        unit_field,
                        closing=closing,
                        block=block,
                        span=(start_offset, unit_field.end),
                    )
                )
            position = unit_field.end
        cut_off = index == last_index and _cut_off(block, blocks)
        line_end = block.text.find("\n", position)
        line_end = len(block.text) if line_end < 0 else line_end
        if len(block.fields) == 1 and not cut_off and _has_text(block.text[position:line_end]):
            # The item's sentence goes on after its unit field, or begins after it.
            first = block.text[: len(block.text) - len(block.text.lstrip())]
            pieces = [
                _Task(
                    block.text[len(first) : line_end].strip(),
                    block.first_line,
                    block.line_of(max(line_end - 1, 0)),
                    categories[index],
                    leading or block.fields[0],
                )
            ]
            position = line_end
        drafts.extend(_listed_parts(block, _titled(block, pieces)))
        rest = block.text[position:].strip("。；， \n")
        if _has_text(rest):
            if cut_off:
                drafts.append(
                    _Task(
                        rest,
                        block.line_of(len(block.text) - len(rest)),
                        block.last_line,
                        categories[index],
                        None,
                        [TaskFlag.TRUNCATED],
                    )
                )
            else:
                uncovered = _skip(uncovered, warnings)
                drafts.extend(_closing_paragraphs(block, position, categories[index], warnings))
        else:
            uncovered = _skip(uncovered, warnings)
    _skip(uncovered, warnings)
    drafts.sort(key=lambda draft: draft.first_line)
    return drafts


def _cut_raw(document: SourceDocument, draft: _Task, task: PlanTask) -> PlanTask:
    """A task cut from part of one line (a notice written as one line) keeps as its raw text
    that part of the line, where normalising kept the line's length (one character for one:
    ",", "（"); otherwise the whole line, as for any task."""
    if draft.block is None or draft.span is None or draft.first_line != draft.last_line:
        return task
    raw = document.raw_lines[draft.first_line - 1]
    if len(raw.strip()) != len(document.lines[draft.first_line - 1].strip()):
        return task
    indent = len(raw) - len(raw.lstrip())
    start, end = (draft.block.column_of(offset) for offset in draft.span)
    source = task.source.model_copy(update={"raw": raw[indent + start : indent + end]})
    return task.model_copy(update={"source": source})


def _task_text(draft: _Task) -> str:
    """What the task says: its item's words without the item's number and without the unit
    field closing them (the units are the task's lead and cooperating units)."""
    text = draft.text
    marker = _MARKER.match(text)
    if marker is None and draft.block is not None and draft.block.kind == "number_dot":
        # "3.2026年9月底前…": an item whose text opens with a number (see _blocks).
        marker = _DECIMAL_START.match(text)
    if marker is not None:
        text = text[marker.end() :]
    if draft.closing and text.endswith(draft.closing):
        text = text[: -len(draft.closing)].rstrip()
    return text if _has_text(text) else draft.text


def _without_safeguards(blocks: list[_Block], warnings: list[ParseWarning]) -> list[_Block]:
    """A section headed as safeguards (保障措施, 组织实施, 工作要求) in which no item names a
    unit is the notice's closing guidance, not tasks: it is left out, and one
    ``skipped_section`` warning names it and its items so the coordinator sees why."""
    kept: list[_Block] = []
    index = 0
    while index < len(blocks):
        block = blocks[index]
        end = index + 1
        while end < len(blocks) and blocks[end].depth > block.depth:
            end += 1
        section = blocks[index:end]
        if (
            block.kind is not None
            and block.children
            and _SAFEGUARDS.search(_heading_text(block))
            and not any(each.fields for each in section)
        ):
            warnings.append(_skipped_section(block, section[1:]))
            index = end
            continue
        kept.append(block)
        index += 1
    return kept


def _skipped_section(heading: _Block, items: list[_Block]) -> ParseWarning:
    titles = "、".join(_heading_text(item) for item in items if item.depth == heading.depth + 1)
    count = sum(1 for item in items if item.depth == heading.depth + 1)
    return ParseWarning(
        line=heading.first_line,
        code="skipped_section",
        message=f"{_heading_text(heading)} names no 责任单位 and sets out safeguard measures, "
        f"not tasks; its {count} items were not imported: {titles}",
    )


def _heading_field(block: _Block) -> UnitField | None:
    """The unit field of a heading that is only a title and its units: "（一）…（牵头单位：X）",
    or the title alone on its line and 牵头单位：X；责任单位：Y on the next."""
    if len(block.fields) != 1:
        return None
    unit_field = block.fields[0]
    # The field may close the title's line or stand on the lines right under it.
    title = block.text[: unit_field.start].rstrip("。 \n")
    rest = block.text[unit_field.end :].strip("。 \n")
    if "。" in title or "\n" in title or rest or len(title) > 40:
        return None
    return unit_field


def _titled(block: _Block, pieces: list[_Task]) -> list[_Task]:
    """An item holding several tasks ("（一）强化顶层设计。建立指标体系。（…）健全统计制度。
    （…）"): its title sentence is their category, not the first task's opening."""
    if len(pieces) < 2 or block.kind is None:
        return pieces
    title = _heading_text(block)
    first = pieces[0]
    if not first.text.startswith(title) or not _has_text(first.text[len(title) :]):
        return pieces
    first.text = first.text[len(title) :].lstrip("。；： ")
    for piece in pieces:
        piece.category = [*piece.category, title]
    return pieces


def _listed_parts(block: _Block, pieces: list[_Task]) -> list[_Task]:
    """An item listing entries "——…（责任单位：…）——…（责任单位：…）" is one task in parts: each
    entry, with its own units, reads after the item's preamble (its body and the sentence
    introducing the list), so no part loses what the item says of all of them."""
    if len(pieces) < 2 or not all(p.text.startswith(_LIST_ENTRY) for p in pieces[1:]):
        return pieces
    lead_in, found, entry = pieces[0].text.partition(_LIST_ENTRY)
    if not found:
        return pieces
    if not _has_text(lead_in):  # the title sentence introduces the list: it leads in too
        item = block.text[len(block.text) - len(block.text.lstrip()) :]
        marker = _MARKER.match(item)
        lead_in = item[marker.end() if marker else 0 :].partition(_LIST_ENTRY)[0]
    pieces[0].text = lead_in + entry
    for piece in pieces[1:]:
        piece.text = lead_in + piece.text.removeprefix(_LIST_ENTRY)
    for piece in pieces:
        piece.list_item = block.first_line
    return pieces


def _numbering(drafts: list[_Task]) -> list[tuple[int, int | None]]:
    """(seq, part) of each task: the parts of one listed item share its number."""
    numbers: list[tuple[int, int | None]] = []
    seq = 0
    for index, draft in enumerate(drafts):
        previous = drafts[index - 1] if index else None
        if draft.list_item is not None and previous and previous.list_item == draft.list_item:
            numbers.append((seq, (numbers[-1][1] or 0) + 1))
            continue
        seq += 1
        numbers.append((seq, 1 if draft.list_item is not None else None))
    return numbers


def _closing_paragraphs(
    block: _Block, position: int, category: list[str], warnings: list[ParseWarning]
) -> list[_Task]:
    """The paragraphs after an item's last unit field. One that sets a dated obligation for
    the group it opens with ("各有关部门……于2018年12月31日前报送…") is a task that group
    leads (flagged inferred); any other is named in a warning, not read as a task."""
    drafts: list[_Task] = []
    offset = position
    for paragraph in block.text[position:].split("\n"):
        start, offset = offset, offset + len(paragraph) + 1
        text = paragraph.strip("。；， ")
        if not _has_text(text):
            continue
        subject = _GROUP_SUBJECT.match(text)
        if subject is not None and _DATED.search(text):
            unit_field = UnitField(start, offset - 1, [subject["group"]], [])
            drafts.append(
                _Task(
                    paragraph.strip(),
                    block.line_of(start),
                    block.line_of(max(offset - 2, start)),
                    category,
                    unit_field,
                    [TaskFlag.INFERRED_LEAD],
                )
            )
        else:
            _warn_unread(warnings, block.line_of(start), text)
    return drafts


def _stands_alone(text: str, unit_field: UnitField) -> bool:
    """The unit field is a line of its own (not the end of the item's sentence)."""
    starts_line = unit_field.start == 0 or text[unit_field.start - 1] == "\n"
    ends_line = unit_field.end == len(text) or text[unit_field.end] == "\n"
    return starts_line and ends_line


def _has_text(piece: str) -> bool:
    return len(_PUNCTUATION_AND_SPACE.sub("", piece)) >= 2


def _cut_off(block: _Block, blocks: list[_Block]) -> bool:
    """The document stops inside this, its last item: no closing punctuation at its end,
    or an opening parenthesis never closed."""
    text = block.text.rstrip()
    return not text.endswith(tuple(_CLOSING)) or text.count("（") > text.count("）")


def _skip(uncovered: list[_Task], warnings: list[ParseWarning]) -> list[_Task]:
    """Items no unit field covers are not tasks: each is named in a warning."""
    for draft in uncovered:
        _warn_skipped(warnings, draft)
    return []


def _warn_skipped(warnings: list[ParseWarning], draft: _Task) -> None:
    warnings.append(
        ParseWarning(
            line=draft.first_line,
            code="skipped_item",
            message=f"“{draft.text[:30]}…” names no unit, unlike the document's tasks: "
            "not read as a task",
        )
    )


def _warn_unread(warnings: list[ParseWarning], line: int, text: str) -> None:
    warnings.append(
        ParseWarning(
            line=line,
            code="text_after_units",
            message=f"“{text[:30]}…” follows the last unit field of its item and names no "
            "unit: not read as a task",
        )
    )


def _tasks_without_fields(blocks: list[_Block]) -> list[_Task]:
    """No unit field anywhere: the items of the most used numbering style, without units."""
    categories = _categories(blocks)
    leaves = [b for b in blocks if b.kind is not None and not b.children]
    if not leaves:
        return []
    kind = Counter(b.kind for b in leaves).most_common(1)[0][0]
    drafts = []
    for index, block in enumerate(blocks):
        if block.kind == kind and not block.children:
            draft = _Task(block.text, block.first_line, block.last_line, categories[index], None)
            drafts.append(draft)
    return drafts


# ---------------------------------------------------------------- the plan


def _title(header: Sequence[str]) -> str | None:
    """The title: a notice's title line, or the first short line that is neither chrome, a
    greeting, a sentence nor an item, joined with the next when a web page broke it in two
    ("国务院办公厅关于印发“无废城市”建设" / "试点工作方案的通知")."""
    signed = _signatures(header)  # the office signing the notice is not its title
    lines = [
        line.strip()
        for index, line in enumerate(header)
        if line.strip()
        and not _is_chrome(line.strip())
        and _marker(line.strip()) is None
        and index not in signed
    ]
    candidates = [i for i, line in enumerate(lines) if notice_issuer(line) and line[0] != "《"]
    candidates += [
        i
        for i, line in enumerate(lines)
        if len(line) <= _MAX_TITLE and not line.endswith(("：", "。")) and "〔" not in line
    ]
    if not candidates:
        return None
    index = candidates[0]
    title = lines[index]
    following = lines[index + 1] if index + 1 < len(lines) else ""
    if (
        following
        and not title.endswith(_TITLE_ENDS)
        and len(following) <= _MAX_TITLE
        and not following.endswith(("：", "。"))
        and "〔" not in following
    ):
        title += following
    return title


def _plan(document: SourceDocument, header: Sequence[str], table_years: Sequence[int] = ()) -> Plan:
    """The plan's metadata. ``table_years``: the years of a task table's 时限 column, which
    carry a plan whose title names no year on to the last of them."""
    lines = document.lines
    title = _title_field(header) or _title(header) or _title(lines[:10])
    title = title or PurePath(document.file).stem
    issue_date = find_issue_date(lines) or _run_in_signature_date(lines)
    number = find_document_number(lines)
    fallback = issue_date.year if issue_date else None
    if fallback is None and number:
        found = re.search(r"〔(\d{4})〕", number)
        fallback = int(found.group(1)) if found else None
    if fallback is None:
        for line in lines:
            found = YEAR.search(line)
            if found:
                fallback = int(found.group(1))
                break
    period = find_plan_period(title, fallback)
    if period is None:
        raise document.error(
            None, "cannot tell which year the plan is for: no year in its title or text"
        )
    if table_years and find_plan_period(title) is None:
        period = (period[0], max(period[0], *table_years))
    issuer = next((notice_issuer(line) for line in header if notice_issuer(line)), None)
    if issuer is None:  # "国务院关于…": the signature above the date names the office
        signed = sorted(_signatures(lines))
        issuer = lines[signed[-1]].strip() if signed else None
    if issuer is None:  # a web page's "名称：<title> 文号：<number>": the 文号's office
        issuer = issuer_from_own_number(lines, title)
    return Plan(
        id=plan_id_from_file(document.file),
        title=title,
        issuer=issuer,
        document_number=number,
        issue_date=issue_date,
        period_start=period[0],
        period_end=period[1],
        source_file=document.file,
        format=FORMAT,
    )


def _title_field(header: Sequence[str]) -> str | None:
    """The title a web page's metadata block gives the plan ("名称：宣城市“十三五”政务信息化
    发展规划 文号：宣政办秘〔2016〕200号"): the page's own name for it, above its chrome."""
    for line in header:
        found = _TITLE_FIELD.match(line.strip())
        if found and found["title"].strip():
            return found["title"].strip()
    return None


def _run_in_signature_date(lines: Sequence[str]) -> date | None:
    """The date of a signature run into the notice's last line ("…目标任务。东营市人民政府办公室
    2017年6月8日扫一扫…"): the notice's own date. A web page's 发布时间 is when it was posted,
    which may be years later (宣城's 2016 plan was posted in 2018), so it never dates a plan."""
    for line in reversed(lines):
        signatures = list(_RUN_IN_SIGNATURE.finditer(line))
        if signatures:
            found = re.search(r"(\d{4})年(\d{1,2})月(\d{1,2})日", signatures[-1].group(0))
            assert found is not None
            day = calendar_date(found[1], found[2], found[3])  # None: no calendar has it
            if day is not None:
                return day
    return None
