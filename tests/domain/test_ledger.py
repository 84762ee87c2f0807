"""Ledgers (台账) as coordinators keep them: CSV and XLSX sheets, one task per row."""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO
from pathlib import Path

import openpyxl
import pytest

from domain.errors import DocumentError
from domain.parsers import docx_table, parse_document, parse_file, read_document
from domain.parsers.common import SourceDocument
from domain.parsers.ledger import PARSER, Column, header_column, match_header
from domain.plan import ParsedPlan, Recurrence, TaskFlag
from domain.units import load_directory
from tests.support.golden import EXAMPLES
from tests.support.ledgers import LEDGER_HEADER, LEDGER_TITLE, ledger_rows, write_ledger_csv

EXAMPLE_PLANS = sorted(path.name for path in EXAMPLES.glob("*.txt"))


def _csv(text: str, name: str = "台账.csv") -> ParsedPlan:
    return PARSER.parse(SourceDocument.from_text(name, text), load_directory())


def _xlsx(rows: list[list[object]], merged: tuple[str, ...] = ()) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "重点任务"
    for row in rows:
        sheet.append(row)
    for cells in merged:
        sheet.merge_cells(cells)
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("cell", "column"),
    [
        ("任务", Column.TASK),
        ("工作任务", Column.TASK),
        ("任务内容", Column.TASK),
        ("主要任务", Column.TASK),
        ("牵头单位", Column.LEAD),
        ("牵头部门", Column.LEAD),
        ("牵头责任单位", Column.LEAD),
        ("责任单位", Column.UNITS),
        ("配合单位", Column.COOPERATING),
        ("协同单位", Column.COOPERATING),
        ("配合部门", Column.COOPERATING),
        ("时限", Column.DEADLINE),
        ("完成时限", Column.DEADLINE),
        ("时间节点", Column.DEADLINE),
        ("序时进度", Column.DEADLINE),
        ("任务完成时限", Column.DEADLINE),
        ("完成时限（年月）", Column.DEADLINE),
        ("类别", Column.CATEGORY),
        ("分类", Column.CATEGORY),
        ("序号", Column.SEQ),
        ("备注", None),
        ("市发改委牵头负责推进政务信息资源共享", None),
    ],
)
def test_header_names_match_loosely(cell: str, column: Column | None) -> None:
    """The names offices give their columns map to one meaning; sentences never match."""
    assert header_column(cell) == column


def test_a_header_needs_task_and_unit_columns() -> None:
    """Task text and a unit column make a header; a row of other words does not."""
    assert match_header(["序号", "任务", "牵头单位", "配合单位", "时限"]) is not None
    assert match_header(["序号", "任务", "时限", "备注"]) is None
    assert match_header(["1", "建设平台", "市发改委", "市财政局", "2018年6月底前"]) is None


LOOSE_CSV = """\
2018年政务信息化重点工作台账,,,,,
,,,,,
序号,类别,任务内容,牵头部门,协同单位,完成时限
1,基础设施,"建设全市统一的
数据共享交换平台",市发改委,"市财政局、市公安局",2018-06-30
2,,完善政务信息资源目录,市大数据管理局 市经信委,,2018.09
3,应用,推进一网通办,市人社局,市政府各部门,6月底前
4,,编制年度报告,市大数据管理局,,每年1月底前
"""


def test_csv_with_loose_headers_and_a_title_row() -> None:
    """Title row above the header, renamed columns, wrapped cells and every deadline form."""
    parsed = _csv(LOOSE_CSV)
    assert parsed.plan.title == "2018年政务信息化重点工作台账"
    assert (parsed.plan.period_start, parsed.plan.period_end) == (2018, 2018)
    assert parsed.plan.format == "ledger"
    first, second, third, fourth = parsed.tasks
    assert first.text == "建设全市统一的数据共享交换平台"
    assert first.lead_units == ["市发展改革委"]
    assert first.cooperating_units == ["市财政局", "市公安局"]
    assert first.milestones[0].due == date(2018, 6, 30)
    assert first.source.lines == (4, 5)  # the quoted cell spans two CSV lines
    assert first.category == ["基础设施"]
    assert second.category == ["基础设施"]  # a merged (empty) category cell repeats
    assert second.lead_units == ["市大数据管理局", "市经济和信息化委"]
    assert second.milestones[0].due == date(2018, 9, 30)
    assert third.milestones[0].due == date(2018, 6, 30)
    assert third.category == ["应用"]
    assert fourth.recurrence == Recurrence(frequency="yearly", month=1, raw="每年1月底前")
    assert fourth.milestones == []
    assert not any(TaskFlag.INFERRED_LEAD in task.flags for task in parsed.tasks)
    assert parsed.warnings == []


def test_one_unit_column_means_the_first_unit_leads() -> None:
    """A 责任单位 column with no 配合 column: first unit leads, the rest cooperate, inferred."""
    parsed = _csv(
        "序号,工作任务,责任单位,时间节点\n1,推进数据开放,市大数据管理局、市财政局,2019年底前\n"
    )
    task = parsed.tasks[0]
    assert task.lead_units == ["市大数据管理局"]
    assert task.cooperating_units == ["市财政局"]
    assert TaskFlag.INFERRED_LEAD in task.flags
    assert (parsed.plan.period_start, parsed.plan.period_end) == (2019, 2019)


def test_responsibility_column_beside_a_cooperating_column_is_the_lead() -> None:
    """责任单位 next to 配合单位 is an explicit lead column: nothing inferred."""
    parsed = _csv(
        "序号,任务,责任单位,配合单位,时限\n1,推进数据开放,市发改委、市财政局,市公安局,2019年底前\n"
    )
    task = parsed.tasks[0]
    assert task.lead_units == ["市发展改革委", "市财政局"]
    assert task.cooperating_units == ["市公安局"]
    assert TaskFlag.INFERRED_LEAD not in task.flags


def test_plan_year_from_the_latest_deadline_when_the_title_has_none() -> None:
    """No year in the title: the latest year written in the deadlines is the plan year."""
    parsed = _csv(
        "重点工作台账,,,\n序号,任务,牵头单位,时限\n"
        "1,甲,市发改委,2017年12月底前\n2,乙,市财政局,2018年3月底前\n3,丙,市公安局,年底前\n"
    )
    assert (parsed.plan.period_start, parsed.plan.period_end) == (2018, 2018)
    assert parsed.tasks[2].milestones[0].due == date(2018, 12, 31)


def test_no_year_anywhere_is_a_located_error() -> None:
    """A ledger that never names a year cannot be dated: refused at the header line."""
    with pytest.raises(DocumentError, match="which year") as raised:
        _csv("台账,,\n序号,任务,牵头单位\n1,甲,市发改委\n", name="ledger.csv")
    assert raised.value.line == 2


def test_gb18030_csv_with_traditional_characters() -> None:
    """A GBK/GB18030 export in Traditional characters reads as Simplified text."""
    text = (
        "2018年工作台賬,,,,\n"
        "序號,工作任務,牽頭單位,配合單位,完成時限\n"
        "1,建設數據共享平臺,市發改委,市財政局,2018年6月底前\n"
    )
    document = read_document("ledger.csv", text.encode("gb18030"))
    parsed = PARSER.parse(document, load_directory())
    assert parsed.plan.title == "2018年工作台账"
    assert parsed.tasks[0].text == "建设数据共享平台"
    assert parsed.tasks[0].lead_units == ["市发展改革委"]
    assert parsed.tasks[0].source.raw.startswith("1,建設數據共享平臺")


def test_xlsx_ledger_with_dates_merged_title_and_categories() -> None:
    """An XLSX sheet: merged title, header on row 3, Excel dates, provenance by row number."""
    data = _xlsx(
        [
            ["2018年数字政府建设任务台账", None, None, None, None, None],
            [None] * 6,
            ["序号", "分类", "主要任务", "牵头单位", "配合单位", "时限"],
            [1, "平台", "建设政务云", "市发改委", "市财政局", datetime(2018, 6, 30)],
            [2, None, "建设数据中台", "市大数据管理局", None, "2018年9月底前"],
            [3, "服务", "一网通办", "市行政审批局", "各县区政府", None],
        ],
        merged=("A1:F1", "B4:B5"),
    )
    parsed = PARSER.parse(read_document("台账.xlsx", data), load_directory())
    assert parsed.plan.title == "2018年数字政府建设任务台账"
    assert [task.id for task in parsed.tasks] == ["1", "2", "3"]
    first, second, third = parsed.tasks
    assert first.milestones[0].due == date(2018, 6, 30)
    assert first.source.lines == (4, 4)
    assert first.source.raw == "1 | 平台 | 建设政务云 | 市发改委 | 市财政局 | 2018年6月30日"
    assert second.category == ["平台"]
    assert second.cooperating_units == []
    assert third.milestones[0].due == date(2018, 12, 31)  # no date: the plan year end
    assert TaskFlag.IMPLICIT_DEADLINE in third.flags


def test_parse_document_reads_xlsx_and_csv_ledgers(tmp_path: Path) -> None:
    """Through the entry point, XLSX bytes and a CSV file are both detected as ledgers."""
    xlsx = _xlsx(
        [["序号", "任务", "牵头单位", "时限"], [1, "建设政务云", "市发改委", "2018年底前"]]
    )
    assert parse_document("ledger.xlsx", xlsx).plan.format == "ledger"
    csv_path = write_ledger_csv(tmp_path / "ledger.csv", 3)
    assert parse_file(csv_path).plan.format == "ledger"


def test_pre_numbered_blank_rows_are_not_tasks() -> None:
    """Rows of a template holding only their 序号 are blank, not tasks and not errors."""
    parsed = _csv("2018年台账,,\n序号,任务,牵头单位\n1,建设政务云,市发改委\n2,,\n3,,\n")
    assert [task.id for task in parsed.tasks] == ["1"]


def test_row_with_too_many_cells_is_a_located_error() -> None:
    """A CSV row with a cell more than the header names its line."""
    text = "序号,任务,牵头单位,时限\n1,甲,市发改委,2018年底前\n2,乙,市财政局,2018年底前,多余\n"
    with pytest.raises(DocumentError, match="line 3 has 5 cells") as raised:
        _csv(text)
    assert raised.value.line == 3


def test_row_with_too_few_cells_is_a_located_error() -> None:
    """A CSV row missing cells names its line instead of shifting columns."""
    with pytest.raises(DocumentError, match="line 2 has 3 cells") as raised:
        _csv("序号,任务,牵头单位,时限\n1,甲,市发改委\n")
    assert raised.value.line == 2


def test_xlsx_row_without_task_text_is_a_located_error() -> None:
    """An XLSX row with units and a date but no task names its sheet row."""
    data = _xlsx(
        [
            ["序号", "任务", "牵头单位", "时限"],
            [1, "建设政务云", "市发改委", "2018年底前"],
            [2, None, "市财政局", "2018年底前"],
        ]
    )
    with pytest.raises(DocumentError, match="row 3 of sheet 重点任务 has no task text") as raised:
        PARSER.parse(read_document("台账.xlsx", data), load_directory())
    assert raised.value.line == 3


def test_no_recognisable_header_is_not_a_ledger() -> None:
    """A CSV or XLSX without a task header scores 0: the entry point finds no task table."""
    data = "姓名,电话\n张三,123\n".encode()
    assert PARSER.score(read_document("contacts.csv", data)) == 0
    with pytest.raises(DocumentError, match="no task list recognised: found no numbered item"):
        parse_document("contacts.csv", data)
    workbook = _xlsx([["姓名", "电话"], ["张三", "123"]])
    assert PARSER.score(read_document("contacts.xlsx", workbook)) == 0
    with pytest.raises(DocumentError, match="no task list recognised: found no table with a task"):
        parse_document("contacts.xlsx", workbook)


def test_split_per_lead_heading_rows_and_renumbering() -> None:
    """ "分别牵头" gives a task per lead; heading rows set categories; duplicate 序号 renumber."""
    parsed = _csv(
        "序号,任务,责任单位,时限\n"
        "一、基础设施,,,\n"
        "1,建设政务云,市发改委、市财政局分别牵头，市公安局,2018年底前\n"
        "二、应用服务,,,\n"
        "1,推进一网通办,市行政审批局,2018年6月底前\n"
    )
    assert [task.id for task in parsed.tasks] == ["1-1", "1-2", "2"]
    split = parsed.tasks[:2]
    assert [task.lead_units for task in split] == [["市发展改革委"], ["市财政局"]]
    assert all(task.cooperating_units == ["市公安局"] for task in split)
    assert all(TaskFlag.SPLIT_PER_LEAD in task.flags for task in split)
    assert split[0].category == ["一、基础设施"]
    assert parsed.tasks[2].category == ["二、应用服务"]
    assert [warning.code for warning in parsed.warnings] == ["renumbered"]


def test_empty_unit_and_dateless_deadline_cells_are_warned() -> None:
    """A row without a unit and a 时限 cell naming no date each get a located warning."""
    parsed = _csv("2018年台账,,,\n序号,任务,牵头单位,时限\n1,建设政务云,,按上级要求\n")
    codes = {warning.code for warning in parsed.warnings}
    assert codes == {"no_unit", "no_date_in_deadline_cell"}
    assert all(warning.line == 3 and warning.task_id == "1" for warning in parsed.warnings)
    assert TaskFlag.NO_UNIT in parsed.tasks[0].flags


def test_generated_ledger_of_5000_rows(tmp_path: Path) -> None:
    """The benchmark's generated ledger parses completely, one task per row, in order."""
    parsed = parse_file(write_ledger_csv(tmp_path / "big.csv", 5000))
    assert parsed.plan.title == LEDGER_TITLE
    assert len(parsed.tasks) == 5000
    assert parsed.tasks[-1].id == "5000"
    assert parsed.tasks[-1].source.lines == (5002, 5002)
    assert parsed.warnings == []
    assert sum(task.recurrence is not None for task in parsed.tasks) == 5000 // 6


@pytest.mark.parametrize("name", EXAMPLE_PLANS)
def test_does_not_claim_the_example_plans(name: str) -> None:
    """Narrative and pasted-table plans are not ledgers: score 0."""
    assert PARSER.score(read_document(name, (EXAMPLES / name).read_bytes())) == 0


def test_docx_parser_leaves_workbooks_alone() -> None:
    """An XLSX ledger is the ledger parser's, never the DOCX parser's."""
    data = _xlsx(
        [["序号", "任务", "牵头单位", "时限"], [1, "建设政务云", "市发改委", "2018年底前"]]
    )
    assert docx_table.PARSER.score(read_document("ledger.xlsx", data)) == 0


def _workbook(sheets: dict[str, list[list[object]]], merged: tuple[str, ...] = ()) -> bytes:
    """A workbook with the given sheets in order; ``merged`` ranges apply to the first."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    for cells in merged:
        workbook.worksheets[0].merge_cells(cells)
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


TASK_HEADER: list[object] = ["序号", "任务", "牵头单位", "配合单位", "时限"]


def test_vertically_merged_deadline_and_lead_cells_fill_down() -> None:
    """A 时限 merged over E3:E4 and a 牵头单位 merged over C3:C4 apply to both rows."""
    data = _xlsx(
        [
            ["2018年台账", None, None, None, None],
            TASK_HEADER,
            [1, "建设政务云", "市发改委", "市财政局", "2018年6月底前"],
            [2, "建设数据中台", None, "市公安局", None],
        ],
        merged=("C3:C4", "E3:E4"),
    )
    parsed = PARSER.parse(read_document("台账.xlsx", data), load_directory())
    second = parsed.tasks[1]
    assert second.lead_units == ["市发展改革委"]
    assert second.milestones[0].due == date(2018, 6, 30)
    assert TaskFlag.IMPLICIT_DEADLINE not in second.flags
    assert parsed.warnings == []


def test_every_sheet_with_a_task_header_is_read() -> None:
    """A second task sheet adds its rows, in order, each line naming its sheet."""
    data = _workbook(
        {
            "一季度": [["2018年台账"], TASK_HEADER, [1, "建设政务云", "市发改委", None, "3月底前"]],
            "二季度": [TASK_HEADER, [2, "建设数据中台", "市财政局", None, "6月底前"]],
        }
    )
    parsed = PARSER.parse(read_document("台账.xlsx", data), load_directory())
    assert [task.id for task in parsed.tasks] == ["1", "2"]
    assert parsed.tasks[1].lead_units == ["市财政局"]
    assert parsed.tasks[1].milestones[0].due == date(2018, 6, 30)
    assert parsed.tasks[1].source.lines == (2, 2)
    assert parsed.tasks[1].source.raw.startswith("[sheet 二季度] 2 | 建设数据中台")
    assert parsed.warnings == []


def test_sheets_numbered_separately_are_renumbered_in_order() -> None:
    """Two sheets both starting at 序号 1 give ids 1, 2, 3 in workbook order, warned."""
    data = _workbook(
        {
            "甲": [["2018年台账"], TASK_HEADER, [1, "甲一", "市发改委", None, None]],
            "乙": [TASK_HEADER, [1, "乙一", "市财政局", None, None], [2, "乙二", "市公安局"]],
        }
    )
    parsed = PARSER.parse(read_document("台账.xlsx", data), load_directory())
    assert [(task.id, task.text) for task in parsed.tasks] == [
        ("1", "甲一"),
        ("2", "乙一"),
        ("3", "乙二"),
    ]
    assert [warning.code for warning in parsed.warnings] == ["renumbered"]


def test_sheets_that_cannot_be_combined_are_named_in_warnings() -> None:
    """Another year's sheet, a sheet without a unit column and a notes sheet: skipped_sheet."""
    data = _workbook(
        {
            "2018": [["2018年台账"], TASK_HEADER, [1, "建设政务云", "市发改委", None, None]],
            "2019": [["2019年台账"], TASK_HEADER, [1, "推进一网通办", "市财政局", None, None]],
            "草稿": [["序号", "任务", "时限"], [1, "待定", "年底前"]],
            "说明": [["本表由市信息办汇总"]],
            "Sheet4": [],
        }
    )
    parsed = PARSER.parse(read_document("台账.xlsx", data), load_directory())
    assert [task.text for task in parsed.tasks] == ["建设政务云"]
    skipped = [w.message for w in parsed.warnings if w.code == "skipped_sheet"]
    assert len(skipped) == 3
    assert skipped[0].startswith("sheet 2019 is titled “2019年台账”, a different period (2019)")
    assert skipped[1].startswith("sheet 草稿 was not read: the header at row 1 of sheet 草稿")
    assert "has no unit column" in skipped[1]
    assert skipped[2].startswith("sheet 说明 was not read: it has no task header")


def test_generated_xlsx_ledger_of_5000_rows_parses_whole() -> None:
    """A 5,000-row workbook read with merged ranges yields every row, numbered in order
    (its speed is measured by bench/parse_bench.py, not asserted here)."""
    data = _xlsx([[LEDGER_TITLE, None, None, None, None], list(LEDGER_HEADER)])
    workbook = openpyxl.load_workbook(BytesIO(data))
    for row in ledger_rows(5000):
        workbook.active.append(list(row))
    buffer = BytesIO()
    workbook.save(buffer)
    parsed = parse_document("big.xlsx", buffer.getvalue())
    assert len(parsed.tasks) == 5000
    assert [task.seq for task in parsed.tasks[:3]] == [1, 2, 3]


def test_a_group_told_to_lead_separately_stays_one_task_with_a_warning() -> None:
    """ "市直相关部门分别牵头" names no units to split into: no SPLIT_PER_LEAD, a warning."""
    parsed = _csv(
        "2018年台账,,,\n序号,任务,责任单位,时限\n1,建设政务云,市直相关部门分别牵头,年底前\n"
    )
    task = parsed.tasks[0]
    assert task.id == "1"
    assert task.lead_units == ["市直相关部门"]
    assert TaskFlag.SPLIT_PER_LEAD not in task.flags
    assert [(w.code, w.task_id, w.line) for w in parsed.warnings] == [
        ("unsplit_group_lead", "1", 3)
    ]


def test_per_lead_cell_with_a_cooperating_column() -> None:
    """ "A、B分别牵头，C配合" beside a 配合 column: each lead with C and the column's units."""
    parsed = _csv(
        "2018年台账,,,,\n序号,任务,牵头单位,配合单位,时限\n"
        "1,建设政务云,市发改委、市财政局分别牵头，市公安局配合,市审计局,年底前\n"
    )
    assert [task.lead_units for task in parsed.tasks] == [["市发展改革委"], ["市财政局"]]
    assert all(task.cooperating_units == ["市公安局", "市审计局"] for task in parsed.tasks)


def test_missing_unit_column_names_the_header_found() -> None:
    """A header without 牵头/责任 column is reported with its line and what it lacks."""
    data = "2018年台账,,\n序号,任务,时限\n1,建设政务云,年底前\n".encode()
    with pytest.raises(DocumentError) as raised:
        parse_document("ledger.csv", data)
    assert raised.value.line == 2
    assert raised.value.message.startswith(
        "the header at line 2 (序号 | 任务 | 时限) has no unit column (牵头单位 or 责任单位)"
    )
    workbook = _xlsx([["序号", "工作任务", "完成时限"], [1, "建设政务云", "年底前"]])
    with pytest.raises(DocumentError, match=r"row 1 of sheet 重点任务 .* has no unit column"):
        parse_document("ledger.xlsx", workbook)


def test_header_only_ledger_says_it_has_no_rows() -> None:
    """A CSV holding only its header is refused for having no rows, at the header's line."""
    with pytest.raises(DocumentError, match="no task rows under the header at line 2") as raised:
        _csv("台账,,\n序号,任务,牵头单位\n")
    assert raised.value.line == 2


def test_utf16_csv_is_decoded() -> None:
    """Excel's "Unicode text" export (UTF-16 with BOM) reads like any other CSV."""
    text = "2018年台账\t\t\n序号\t任务\t牵头单位\n1\t建设政务云\t市发改委\n"
    parsed = parse_document("ledger.tsv", text.encode("utf-16"))
    assert parsed.tasks[0].text == "建设政务云"
    assert parsed.tasks[0].lead_units == ["市发展改革委"]
