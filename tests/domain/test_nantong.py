"""The Nantong plan: a pinyin-polluted Traditional text whose schedule is a pipe table,
read by the general reader.

The document once had a family parser of its own (pipe-table); the general reader reads
its table the same way (domain.parsers.tables), with the same tasks, texts, units,
milestones, sources and warnings. The small tables go through the whole path a user's file
takes (detection included).
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from domain.errors import DocumentError
from domain.parsers import detect_parser, general, parse_document, parse_file, read_document
from domain.parsers.common import SourceDocument
from domain.parsers.tables import CERTAIN_TABLE_SCORE, find_pipe_table
from domain.plan import ParsedPlan, Recurrence, TaskFlag
from domain.text import to_simplified
from tests.support.golden import EXAMPLES, assert_matches_golden

NANTONG = "nantong-2017-gov-info-systems-integration.txt"
OTHER_EXAMPLES = [
    "bozhou-2018-internet-plus-gov-services.txt",
    "chuzhou-2018-egov-key-tasks.txt",
    "dongying-2017-egov-key-work.txt",
    "xuancheng-2016-2020-gov-informatization-plan.txt",
]
PINYIN = re.compile(r"[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]|[(（][a-z]+[)）]")
REPAIRED_ROWS = {"4", "5", "6", "8", "15", "17"}


def _document(name: str) -> SourceDocument:
    return read_document(name, (EXAMPLES / name).read_bytes())


@pytest.fixture(scope="module")
def nantong() -> ParsedPlan:
    return parse_file(EXAMPLES / NANTONG)


def test_the_21_table_rows_are_the_tasks(nantong: ParsedPlan) -> None:
    """Only the schedule table's rows become tasks, numbered by its 序号; the narrative is not."""
    assert [task.id for task in nantong.tasks] == [str(seq) for seq in range(1, 22)]
    assert [task.seq for task in nantong.tasks] == list(range(1, 22))
    assert nantong.tasks[0].text == (
        "开展政务信息系统整合共享专项检查，完成全市各部门政务信息系统建设应用情况自查。"
    )
    assert nantong.tasks[0].source.lines == (61, 65)
    assert not any(task.text.startswith("摸清全市") for task in nantong.tasks)


def test_text_is_simplified_without_pinyin(nantong: ParsedPlan) -> None:
    """Every task's text and units are Simplified characters with no pinyin annotation left."""
    for task in nantong.tasks:
        for text in [task.text, *task.lead_units, *task.cooperating_units]:
            assert not PINYIN.search(text), (task.id, text)
            assert to_simplified(text) == text, (task.id, text)
    assert nantong.tasks[6].cooperating_units == ["市政府各部门", "各县（市）区信息中心"]


def test_no_pinyin_anywhere_in_the_normalised_document() -> None:
    """Normalisation leaves no tone-marked pinyin in any line, including mangled ones."""
    for number, line in enumerate(_document(NANTONG).lines, start=1):
        assert not PINYIN.search(line), (number, line)


def test_row_4_lost_its_cooperating_cell_and_is_repaired(nantong: ParsedPlan) -> None:
    """Row 4's deadline sat in the 协同 column: no cooperating unit, due 2017-11-15, flagged."""
    row = nantong.tasks[3]
    assert row.lead_units == ["市政府各部门"]
    assert row.cooperating_units == []
    assert [milestone.due for milestone in row.milestones] == [date(2017, 11, 15)]
    assert row.milestones[0].raw == "2017年11月15日前"
    assert TaskFlag.REPAIRED_ROW in row.flags
    assert row.source.lines == (76, 80)  # the padding "|" line belongs to the row


def test_every_misaligned_row_is_repaired_and_warned(nantong: ParsedPlan) -> None:
    """Exactly the rows followed by a lone "|" are repaired, each with one warning."""
    repaired = {task.id for task in nantong.tasks if TaskFlag.REPAIRED_ROW in task.flags}
    assert repaired == REPAIRED_ROWS
    warned = {w.task_id for w in nantong.warnings if w.code == "repaired_row"}
    assert warned == REPAIRED_ROWS
    assert {warning.code for warning in nantong.warnings} == {"repaired_row"}
    assert next(w.line for w in nantong.warnings if w.task_id == "4") == 76


def test_roles_come_from_the_explicit_columns(nantong: ParsedPlan) -> None:
    """牵头 and 协同 columns give roles as written: no inferred lead, aliases resolved."""
    assert not any(TaskFlag.INFERRED_LEAD in task.flags for task in nantong.tasks)
    assert nantong.tasks[0].lead_units == ["市大数据管理局"]
    assert nantong.tasks[0].cooperating_units == [
        "市经济和信息化委",
        "市财政局",
        "市审计局",
        "市网信办",
    ]
    assert nantong.tasks[16].lead_units == ["市经济和信息化委", "市公安局", "市网信办"]


def test_row_15_lost_the_bar_between_its_lead_and_cooperating_cells(nantong: ParsedPlan) -> None:
    """ "市大數據管理局 市財政局" in a repaired row is 牵头 then 协同, and the warning says so."""
    row = nantong.tasks[14]
    assert (row.lead_units, row.cooperating_units) == (["市大数据管理局"], ["市财政局"])
    assert TaskFlag.REPAIRED_ROW in row.flags
    assert row.source.lines == (131, 135)  # the padding "|" line still belongs to the row
    message = next(w.message for w in nantong.warnings if w.task_id == "15")
    assert "lost the “|” between its 牵头单位 and 协同单位 cells" in message
    assert "协同单位 市财政局" in message


def test_repaired_row_warnings_name_the_missing_cell(nantong: ParsedPlan) -> None:
    """Rows whose one unit cell is read as the lead say their 协同单位 cell is missing."""
    messages = {w.task_id: w.message for w in nantong.warnings if w.code == "repaired_row"}
    for task_id in REPAIRED_ROWS - {"15"}:
        assert messages[task_id].startswith(f"row {task_id} lost its 协同单位 cell:"), task_id
        assert "read as the 牵头单位" in messages[task_id]


def test_yearly_reports_recur_without_a_milestone(nantong: ParsedPlan) -> None:
    """Rows 20 and 21 ("每年1月底前", "每年2月底前") recur every year and have no milestone."""
    for task, month in [(nantong.tasks[19], 1), (nantong.tasks[20], 2)]:
        assert task.recurrence == Recurrence(
            frequency="yearly", month=month, day=None, raw=f"每年{month}月底前"
        )
        assert task.milestones == []
        assert not task.ongoing


def test_dated_rows_have_one_explicit_milestone(nantong: ParsedPlan) -> None:
    """Rows 1–19 each carry the 序时进度 date as written, never an implicit default."""
    for task in nantong.tasks[:19]:
        assert len(task.milestones) == 1, task.id
        assert task.milestones[0].flags == [], task.id
    assert nantong.tasks[14].milestones[0].due == date(2017, 11, 30)
    assert nantong.tasks[10].milestones[0].due == date(2018, 12, 31)


def test_plan_metadata(nantong: ParsedPlan) -> None:
    """Title, issuer, signature date and the 2017–2018 period are read from the document."""
    plan = nantong.plan
    assert plan.id == "nantong-2017-gov-info-systems-integration"
    assert plan.title == "南通市政务信息系统整合共享工作实施方案"
    assert plan.issuer == "南通市人民政府办公室"
    assert plan.issue_date == date(2017, 11, 22)
    assert plan.document_number is None  # the document cites others' 文号 but states none
    assert (plan.period_start, plan.period_end) == (2017, 2018)
    assert plan.format == "general"
    assert plan.source_file == NANTONG


def test_matches_golden(nantong: ParsedPlan) -> None:
    """The whole extraction, checked row by row against the document, does not drift."""
    assert_matches_golden(nantong, "nantong")


def test_parse_file_detects_the_pipe_table() -> None:
    """The entry point picks the general reader for the Nantong document, as certain of its
    table as any table reader, and gets the 21 rows."""
    document = _document(NANTONG)
    assert detect_parser(document) is general.PARSER
    assert general.PARSER.score(document) == CERTAIN_TABLE_SCORE
    parsed = parse_file(EXAMPLES / NANTONG)
    assert parsed.plan.format == "general"
    assert len(parsed.tasks) == 21


@pytest.mark.parametrize("name", OTHER_EXAMPLES)
def test_does_not_claim_the_other_examples(name: str) -> None:
    """The other example plans have no pipe table: none is found, and the general reader is
    never as certain of them as of a table."""
    document = _document(name)
    assert find_pipe_table(document) is None
    assert general.PARSER.score(document) < CERTAIN_TABLE_SCORE


def _parse(text: str) -> ParsedPlan:
    return parse_document("pipes.txt", text.encode("utf-8"))


def test_one_row_per_line_and_wrapped_cells() -> None:
    """Rows written on one line each, and a cell wrapped over two lines, read the same way."""
    text = (
        "2018年数据共享工作计划\n"
        "序号 | 任务 | 牵头单位 | 配合单位 | 时限 |\n"
        "1 | 建设共享平台 | 市发改委 | 市财政局、市公安局 | 2018年6月底前 |\n"
        "2 | 完善目录\n"
        "体系 | 市經信委 | | 年底前 |\n"
    )
    parsed = _parse(text)
    assert [task.text for task in parsed.tasks] == ["建设共享平台", "完善目录体系"]
    assert parsed.tasks[0].lead_units == ["市发展改革委"]
    assert parsed.tasks[1].lead_units == ["市经济和信息化委"]
    assert parsed.tasks[1].source.lines == (4, 5)
    assert parsed.tasks[1].milestones[0].due == date(2018, 12, 31)
    assert (parsed.plan.period_start, parsed.plan.period_end) == (2018, 2018)
    assert parsed.warnings == []


def test_row_that_cannot_be_aligned_is_a_located_error() -> None:
    """A row with a cell too many (row 2 never starts) names the line where it went wrong."""
    text = (
        "2018年计划\n"
        "序号 |\n任务 |\n牵头单位 |\n配合单位 |\n时限 |\n"
        "1 |\n建设共享平台 |\n市发改委 |\n市财政局 |\n2018年6月底前 |\n多余 |\n"
        "2 |\n完善目录 |\n市经信委 |\n市公安局 |\n年底前 |\n"
    )
    with pytest.raises(DocumentError, match="expected row 2 to start here") as raised:
        _parse(text)
    assert raised.value.line == 12


def test_row_missing_a_unit_cell_without_a_date_shift_is_a_located_error() -> None:
    """A short row whose cooperating cell is not a date cannot be realigned: error at its line."""
    text = (
        "2018年计划\n"
        "序号 |\n任务 |\n牵头单位 |\n配合单位 |\n时限 |\n"
        "1 |\n建设共享平台 |\n市发改委 |\n市财政局 |\n"
        "2 |\n完善目录 |\n市经信委 |\n市公安局 |\n年底前 |\n"
    )
    with pytest.raises(DocumentError, match="row 1 of the table has 4 cells") as raised:
        _parse(text)
    assert raised.value.line == 7


def test_a_row_missing_its_lead_too_is_warned_as_such() -> None:
    """A repaired row whose lead cell is empty as well says both unit cells are missing."""
    text = (
        "2018年计划\n"
        "序号 |\n任务 |\n牵头单位 |\n协同单位 |\n时限 |\n"
        "1 |\n建设共享平台 |\n|\n2018年6月底前 |\n|\n"
    )
    parsed = _parse(text)
    repaired = [w.message for w in parsed.warnings if w.code == "repaired_row"]
    assert repaired == [
        "row 1 lost its 牵头单位 and 协同单位 cells: its deadline 2018年6月底前 sat in the "
        "协同单位 column; no unit is named, assign the 牵头单位"
    ]
    assert parsed.tasks[0].milestones[0].due == date(2018, 6, 30)
    assert TaskFlag.NO_UNIT in parsed.tasks[0].flags


def test_space_separated_units_in_an_intact_row_are_all_leads() -> None:
    """Only a repaired row's space reads as a lost "|": elsewhere both units lead."""
    text = (
        "2018年计划\n"
        "序号 |\n任务 |\n牵头单位 |\n协同单位 |\n时限 |\n"
        "1 |\n建设共享平台 |\n市大数据管理局 市财政局 |\n市公安局 |\n2018年6月底前 |\n"
    )
    parsed = _parse(text)
    assert parsed.tasks[0].lead_units == ["市大数据管理局", "市财政局"]
    assert parsed.tasks[0].cooperating_units == ["市公安局"]
    assert parsed.warnings == []


def test_a_group_told_to_lead_separately_is_warned() -> None:
    """ "市直相关部门分别牵头" names no units to split into: one task and a warning."""
    text = (
        "2018年计划\n"
        "序号 |\n任务 |\n牵头单位 |\n协同单位 |\n时限 |\n"
        "1 |\n建设共享平台 |\n市直相关部门分别牵头 |\n市公安局 |\n2018年6月底前 |\n"
    )
    parsed = _parse(text)
    assert [task.id for task in parsed.tasks] == ["1"]
    assert TaskFlag.SPLIT_PER_LEAD not in parsed.tasks[0].flags
    assert [w.code for w in parsed.warnings] == ["unsplit_group_lead"]


def test_a_table_that_cannot_be_aligned_leaves_the_text_to_be_read() -> None:
    """A row with a cell too many refuses the table; the document's numbered items with
    unit fields are then read as text (as when a family reader refused it), and the table's
    error is raised only when the text holds nothing to read either."""
    text = (
        "2018年计划\n"
        "一、建设共享平台。（牵头单位：市发改委）\n"
        "序号 |\n任务 |\n牵头单位 |\n配合单位 |\n时限 |\n"
        "1 |\n建设共享平台 |\n市发改委 |\n市财政局 |\n2018年6月底前 |\n多余 |\n"
    )
    parsed = _parse(text)
    assert parsed.tasks[0].text == "建设共享平台。"
    assert parsed.tasks[0].lead_units == ["市发展改革委"]
    assert parsed.tasks[0].source.lines == (2, 2)
