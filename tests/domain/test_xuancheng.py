"""宣城 十三五 (2016-2020): numbered tasks with 牵头部门 and 栏N boxes, read by the general reader.

The document once had a family parser of its own (staged-boxes); its reading of tasks
scheduled in 栏N boxes is now the general reader's (through
:mod:`domain.parsers.schedule_boxes`), with the same tasks, texts, categories, units,
milestones, sources, warnings, issuer and located errors. Only the plan's format is
"general".
"""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import DocumentError
from domain.parsers import detect_parser, general, parse_document, parse_file, read_document
from domain.parsers.schedule_boxes import has_boxes
from domain.plan import DeadlineFlag, ParsedPlan, PlanTask, TaskFlag
from tests.support.golden import EXAMPLES, assert_matches_golden

FILE = "xuancheng-2016-2020-gov-informatization-plan.txt"
OTHER_EXAMPLES = [
    "bozhou-2018-internet-plus-gov-services.txt",
    "chuzhou-2018-egov-key-tasks.txt",
    "dongying-2017-egov-key-work.txt",
    "nantong-2017-gov-info-systems-integration.txt",
]
PERIOD_END = date(2020, 12, 31)
TITLE = "宣城市“十三五”政务信息化发展规划\n三、重点任务\n"
SECTION = "（一）完善网络\n"
TASK = "{number}.建设网络。（牵头部门：市信息办）\n"


BOX = "栏1：网络\n2017年底前，建成网络。\n"


def parse_text(text: str) -> ParsedPlan:
    """A small plan through the whole path a user's file takes (detection included)."""
    return parse_document("plan.txt", text.encode("utf-8"))


@pytest.fixture(scope="module")
def parsed() -> ParsedPlan:
    return parse_file(EXAMPLES / FILE)


def task(parsed: ParsedPlan, task_id: str) -> PlanTask:
    return next(task for task in parsed.tasks if task.id == task_id)


def dues(row: PlanTask) -> list[date]:
    return [milestone.due for milestone in row.milestones]


def test_plan_metadata(parsed: ParsedPlan) -> None:
    """Title, 文号 and the 十三五 period; no issue date (the page's 发布日期 is not one)."""
    plan = parsed.plan
    assert plan.title == "宣城市“十三五”政务信息化发展规划"
    assert plan.document_number == "宣政办秘〔2016〕200号"
    assert (plan.period_start, plan.period_end) == (2016, 2020)
    assert plan.issue_date is None
    assert plan.format == "general"
    assert plan.issuer == "宣城市人民政府办公室"  # its own 文号 宣政办秘… is that office's


def test_issuer_only_from_the_plans_own_known_number() -> None:
    """A cited 文号 or an unknown prefix names no issuer; the plan's own 宣政办 number does."""
    box = "栏1：网络\n2016年底前完成。\n"
    body = TITLE.split("\n", 1)[1] + SECTION + TASK.format(number=1) + box
    title = "宣城市“十三五”政务信息化发展规划"
    own = f"名称: {title} 文号: 宣政办秘〔2016〕200号\n{title}\n"
    assert parse_text(own + body).plan.issuer == "宣城市人民政府办公室"
    unknown = f"名称: {title} 文号: 某政秘〔2016〕1号\n{title}\n"
    assert parse_text(unknown + body).plan.issuer is None
    cited = f"{title}\n依据《某规划》（宣政办秘〔2015〕9号）制定。\n"
    cited_plan = parse_text(cited + body).plan
    assert cited_plan.issuer is None


def test_all_17_numbered_tasks_are_read(parsed: ParsedPlan) -> None:
    """Tasks 1-17, whether numbered "1." or "13、", and even when two share a line (6, 7)."""
    assert sorted({row.seq for row in parsed.tasks}) == list(range(1, 18))
    assert [row.id for row in parsed.tasks if row.seq == 7] == ["7"]
    assert task(parsed, "7").text.startswith("推进业务信息资源库建设。")
    assert task(parsed, "13").text.startswith("推进政府应急平台体系建设。")
    assert not any(code == "missing_task_number" for code in (w.code for w in parsed.warnings))


def test_task_1_takes_the_four_stages_of_box_1(parsed: ParsedPlan) -> None:
    """栏1's 2016/2017/2018/2020年底前 are task 1's milestones; its 力争到2020年前 adds none."""
    row = task(parsed, "1")
    assert dues(row) == [date(2016, 12, 31), date(2017, 12, 31), date(2018, 12, 31), PERIOD_END]
    assert row.milestones[0].text.startswith("2016年底前，完成市政务云计算中心等级保护工作")
    assert all(DeadlineFlag.TARGET not in milestone.flags for milestone in row.milestones)
    assert row.source.lines == (64, 66)
    assert row.lead_units == ["市信息办"]
    assert row.text.endswith("切实保障基础信息网络、重要信息资源库和重点业务系统安全可控。")


def test_task_6_is_split_per_lead(parsed: ParsedPlan) -> None:
    """分别牵头: four parts, one lead each, no cooperating units."""
    parts = [row for row in parsed.tasks if row.seq == 6]
    assert [row.id for row in parts] == ["6-1", "6-2", "6-3", "6-4"]
    assert [row.lead_units for row in parts] == [
        ["市公安局"],
        ["市工商质监局"],
        ["市国土资源局"],
        ["市统计局"],
    ]
    assert all(row.cooperating_units == [] for row in parts)
    assert all(TaskFlag.SPLIT_PER_LEAD in row.flags for row in parts)


def test_a_box_after_several_tasks_belongs_to_each_with_a_warning(parsed: ParsedPlan) -> None:
    """栏5 follows tasks 5, 6 and 7 of its section: each gets its deadlines and a warning."""
    for task_id in ("5", "6-1", "7"):
        assert dues(task(parsed, task_id)) == [PERIOD_END] * 3
    shared = [w.task_id for w in parsed.warnings if w.code == "shared_box"]
    assert shared == ["5", "6-1", "6-2", "6-3", "6-4", "7"]


def test_a_box_on_the_same_line_as_its_task_is_found(parsed: ParsedPlan) -> None:
    """Line 110 holds task 11 and 栏9: the box's 2016 and 2017 stages are task 11's."""
    row = task(parsed, "11")
    assert dues(row) == [date(2016, 12, 31), date(2017, 12, 31), PERIOD_END]
    assert "栏9" not in row.text
    assert row.text.endswith("实现数据互通、资源共享。")


def test_tasks_without_a_box_are_due_at_the_period_end(parsed: ParsedPlan) -> None:
    """Tasks 12-14 state no date: 2020-12-31, implicit."""
    for task_id in ("12", "13", "14"):
        row = task(parsed, task_id)
        assert dues(row) == [PERIOD_END]
        assert row.milestones[0].flags == [DeadlineFlag.IMPLICIT]
        assert TaskFlag.IMPLICIT_DEADLINE in row.flags


def test_joint_leads_both_lead(parsed: ParsedPlan) -> None:
    """（牵头部门：A、B）: both lead; the label says so, nothing is inferred."""
    row = task(parsed, "3")
    assert row.lead_units == ["市国家保密局", "市委机要局"]
    assert TaskFlag.INFERRED_LEAD not in row.flags


def test_a_group_leading_separately_stays_whole_with_a_warning(parsed: ParsedPlan) -> None:
    """The group in "市直相关部门分别牵头" has no member list: tasks 7 and 17 stay whole, warned."""
    assert task(parsed, "17").lead_units == ["市直相关部门"]
    unsplit = [w.task_id for w in parsed.warnings if w.code == "unsplit_group_lead"]
    assert unsplit == ["7", "17"]


def test_the_cut_heading_and_the_unnumbered_paragraph(parsed: ParsedPlan) -> None:
    """A heading cut as "（" / "四）…" is whole; the paragraph under （七） is only warned."""
    assert task(parsed, "8").category == ["（四）提高依法行政和网上公共服务水平"]
    unnumbered = [w for w in parsed.warnings if w.code == "unnumbered_paragraph"]
    assert [w.line for w in unnumbered] == [156]


def test_the_extraction_matches_the_checked_golden_file(parsed: ParsedPlan) -> None:
    """Every task, unit, date and flag as checked against the document."""
    assert_matches_golden(parsed, "xuancheng")


def test_the_registry_detects_and_parses_the_file() -> None:
    """parse_file picks the general reader for this document, certain of its 栏N boxes."""
    data = (EXAMPLES / FILE).read_bytes()
    assert detect_parser(read_document(FILE, data)) is general.PARSER
    parsed = parse_file(EXAMPLES / FILE)
    assert parsed.plan.format == "general"
    assert len(parsed.tasks) == 20


@pytest.mark.parametrize("name", OTHER_EXAMPLES)
def test_the_other_examples_are_not_read_as_boxed_tasks(name: str) -> None:
    """No other reference plan has 栏N boxes, and none is read as tasks scheduled in them."""
    document = read_document(name, (EXAMPLES / name).read_bytes())
    assert not has_boxes(document)
    assert not any(w.code == "shared_box" for w in parse_file(EXAMPLES / name).warnings)


def test_a_box_with_no_task_is_a_located_error() -> None:
    """A section whose box has no numbered task to belong to cannot be resolved."""
    box = "（二）完善平台\n栏2：平台\n2018年底前，建成平台。\n"
    text = TITLE + SECTION + TASK.format(number=1) + box
    with pytest.raises(DocumentError) as raised:
        parse_text(text)
    assert raised.value.line == 6
    assert "栏2" in raised.value.message


def test_a_task_number_going_back_is_a_located_error() -> None:
    """Numbers must increase: a repeated number means the text is garbled."""
    text = TITLE + SECTION + TASK.format(number=1) + TASK.format(number=1) + BOX
    with pytest.raises(DocumentError) as raised:
        parse_text(text)
    assert raised.value.line == 5
    assert "expected task 2" in raised.value.message


def test_a_missing_task_number_is_warned_not_invented() -> None:
    """A gap in the numbering is a warning; no task is made up for it."""
    text = TITLE + SECTION + BOX + TASK.format(number=1) + TASK.format(number=3)
    parsed = parse_text(text)
    assert [row.id for row in parsed.tasks] == ["1", "3"]
    assert [(w.code, w.line) for w in parsed.warnings] == [("missing_task_number", 7)]


def test_a_box_before_its_task_belongs_to_the_next_task() -> None:
    """A box that opens its section is the schedule of the section's first task."""
    text = TITLE + SECTION + BOX + TASK.format(number=1)
    parsed = parse_text(text)
    assert dues(parsed.tasks[0]) == [date(2017, 12, 31)]
    assert parsed.tasks[0].source.lines == (4, 6)
