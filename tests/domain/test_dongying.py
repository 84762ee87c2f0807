"""东营 2017: a one-line narrative whose items end in （责任单位：…）, read by inline-units."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import DocumentError
from domain.parsers import parse_file
from domain.parsers.common import SourceDocument
from domain.parsers.inline_units import PARSER, chinese_number
from domain.plan import DeadlineFlag, ParsedPlan, PlanTask, TaskFlag
from domain.units import load_directory
from tests.support.golden import EXAMPLES, assert_matches_golden

FILE = "dongying-2017-egov-key-work.txt"
OTHER_EXAMPLES = [
    "bozhou-2018-internet-plus-gov-services.txt",
    "chuzhou-2018-egov-key-tasks.txt",
    "nantong-2017-gov-info-systems-integration.txt",
    "xuancheng-2016-2020-gov-informatization-plan.txt",
]
TITLE = "某市人民政府办公室关于加快推进2017年电子政务重点工作的通知\n"
SECTION_ONE = (
    "通知如下：一、加强基础建设（一）建设政务云。完成建设。（责任单位：市信息中心、市财政局）"
    "（二）推广应用。2017年9月底前完成迁移。（责任单位：市信息中心）"
)


def document(name: str, text: str) -> SourceDocument:
    return SourceDocument.from_text(name, text)


def parse_text(text: str) -> ParsedPlan:
    return PARSER.parse(document("notice.txt", text), load_directory())


@pytest.fixture(scope="module")
def parsed() -> ParsedPlan:
    text = (EXAMPLES / FILE).read_text(encoding="utf-8")
    return PARSER.parse(document(FILE, text), load_directory())


def task(parsed: ParsedPlan, task_id: str) -> PlanTask:
    return next(task for task in parsed.tasks if task.id == task_id)


def test_plan_metadata_comes_from_the_notice(parsed: ParsedPlan) -> None:
    """Year from the title, issuer and date from the 发布部门/发布时间 fields, no 文号."""
    plan = parsed.plan
    assert plan.title == "东营市人民政府办公室关于加快推进2017年全市电子政务重点工作的通知"
    assert plan.issuer == "东营市人民政府办公室"
    assert plan.issue_date == date(2017, 6, 8)
    assert plan.document_number is None  # 东政办发〔2016〕7号 is a cited plan's
    assert (plan.period_start, plan.period_end) == (2017, 2017)
    assert plan.format == "inline-units"


def test_34_tasks_from_four_sections(parsed: ParsedPlan) -> None:
    """5 + 7 (item 二(二) is four listed entries) + 4 + 18; section 五 holds no tasks."""
    assert len(parsed.tasks) == 34
    per_section: dict[str, int] = {}
    for each in parsed.tasks:
        per_section[each.category[0]] = per_section.get(each.category[0], 0) + 1
    assert per_section == {
        "一、加强集约化运行支撑体系建设": 5,
        "二、加快集中化资源共享体系建设": 7,
        "三、深化一体化政务服务体系建设": 4,
        "四、推进智能化协同应用体系建设": 18,
    }
    assert [each.id for each in parsed.tasks[5:11]] == ["6", "7-1", "7-2", "7-3", "7-4", "8"]
    assert parsed.tasks[-1].id == "31"


def test_section_five_is_reported_not_imported(parsed: ParsedPlan) -> None:
    """The safeguard section names no unit: one skipped_section warning lists its items."""
    skipped = [warning for warning in parsed.warnings if warning.code == "skipped_section"]
    assert len(skipped) == 1
    assert skipped[0].line == 6
    assert "五、完善工作保障措施" in skipped[0].message
    assert "（四）严格督查考核" in skipped[0].message
    assert not any("加强组织领导" in each.text for each in parsed.tasks)
    assert not any(TaskFlag.NO_UNIT in each.flags for each in parsed.tasks)


BODY_OF_ITEM_7 = (
    "按照“突出重点、急用先行”原则，加快数据共享管理平台建设，建立数据资源共享交换体系，"
    "初步实现部分部门数据的互联互通和资源共享。"
)


def test_a_listed_entry_reads_as_a_task_of_its_own(parsed: ParsedPlan) -> None:
    """Each —— entry gets the item's body and lead-in, its own units, the title as category."""
    entry = task(parsed, "7-2")
    assert entry.text == (
        BODY_OF_ITEM_7 + "2017年重点整合以下政务数据：民政、财政、人力资源社会保障、住房城乡建设、"
        "工商、住房公积金、国税、地税等部门的法人数据。"
    )
    assert entry.category == ["二、加快集中化资源共享体系建设", "（二）推进政务数据资源整合共享"]
    assert entry.lead_units == ["市电子政务和信息资源管理中心"]
    assert "市国税局" in entry.cooperating_units
    assert (entry.seq, entry.part) == (7, 2)
    assert entry.source.raw.startswith("——民政")


def test_no_sentence_of_a_listed_item_is_lost(parsed: ParsedPlan) -> None:
    """Every part of item 二(二) carries its body sentence ("急用先行"), not only its lead-in."""
    parts = [each for each in parsed.tasks if each.seq == 7]
    assert [each.id for each in parts] == ["7-1", "7-2", "7-3", "7-4"]
    assert all(each.text.startswith(BODY_OF_ITEM_7) for each in parts)


def test_a_list_preamble_of_one_sentence_is_kept_in_the_text() -> None:
    """A list item without a title sentence keeps its lead-in as category and in each part."""
    text = (
        TITLE + "通知如下：一、推进共享（一）重点整合以下数据：——人口数据。（责任单位：市公安局）"
        "——法人数据。（责任单位：市工商局）二、推进应用（一）建设平台。（责任单位：市信息中心）"
    )
    parsed = parse_text(text)
    first, second = parsed.tasks[:2]
    assert first.text == "重点整合以下数据：人口数据。"
    assert second.text == "重点整合以下数据：法人数据。"
    assert first.category == ["一、推进共享", "（一）重点整合以下数据"]


def test_the_first_unit_listed_leads(parsed: ParsedPlan) -> None:
    """Several units: the first leads (INFERRED_LEAD); one unit: it leads, no inference."""
    card = task(parsed, "10")
    assert card.lead_units == ["市政府办公室"]
    assert card.cooperating_units[0] == "市人力资源社会保障局"
    assert card.cooperating_units[-1] == "市人行"
    assert TaskFlag.INFERRED_LEAD in card.flags
    alone = task(parsed, "9")
    assert (alone.lead_units, alone.cooperating_units) == (["市国土资源局"], [])
    assert TaskFlag.INFERRED_LEAD not in alone.flags


def test_text_excludes_the_unit_parenthesis(parsed: ParsedPlan) -> None:
    """The task text is the item (title sentence and body) without its marker or units."""
    first = task(parsed, "1")
    assert first.text.startswith("完善政务云基础建设。做好市政务云数据异地灾备中心")
    assert first.text.endswith("服务保障水平。")
    assert all("责任单位" not in each.text for each in parsed.tasks)
    assert first.source.raw.startswith("(一)完善政务云基础建设")
    assert first.source.raw.endswith("(责任单位:市电子政务和信息资源管理中心)")


def test_before_a_month_is_ambiguous_and_warned(parsed: ParsedPlan) -> None:
    """ "2017年11月前" → 2017-10-31 flagged ambiguous, plus "2018年底前"; no start date."""
    network = task(parsed, "3")
    assert [(m.due, m.raw, m.flags) for m in network.milestones] == [
        (date(2017, 10, 31), "2017年11月前", [DeadlineFlag.AMBIGUOUS]),
        (date(2018, 12, 31), "2018年底前", []),
    ]
    # "2018年起，市级财政不再安排…" is a funding rule after the first milestone, not a start
    assert network.starts is None
    assert TaskFlag.AMBIGUOUS_DATE in network.flags
    ambiguous = [warning for warning in parsed.warnings if warning.code == "ambiguous_date"]
    assert [(warning.task_id, warning.line) for warning in ambiguous] == [("3", 6)]


def test_a_start_before_the_first_milestone_is_kept() -> None:
    """ "X年起" that precedes the task's first deadline is the day its work starts."""
    text = (
        TITLE
        + "通知如下：一、推进（一）建设平台。2017年起试运行，9月底前完成。（责任单位：市信息中心）"
    )
    parsed = parse_text(text)
    assert parsed.tasks[0].starts == date(2017, 1, 1)
    assert [m.due for m in parsed.tasks[0].milestones] == [date(2017, 9, 30)]


def test_deadlines_inside_the_text(parsed: ParsedPlan) -> None:
    """ "6月底前" is 30 June of the plan year; "到2020年" is the end of 2020; else year end."""
    video = task(parsed, "15").milestones
    assert [(m.due, m.flags) for m in video] == [(date(2017, 6, 30), [DeadlineFlag.YEAR_FROM_PLAN])]
    assert [(m.due, m.raw) for m in task(parsed, "10").milestones] == [
        (date(2020, 12, 31), "到2020年")
    ]
    dated = {"3", "10", "15"}
    for each in parsed.tasks:
        if each.id not in dated:
            assert [(m.due, m.flags) for m in each.milestones] == [
                (date(2017, 12, 31), [DeadlineFlag.IMPLICIT])
            ]


def test_every_task_comes_from_the_one_body_line(parsed: ParsedPlan) -> None:
    """The whole body is line 6, so every provenance span is (6, 6)."""
    assert {each.source.lines for each in parsed.tasks} == {(6, 6)}


def test_the_extraction_matches_the_checked_golden_file(parsed: ParsedPlan) -> None:
    """Every task, unit, date and flag as checked against the document."""
    assert_matches_golden(parsed, "dongying")


def test_the_registry_detects_and_parses_the_file() -> None:
    """parse_file picks the inline-units parser for this document."""
    parsed = parse_file(EXAMPLES / FILE)
    assert parsed.plan.format == "inline-units"
    assert len(parsed.tasks) == 34


@pytest.mark.parametrize("name", OTHER_EXAMPLES)
def test_the_other_examples_are_not_claimed(name: str) -> None:
    """The score is 0 on documents of every other format (nantong's 牵头责任单位 included)."""
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    assert PARSER.score(document(name, text)) == 0


def test_a_small_notice_spread_over_lines() -> None:
    """Items may span lines: provenance follows them, and a bare 9月底前 date is read."""
    parsed = parse_text(TITLE + SECTION_ONE.replace("（二）", "\n（二）"))
    assert [each.id for each in parsed.tasks] == ["1", "2"]
    assert [each.source.lines for each in parsed.tasks] == [(2, 2), (3, 3)]
    assert parsed.tasks[1].milestones[0].due == date(2017, 9, 30)
    assert parsed.tasks[0].cooperating_units == ["市财政局"]


def test_an_item_without_a_unit_outside_safeguards_warns() -> None:
    """A unit-less item in a task section is kept with NO_UNIT and a no_unit warning."""
    text = TITLE + SECTION_ONE + "二、推进应用（一）建设平台。年内完成。"
    parsed = parse_text(text)
    last = parsed.tasks[-1]
    assert (last.id, last.text, last.lead_units) == ("3", "建设平台。年内完成。", [])
    assert TaskFlag.NO_UNIT in last.flags
    assert [(warning.code, warning.task_id) for warning in parsed.warnings] == [("no_unit", "3")]


def test_text_after_a_unit_parenthesis_is_a_located_error() -> None:
    """Trailing text after an item's units means its boundaries are not understood."""
    text = (
        TITLE
        + SECTION_ONE
        + "另外还要做好宣传。\n二、推进应用（一）建设平台。（责任单位：市信息中心）"
    )
    with pytest.raises(DocumentError) as raised:
        parse_text(text)
    assert raised.value.line == 2
    assert "（二）" in raised.value.message


def test_a_section_without_items_is_a_located_error() -> None:
    """A section heading with no （一） under it is reported at its line."""
    text = TITLE + SECTION_ONE + "\n二、推进应用。相关工作另行部署。"
    with pytest.raises(DocumentError) as raised:
        parse_text(text)
    assert raised.value.line == 3


def test_chinese_numbers_for_item_markers() -> None:
    """Item markers run past ten: 十, 十四, 二十一."""
    assert [chinese_number(n) for n in (1, 10, 14, 20, 21)] == [
        "一",
        "十",
        "十四",
        "二十",
        "二十一",
    ]
    with pytest.raises(ValueError, match="outside"):
        chinese_number(100)
