"""滁州 2018: a task table flattened one cell per line, read by the general reader.

The document once had a family parser of its own (flattened-table); its reading of a table
whose rows are split by 序号 is now the general reader's (through the shared flattened-table
path, :mod:`domain.parsers.column_lines`), with the same tasks, texts, categories, units,
milestones, sources, warnings and located errors. Only the plan's format is "general".
"""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import DocumentError
from domain.parsers import detect_parser, general, parse_document, parse_file, read_document
from domain.parsers.column_lines import numbered_header, task_list_header
from domain.parsers.schedule_boxes import has_boxes
from domain.plan import DeadlineFlag, ParsedPlan, PlanTask, TaskFlag
from tests.support.golden import EXAMPLES, assert_matches_golden

FILE = "chuzhou-2018-egov-key-tasks.txt"
OTHER_EXAMPLES = [
    "bozhou-2018-internet-plus-gov-services.txt",
    "dongying-2017-egov-key-work.txt",
    "nantong-2017-gov-info-systems-integration.txt",
    "xuancheng-2016-2020-gov-informatization-plan.txt",
]
HEADER = "序号\n2016-2020年工作任务\n2018年计划\n责任单位\n是否需市直部门配合\n是否需县市区配合\n"


def parse_text(text: str) -> ParsedPlan:
    """A small table through the whole path a user's file takes (detection included)."""
    return parse_document("table.txt", text.encode("utf-8"))


@pytest.fixture(scope="module")
def parsed() -> ParsedPlan:
    return parse_file(EXAMPLES / FILE)


def task(parsed: ParsedPlan, task_id: str) -> PlanTask:
    return next(task for task in parsed.tasks if task.id == task_id)


def test_plan_metadata_comes_from_the_notice(parsed: ParsedPlan) -> None:
    """Title, issuer, 文号, issue date and year are the plan's own."""
    plan = parsed.plan
    assert plan.title == "滁州市2018年电子政务重点工作计划"
    assert plan.issuer == "滁州市人民政府办公室"
    assert plan.document_number == "滁政办秘〔2018〕109号"
    assert plan.issue_date == date(2018, 7, 22)
    assert (plan.period_start, plan.period_end) == (2018, 2018)
    assert plan.format == "general"
    assert plan.id == "chuzhou-2018-egov-key-tasks"


def test_every_numbered_row_is_a_task_and_row_47_is_truncated(parsed: ParsedPlan) -> None:
    """47 rows: 46 complete tasks, and row 47 kept, flagged TRUNCATED, with a located warning."""
    assert [task.id for task in parsed.tasks] == [str(seq) for seq in range(1, 48)]
    complete = [task for task in parsed.tasks if TaskFlag.TRUNCATED not in task.flags]
    assert len(complete) == 46
    assert all(task.lead_units for task in complete)
    last = task(parsed, "47")
    assert TaskFlag.TRUNCATED in last.flags
    assert last.text == "安全保密监管和标准规范建设"
    assert last.lead_units == []
    assert last.source.lines == (226, 227)
    truncated = [warning for warning in parsed.warnings if warning.code == "truncated_row"]
    assert len(truncated) == 1
    assert (truncated[0].line, truncated[0].task_id) == (226, "47")


def test_row_47s_one_line_may_be_a_category_and_the_warning_says_so(parsed: ParsedPlan) -> None:
    """The kept heading-like line stays the text; the category is the row above's; both said."""
    last = task(parsed, "47")
    assert last.category == ["信息化项目管理", "加强市级信息化建设项目管理"]
    message = next(w.message for w in parsed.warnings if w.code == "truncated_row")
    assert "“安全保密监管和标准规范建设”, read as its plan text" in message
    assert "may be the row's category" in message
    assert "(信息化项目管理 › 加强市级信息化建设项目管理)" in message


def test_a_truncated_row_with_a_sentence_is_not_called_a_category() -> None:
    """A cut-off row whose line is a sentence is warned as missing its unit, nothing else."""
    text = (
        "滁州市2018年计划\n" + HEADER + "1\n规划\n完成系统建设\n市信息办\n2\n推进应用，完成对接\n"
    )
    parsed = parse_text(text)
    assert parsed.tasks[1].category == ["规划"]
    assert parsed.tasks[1].text == "推进应用，完成对接"
    message = parsed.warnings[0].message
    assert "category heading" not in message
    assert "its 责任单位 and maybe part of its plan text are missing" in message


def test_only_the_truncated_row_warns(parsed: ParsedPlan) -> None:
    """Inherited units are the document's merged cells, so no other warning is raised."""
    assert [warning.code for warning in parsed.warnings] == ["truncated_row"]


def test_a_row_without_a_unit_inherits_the_unit_above(parsed: ParsedPlan) -> None:
    """Merged unit cells: row 21 is 市审计局's like row 20, flagged INHERITED_UNIT."""
    row = task(parsed, "21")
    assert row.text == "金审工程三期"
    assert row.lead_units == ["市审计局"]
    assert TaskFlag.INHERITED_UNIT in row.flags
    inherited = [task.id for task in parsed.tasks if TaskFlag.INHERITED_UNIT in task.flags]
    assert inherited == ["21", "23", "27", "28", "29", "34", "36", "41"]
    assert TaskFlag.INHERITED_UNIT not in task(parsed, "20").flags


def test_units_wrapped_over_two_lines_are_rejoined(parsed: ParsedPlan) -> None:
    """A cell wrapped after "、" or mid-name reads as one unit cell."""
    assert (task(parsed, "10").lead_units, task(parsed, "10").cooperating_units) == (
        ["市信息办"],
        ["市审计局"],
    )
    assert task(parsed, "25").lead_units == ["市住房公积金管理中心"]
    assert task(parsed, "25").text == "住房公积金综合服务平台建设"
    assert task(parsed, "17").lead_units == ["市发展改革委"]  # alias 市发改委 resolved
    assert TaskFlag.INFERRED_LEAD in task(parsed, "17").flags


def test_text_starting_like_a_unit_is_not_taken_for_one(parsed: ParsedPlan) -> None:
    """ "市（县、区）财政专网链路改造" is row 19's text; its unit is the next line."""
    row = task(parsed, "19")
    assert row.text == "市（县、区）财政专网链路改造"
    assert row.lead_units == ["市财政局"]


def test_categories_inherit_and_replace_levels(parsed: ParsedPlan) -> None:
    """No category line inherits; one replaces the innermost level; several give the path."""
    assert task(parsed, "4").category == task(parsed, "3").category
    assert task(parsed, "5").category == ["政务信息资源开放共享和开发利用", "基础信息资源开发利用"]
    assert task(parsed, "15").category == [
        "依法行政和网上公共服务",
        "统一电子政务平台",
        "公共资源交易监管平台",
    ]
    assert task(parsed, "18").category == [
        "提升支撑政府社会治理和科学决策能力",
        "完善政府决策支持，办公业务应用平台建设",
    ]


def test_a_text_cell_wrapped_over_lines_is_one_text(parsed: ParsedPlan) -> None:
    """Row 11's plan text spans two lines; the first ends in "；" and is not a category."""
    row = task(parsed, "11")
    assert row.text == (
        "配合省政府办公厅、省发展改革委，基本建成全省覆盖省市县乡村五级的一体化网上政务服务平台；"
        "推动政务服务事项网上办理率达到90%，“最多跑一次”事项达到90%"
    )
    assert row.category[-1] == "网上政务服务平台"


def test_flag_cells_stay_out_of_the_text(parsed: ParsedPlan) -> None:
    """The 是 columns are not part of any task's text, category or units."""
    for each in parsed.tasks:
        assert "是" not in (each.text[-1:], *each.category, *each.lead_units)


def test_deadlines_default_to_the_plan_year_end(parsed: ParsedPlan) -> None:
    """Every task is due 2018-12-31; implicit except row 46, which says 2018年底前."""
    assert all(task.final_due == date(2018, 12, 31) for task in parsed.tasks)
    explicit = task(parsed, "46").milestones
    assert [(m.raw, m.flags) for m in explicit] == [("2018年底前", [])]
    for each in parsed.tasks:
        if each.id != "46":
            assert each.milestones[0].flags == [DeadlineFlag.IMPLICIT]
            assert TaskFlag.IMPLICIT_DEADLINE in each.flags


def test_the_extraction_matches_the_checked_golden_file(parsed: ParsedPlan) -> None:
    """Every task, unit, date and flag as checked against the document."""
    assert_matches_golden(parsed, "chuzhou")


def test_the_registry_detects_and_parses_the_file() -> None:
    """parse_file picks the general reader for this document, certain of its 序号 table."""
    data = (EXAMPLES / FILE).read_bytes()
    assert detect_parser(read_document(FILE, data)) is general.PARSER
    parsed = parse_file(EXAMPLES / FILE)
    assert parsed.plan.format == "general"
    assert len(parsed.tasks) == 47


@pytest.mark.parametrize("name", OTHER_EXAMPLES)
def test_the_other_examples_are_not_read_as_a_numbered_table(name: str) -> None:
    """No other reference plan has a table split by 序号 (bozhou has 序号 and 责任单位 too),
    and none is read as one: the general reader is not certain of any of them, but for
    bozhou's 附件1 task list (read as that list, see tests/domain/test_bozhou.py) and 宣城 by
    its 栏N boxes (their family parsers retired too)."""
    document = read_document(name, (EXAMPLES / name).read_bytes())
    assert numbered_header(document.lines) is None
    # nantong's pipe table, bozhou's 附件1 list and xuancheng's boxes make the general
    # reader certain of them.
    if "nantong" in name or task_list_header(document.lines) is not None or has_boxes(document):
        return
    assert general.PARSER.score(document) < general.PARSER.max_score(document)


def test_the_first_row_without_a_unit_is_a_located_error() -> None:
    """Row 1 has no row above to inherit a unit from: DocumentError at its line."""
    text = "计划\n" + HEADER + "1\n建设\n完成系统建设\n是\n2\n推进应用\n市信息办\n"
    with pytest.raises(DocumentError) as raised:
        parse_text(text)
    assert raised.value.line == 8
    assert "责任单位" in raised.value.message


def test_a_row_number_out_of_sequence_is_a_located_error() -> None:
    """A 序号 that skips ahead means rows were lost: DocumentError at that line."""
    text = "滁州市2018年计划\n" + HEADER + "1\n完成系统建设\n市信息办\n3\n推进应用\n市信息办\n"
    with pytest.raises(DocumentError) as raised:
        parse_text(text)
    assert raised.value.line == 11
    assert "expected row 2" in raised.value.message


def test_a_flag_cell_before_the_unit_is_a_located_error() -> None:
    """A 是 between the text and the unit means misaligned columns."""
    text = "滁州市2018年计划\n" + HEADER + "1\n完成系统建设\n是\n市信息办\n"
    with pytest.raises(DocumentError) as raised:
        parse_text(text)
    assert raised.value.line == 10


def test_a_complete_last_row_is_not_truncated() -> None:
    """A last row ending with its unit is a normal task, not a truncated one."""
    parsed = parse_text("滁州市2018年计划\n" + HEADER + "1\n完成系统建设\n市信息办\n")
    assert parsed.tasks[0].flags == [TaskFlag.IMPLICIT_DEADLINE]
    assert parsed.warnings == []
