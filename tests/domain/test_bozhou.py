"""亳州 2018: a notice and narrative, then the 附件1 task list, read by the general reader.

The document once had a family parser of its own (attachment-task-list); its reading of a
notice whose 附件1 is a 序号 / 主要任务及时限要求 / 责任单位 table, one cell per line, is now the
general reader's (through the shared flattened-table path, :mod:`domain.parsers.column_lines`),
with the same tasks, texts, categories, units, milestones, sources, warnings and located
errors. Only the plan's format is "general".
"""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import DocumentError
from domain.parsers import detect_parser, general, parse_document, parse_file, read_document
from domain.parsers.column_lines import task_list_header
from domain.plan import DeadlineFlag, ParsedPlan, PlanTask, TaskFlag
from domain.text import normalize_line
from domain.units import load_directory, split_units
from tests.support.golden import EXAMPLES, assert_matches_golden

FILE = "bozhou-2018-internet-plus-gov-services.txt"
OTHER_EXAMPLES = [
    "chuzhou-2018-egov-key-tasks.txt",
    "dongying-2017-egov-key-work.txt",
    "nantong-2017-gov-info-systems-integration.txt",
    "xuancheng-2016-2020-gov-informatization-plan.txt",
]
ATTACHMENT1_LINE = 57
ZONE_COMMITTEES = ["亳州经济开发区管委会", "亳芜现代产业园区管委会"]
NOTICE = "亳州市人民政府办公室关于印发2018年工作方案的通知\n亳政办秘〔2018〕90号\n2018年5月17日\n"
HEADER = "附件1\n任务清单\n序号\n主要任务及时限要求\n责任单位\n"


def parse_text(text: str) -> ParsedPlan:
    """A small list through the whole path a user's file takes (detection included)."""
    return parse_document("list.txt", text.encode("utf-8"))


@pytest.fixture(scope="module")
def text() -> str:
    return (EXAMPLES / FILE).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def parsed() -> ParsedPlan:
    return parse_file(EXAMPLES / FILE)


def task(parsed: ParsedPlan, task_id: str) -> PlanTask:
    return next(task for task in parsed.tasks if task.id == task_id)


def dues(row: PlanTask) -> list[date]:
    return [milestone.due for milestone in row.milestones]


def test_plan_metadata_comes_from_the_notice(parsed: ParsedPlan) -> None:
    """Title, issuer, 文号 and year are the plan's; the issue date is the signature date."""
    plan = parsed.plan
    assert plan.title == "2018年亳州市“互联网+政务服务”工作方案"
    assert plan.issuer == "亳州市人民政府办公室"
    assert plan.document_number == "亳政办秘〔2018〕90号"
    assert plan.issue_date == date(2018, 5, 17)  # not the page's 生成日期 2018-05-24
    assert (plan.period_start, plan.period_end) == (2018, 2018)
    assert plan.format == "general"


def test_the_75_rows_of_attachment_1_are_the_tasks(parsed: ParsedPlan) -> None:
    """Every row 1-75 is read once; rows 20 and 41 split into parts; nothing else is a task."""
    assert sorted({row.seq for row in parsed.tasks}) == list(range(1, 76))
    split = {row.seq for row in parsed.tasks if row.part is not None}
    assert split == {20, 41}
    assert len(parsed.tasks) == 75 + 1 + 3
    assert parsed.warnings == []


def test_the_narrative_is_not_double_counted(parsed: ParsedPlan) -> None:
    """No task comes from the narrative above 附件1 or from the 附件2 list."""
    assert all(row.source.lines[0] > ATTACHMENT1_LINE for row in parsed.tasks)
    assert all(row.source.lines[1] < 729 for row in parsed.tasks)
    assert not any("打造网上政务服务平台升级版。" in row.text for row in parsed.tasks)


def test_row_3_has_two_milestones_under_one_unit_cell(parsed: ParsedPlan) -> None:
    """The second dated sentence shares the row's (merged) unit cell: one task, two dates."""
    row = task(parsed, "3")
    assert dues(row) == [date(2018, 6, 30), date(2018, 12, 31)]
    assert row.milestones[1].text.startswith("2018年12月底前")
    assert row.source.lines == (91, 101)


def test_rows_7_and_21_have_their_own_dates(parsed: ParsedPlan) -> None:
    """Row 7 is due 2018-05-31 and row 21 2018-05-15, as their sentences say."""
    assert dues(task(parsed, "7")) == [date(2018, 5, 31)]
    assert dues(task(parsed, "21")) == [date(2018, 5, 15)]


def test_row_41_is_one_task_per_lead(parsed: ParsedPlan) -> None:
    """分别牵头负责: four parts, one lead each, the county governments cooperating in each."""
    parts = [row for row in parsed.tasks if row.seq == 41]
    assert [row.id for row in parts] == ["41-1", "41-2", "41-3", "41-4"]
    assert [row.lead_units for row in parts] == [
        ["市工商局"],
        ["市发展改革委"],
        ["市住房城乡建设委"],
        ["市国土资源局"],
    ]
    for row in parts:
        assert row.cooperating_units == ["各县区政府", *ZONE_COMMITTEES]
        assert TaskFlag.SPLIT_PER_LEAD in row.flags
        assert dues(row) == [date(2018, 12, 31)]


def test_row_20_splits_where_the_unit_cells_differ(parsed: ParsedPlan) -> None:
    """Two dated sentences with different unit cells are two parts of the row."""
    first, second = task(parsed, "20-1"), task(parsed, "20-2")
    assert first.text.startswith("2018年12月31日前，在继续完善乡（镇）")
    assert second.text.startswith("2018年12月31日前，将所有因需要现场签字")
    assert "市信访局" not in first.cooperating_units
    assert "市信访局" in second.cooperating_units
    assert second.source.lines == (253, 255)


def test_rows_with_the_same_unit_cell_twice_stay_one_task(parsed: ParsedPlan) -> None:
    """Row 75 repeats its unit cell: one task; its undated sentence is due at the year end."""
    row = task(parsed, "75")
    assert dues(row) == [date(2018, 6, 30), date(2018, 12, 31)]
    assert row.milestones[1].flags == [DeadlineFlag.IMPLICIT]
    assert row.milestones[1].text == "开展多样化宣传和多元化推介，提高社会认知度和参与度。"


def test_the_group_expands_to_the_units_of_attachment_2(parsed: ParsedPlan, text: str) -> None:
    """市直有关单位 becomes the 附件2 list (aliases resolved); the group name is gone."""
    directory = load_directory()
    listed = split_units(normalize_line(text.splitlines()[732]))
    members = list(dict.fromkeys(directory.resolve(name) for name in listed))
    row = task(parsed, "1")
    assert row.lead_units == ["各县区政府"]
    assert row.cooperating_units == list(dict.fromkeys([*ZONE_COMMITTEES, *members]))
    assert len(row.cooperating_units) == 59  # 附件2 lists 59 units, both zone committees too
    assert TaskFlag.GROUP_EXPANDED in row.flags
    assert all("市直有关单位" not in row.cooperating_units for row in parsed.tasks)
    assert TaskFlag.GROUP_EXPANDED not in task(parsed, "6").flags


def test_attachment_2_names_drop_their_second_nameplate_alike(parsed: ParsedPlan) -> None:
    """市政府办公室(市金融办、市外事办) and 市民委(市宗教局) both become the name before "("."""
    units = {unit for row in parsed.tasks for unit in row.cooperating_units}
    assert {"市政府办公室", "市民委", "市人防办", "市发展改革委"} <= units
    assert not any("（" in unit for unit in units if unit.startswith("市"))


def test_categories_follow_the_merged_heading_cells(parsed: ParsedPlan) -> None:
    """A repeated 一、 heading keeps its subsection; a row without a sub-heading inherits it."""
    assert task(parsed, "10").category == [
        "一、推动全市“一张网”升级融合",
        "（三）建设电子证照管理系统",
        "对接电子证照管理系统",
    ]
    assert task(parsed, "15").category == task(parsed, "14").category
    assert task(parsed, "20-1").category[1] == "（六）推进线上线下融合发展"
    assert task(parsed, "15").text.startswith("2018年7月31日前，扩大缴费范围")


def test_undated_rows_are_due_at_the_year_end_and_monthly_reports_recur(
    parsed: ParsedPlan,
) -> None:
    """Row 16 has no date (2018-12-31, implicit); row 68's 一月一通报 recurs monthly."""
    assert dues(task(parsed, "16")) == [date(2018, 12, 31)]
    assert TaskFlag.IMPLICIT_DEADLINE in task(parsed, "16").flags
    reporting = task(parsed, "68")
    assert reporting.recurrence is not None
    assert reporting.recurrence.frequency == "monthly"


def test_the_extraction_matches_the_checked_golden_file(parsed: ParsedPlan) -> None:
    """Every task, unit, date and flag as checked against the document."""
    assert_matches_golden(parsed, "bozhou")


def test_the_registry_detects_and_parses_the_file() -> None:
    """parse_file picks the general reader for this document, certain of its 附件1 list."""
    data = (EXAMPLES / FILE).read_bytes()
    assert detect_parser(read_document(FILE, data)) is general.PARSER
    parsed = parse_file(EXAMPLES / FILE)
    assert parsed.plan.format == "general"
    assert len(parsed.tasks) == 79


@pytest.mark.parametrize("name", OTHER_EXAMPLES)
def test_the_other_examples_are_not_read_as_a_task_list(name: str) -> None:
    """No other reference plan has a 附件1 task list (chuzhou has 序号 and 责任单位 but no 附件1
    table), and none is read as one."""
    document = read_document(name, (EXAMPLES / name).read_bytes())
    assert task_list_header(document.lines) is None


def test_a_row_number_out_of_sequence_is_a_located_error() -> None:
    """A 序号 that skips ahead means a row was lost: DocumentError at that line."""
    text = NOTICE + HEADER + "1\n完成系统建设。\n市信息局\n3\n推进应用。\n市信息局\n"
    with pytest.raises(DocumentError) as raised:
        parse_text(text)
    assert raised.value.line == 12
    assert "expected row 2" in raised.value.message


def test_a_unit_cell_without_task_text_is_a_located_error() -> None:
    """A row whose first cell after its headings is a unit cell cannot be aligned."""
    text = NOTICE + HEADER + "1\n一、推进应用\n市信息局\n"
    with pytest.raises(DocumentError) as raised:
        parse_text(text)
    assert raised.value.line == 11
    assert "row 1" in raised.value.message


def test_a_row_without_a_unit_inherits_the_cell_above_with_a_warning() -> None:
    """A merged 责任单位 cell: the row gets the unit above, flagged and warned."""
    text = NOTICE + HEADER + "1\n完成系统建设。\n市信息局\n2\n推进应用。\n"
    parsed = parse_text(text)
    assert parsed.tasks[1].lead_units == ["市信息局"]
    assert TaskFlag.INHERITED_UNIT in parsed.tasks[1].flags
    assert [(w.code, w.task_id, w.line) for w in parsed.warnings] == [("inherited_unit", "2", 12)]


def test_a_unit_cell_wrapped_over_two_lines_is_one_cell() -> None:
    """Two unit lines in a row are one wrapped cell: its units join, its lines are the task's."""
    parsed = parse_text(NOTICE + HEADER + "1\n完成系统建设。\n市信息局、\n市财政局\n")
    assert parsed.tasks[0].lead_units == ["市信息局"]
    assert parsed.tasks[0].cooperating_units == ["市财政局"]
    assert parsed.tasks[0].source.lines == (9, 12)
