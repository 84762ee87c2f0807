"""东营 2017: a one-line narrative whose items end in （责任单位：…）, read by the general reader.

The document once had a family parser of its own (inline-units); the general reader reads
it with the same tasks, texts, categories, milestones, sources and warnings. Where the two
differ (every unit of a bare 责任单位 list leads; a warning instead of an error), the tests
assert the general reader's rule and say so.
"""

from __future__ import annotations

from datetime import date

import pytest

from domain.parsers import detect_parser, general, parse_document, parse_file, read_document
from domain.parsers.column_lines import numbered_header, task_list_header
from domain.parsers.schedule_boxes import has_boxes
from domain.plan import DeadlineFlag, ParsedPlan, PlanTask, TaskFlag
from tests.support.golden import EXAMPLES, assert_matches_golden

FILE = "dongying-2017-egov-key-work.txt"
NANTONG = "nantong-2017-gov-info-systems-integration.txt"  # read by the general reader too
OTHER_EXAMPLES = [
    "bozhou-2018-internet-plus-gov-services.txt",
    "chuzhou-2018-egov-key-tasks.txt",
    "xuancheng-2016-2020-gov-informatization-plan.txt",
]
TITLE = "某市人民政府办公室关于加快推进2017年电子政务重点工作的通知\n"
# Units of the directory, so that the small notices' warnings are only the ones tested.
CENTRE = "市电子政务和信息资源管理中心"
SECTION_ONE = (
    f"通知如下：一、加强基础建设（一）建设政务云。完成建设。（责任单位：{CENTRE}、市财政局）"
    f"（二）推广应用。2017年9月底前完成迁移。（责任单位：{CENTRE}）"
)


def parse_text(text: str) -> ParsedPlan:
    """A small notice through the whole path a user's file takes (detection included)."""
    return parse_document("notice.txt", text.encode("utf-8"))


@pytest.fixture(scope="module")
def parsed() -> ParsedPlan:
    return parse_file(EXAMPLES / FILE)


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
    assert plan.format == "general"


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
    # Every unit of the entry's bare 责任单位 list leads (the family parser had the first).
    assert entry.lead_units[0] == "市电子政务和信息资源管理中心"
    assert "市国税局" in entry.lead_units
    assert entry.cooperating_units == []
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
        f"——法人数据。（责任单位：市工商局）二、推进应用（一）建设平台。（责任单位：{CENTRE}）"
    )
    parsed = parse_text(text)
    first, second = parsed.tasks[:2]
    assert first.text == "重点整合以下数据：人口数据。"
    assert second.text == "重点整合以下数据：法人数据。"
    assert first.category == ["一、推进共享", "（一）重点整合以下数据"]


def test_every_unit_of_a_bare_responsible_list_leads(parsed: ParsedPlan) -> None:
    """（责任单位：A、B、C） with no rule of the document's own: all of them lead, as written,
    none inferred. The family parser made the first lead and the rest cooperate (flagged
    INFERRED_LEAD); the general reader follows the corpus rule "only 责任单位 → all are
    leads". At run time the first listed still acts as lead (Assignment.of_units)."""
    card = task(parsed, "10")
    assert card.lead_units[:2] == ["市政府办公室", "市人力资源社会保障局"]
    assert card.lead_units[-1] == "市人行"
    assert len(card.lead_units) == 15
    assert card.cooperating_units == []
    assert TaskFlag.INFERRED_LEAD not in card.flags
    alone = task(parsed, "9")
    assert (alone.lead_units, alone.cooperating_units) == (["市国土资源局"], [])
    assert not any(TaskFlag.INFERRED_LEAD in each.flags for each in parsed.tasks)
    assert not any(each.cooperating_units for each in parsed.tasks)


def test_the_documents_own_rule_makes_the_first_unit_lead() -> None:
    """列第一位者为牵头单位，下同: the first unit of each 负责 list leads, the rest cooperate,
    from the item stating the rule to every item after it. The general reader applies the
    rule to 负责 lists, the way the corpus documents state it (01, 03, 07)."""
    text = (
        TITLE + "一、加强基础建设\n"
        "（一）建设政务云。（市财政局、市公安局负责，列第一位者为牵头单位，下同）\n"
        "（二）推广应用。（市公安局、市工商局、市财政局负责）\n"
    )
    first, second = parse_text(text).tasks
    assert (first.lead_units, first.cooperating_units) == (["市财政局"], ["市公安局"])
    assert (second.lead_units, second.cooperating_units) == (
        ["市公安局"],
        ["市工商局", "市财政局"],
    )
    without_the_rule = parse_text(text.replace("，列第一位者为牵头单位，下同", ""))
    assert [each.lead_units for each in without_the_rule.tasks] == [
        ["市财政局", "市公安局"],
        ["市公安局", "市工商局", "市财政局"],
    ]


def test_the_documents_own_rule_covers_a_responsible_list_too() -> None:
    """The rule applies to every list after it, a （责任单位：A、B） list as well as a 负责
    one, also when it is written inside the first item's field: the sentence stating it is
    never read as a unit."""
    ruled_in_the_field = (
        TITLE + "一、加强基础建设\n"
        "（一）建设政务云。（责任单位：市财政局、市公安局，列第一位者为牵头单位，下同）\n"
        "（二）推广应用。（责任单位：市公安局、市工商局）\n"
    )
    ruled_before = (
        TITLE + "各项任务列第一位者为牵头单位，下同。\n一、加强基础建设\n"
        "（一）建设政务云。（责任单位：市财政局、市公安局）\n"
        "（二）推广应用。（责任单位：市公安局、市工商局）\n"
    )
    for text in (ruled_in_the_field, ruled_before):
        parsed = parse_text(text)
        assert [(t.lead_units, t.cooperating_units) for t in parsed.tasks] == [
            (["市财政局"], ["市公安局"]),
            (["市公安局"], ["市工商局"]),
        ]
        assert not [w for w in parsed.warnings if w.code == "unknown_unit"]
    # A list that names its lead keeps it: the rule only orders lists without one.
    named = parse_text(
        ruled_before.replace(
            "（责任单位：市公安局、市工商局）", "（牵头单位：市工商局；责任单位：市公安局）"
        )
    )
    assert (named.tasks[1].lead_units, named.tasks[1].cooperating_units) == (
        ["市工商局"],
        ["市公安局"],
    )


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
        + f"通知如下：一、推进（一）建设平台。2017年起试运行，9月底前完成。（责任单位：{CENTRE}）"
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
    """The registry picks the general reader for this document: no family parser claims it."""
    data = (EXAMPLES / FILE).read_bytes()
    assert detect_parser(read_document(FILE, data)) is general.PARSER
    assert len(parse_document(FILE, data).tasks) == 34


@pytest.mark.parametrize("name", OTHER_EXAMPLES)
def test_the_other_examples_are_not_read_as_this_one_is(name: str) -> None:
    """None of the other reference plans is read by its numbered items and unit fields: the
    general reader scores below the family parser of each (nantong's 牵头责任单位 included),
    or reads it as a table split by 序号 (滁州's, and 亳州's 附件1 list, since their family
    parsers were retired), or as tasks scheduled in 栏N boxes (宣城's, likewise)."""
    document = read_document(name, (EXAMPLES / name).read_bytes())
    header = numbered_header(document.lines)
    if header is not None:  # every task is a row of the table, none a line of the notice
        assert detect_parser(document) is general.PARSER
        tasks = parse_file(EXAMPLES / name).tasks
        assert all(task.source.lines[0] > header.first_line for task in tasks)
        return
    task_list = task_list_header(document.lines)
    if task_list is not None:  # every task is a row of the 附件1 list, none a narrative item
        assert detect_parser(document) is general.PARSER
        tasks = parse_file(EXAMPLES / name).tasks
        assert all(task.source.lines[0] > task_list.end for task in tasks)
        return
    if has_boxes(document):  # read with its boxes: the box text is in no task's text
        assert detect_parser(document) is general.PARSER
        assert not any("栏" in task.text for task in parse_file(EXAMPLES / name).tasks)
        return
    assert detect_parser(document) is not general.PARSER
    assert parse_file(EXAMPLES / name).plan.format != "general"


def test_nantong_is_read_by_its_table_not_as_this_narrative_is() -> None:
    """nantong's narrative ends its items with （牵头责任单位：…） as this one does, but the
    general reader reads it by its task table (its rows from line 56 on), never those
    items: the narrative restates the table."""
    parsed = parse_file(EXAMPLES / NANTONG)
    assert parsed.plan.format == "general"
    assert [task.id for task in parsed.tasks] == [str(seq) for seq in range(1, 22)]
    assert min(task.source.lines[0] for task in parsed.tasks) > 56


def test_a_small_notice_spread_over_lines() -> None:
    """Items may span lines: provenance follows them, and a bare 9月底前 date is read."""
    parsed = parse_text(TITLE + SECTION_ONE.replace("（二）", "\n（二）"))
    assert [each.id for each in parsed.tasks] == ["1", "2"]
    assert [each.source.lines for each in parsed.tasks] == [(2, 2), (3, 3)]
    assert parsed.tasks[1].milestones[0].due == date(2017, 9, 30)
    # Both units of the bare 责任单位 list lead (the family parser had 市财政局 cooperate).
    assert (parsed.tasks[0].lead_units, parsed.tasks[0].cooperating_units) == (
        [CENTRE, "市财政局"],
        [],
    )


def test_an_item_without_a_unit_outside_safeguards_is_named_in_a_warning() -> None:
    """A unit-less item in a document whose items name units is not a task: a skipped_item
    warning names its line. (The family parser kept it as a NO_UNIT task; the general reader
    reads such an item as a heading or a principle, and says so.)"""
    text = TITLE + SECTION_ONE + "二、推进应用（一）建设平台。年内完成。"
    parsed = parse_text(text)
    assert [each.id for each in parsed.tasks] == ["1", "2"]
    assert [(warning.code, warning.line) for warning in parsed.warnings] == [("skipped_item", 2)]
    assert "建设平台。年内完成。" in parsed.warnings[0].message


def test_text_after_a_unit_parenthesis_is_never_lost() -> None:
    """A paragraph after an item's unit field is named in a text_after_units warning at its
    line, and text going on in the field's own line stays in the task's text. (The family
    parser refused the whole document with a located error; the general reader reads the
    rest of it.)"""
    after = "另外还要做好宣传。"
    section_two = f"二、推进应用（一）建设平台。（责任单位：{CENTRE}）"
    own_line = parse_text(TITLE + SECTION_ONE + f"\n{after}\n" + section_two)
    assert [each.id for each in own_line.tasks] == ["1", "2", "3"]
    assert all(after not in each.text for each in own_line.tasks)
    assert [(warning.code, warning.line) for warning in own_line.warnings] == [
        ("text_after_units", 3)
    ]
    assert "另外还要做好宣传" in own_line.warnings[0].message
    same_line = parse_text(TITLE + SECTION_ONE + f"{after}\n" + section_two)
    assert [each.id for each in same_line.tasks] == ["1", "2", "3"]
    assert after in same_line.tasks[1].text


def test_a_section_without_items_is_named_at_its_line() -> None:
    """A section heading with no （一） under it and no unit is reported at its line, in a
    skipped_item warning. (The family parser raised a located error there.)"""
    text = TITLE + SECTION_ONE + "\n二、推进应用。相关工作另行部署。"
    parsed = parse_text(text)
    assert [each.id for each in parsed.tasks] == ["1", "2"]
    assert [(warning.code, warning.line) for warning in parsed.warnings] == [("skipped_item", 3)]
    assert "二、推进应用" in parsed.warnings[0].message


CHINESE_NUMBERS = (
    "一 二 三 四 五 六 七 八 九 十 十一 十二 十三 十四 十五 十六 十七 十八 十九 二十 二十一"
)


def test_item_markers_run_past_ten() -> None:
    """Items （十）（十四）（二十一） are read in order, one task each, as dongying's 四、 runs to
    （十八）."""
    items = "".join(
        f"（{number}）任务{seq}。（责任单位：市财政局）\n"
        for seq, number in enumerate(CHINESE_NUMBERS.split(), start=1)
    )
    parsed = parse_text(TITLE + "一、推进应用\n" + items)
    assert [each.id for each in parsed.tasks] == [str(seq) for seq in range(1, 22)]
    for seq, number in ((10, "十"), (14, "十四"), (20, "二十"), (21, "二十一")):
        assert parsed.tasks[seq - 1].source.raw.startswith(f"（{number}）任务{seq}。")
        assert parsed.tasks[seq - 1].text == f"任务{seq}。"


def test_dongying_items_run_to_eighteen(parsed: ParsedPlan) -> None:
    """Section 四's last item is （十八）: the 34th task, id 31, cut from the one body line."""
    last = parsed.tasks[-1]
    assert (len(parsed.tasks), last.id, last.source.lines) == (34, "31", (6, 6))
    assert last.source.raw.startswith("(十八)深化")
