"""The general reader's conventions, each on a small hand-written plan (not corpus text).

Every document here is invented: other offices, other units, other wording than the
corpus, so each test proves a convention rather than a file.
"""

from __future__ import annotations

from datetime import date
from io import BytesIO

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DocumentError
from domain.parsers import general, parse_document, read_document
from domain.parsers.common import SourceDocument
from domain.parsers.unit_fields import parse_unit_phrase
from domain.plan import ParsedPlan, PlanTask, TaskFlag
from domain.units import load_directory


def _parse(text: str, file: str = "计划.txt") -> ParsedPlan:
    return parse_document(file, text.encode("utf-8"), load_directory())


def _task(parsed: ParsedPlan, starting: str) -> PlanTask:
    matches = [task for task in parsed.tasks if starting in task.text]
    assert len(matches) == 1, [task.text[:20] for task in parsed.tasks]
    return matches[0]


def _dues(task: PlanTask) -> list[date]:
    return [milestone.due for milestone in task.milestones]


def test_a_trailing_field_list_names_lead_cooperating_and_deadline() -> None:
    parsed = _parse(
        "青岚县2023年乡村振兴重点任务\n"
        "一、产业发展\n"
        "1.建设冷链物流中心。完成选址和立项。"
        "（牵头单位：县商务局；配合单位：县发改局、县自然资源局；完成时限：2023年9月底前）\n"
        "2.培育家庭农场50家。（牵头单位：县农业农村局；配合单位：县财政局；"
        "完成时限：2023年11月30日前）\n"
    )
    assert parsed.plan.format == "general"
    cold_chain = _task(parsed, "建设冷链物流中心")
    assert cold_chain.lead_units == ["县商务局"]
    assert cold_chain.cooperating_units == ["县发改局", "县自然资源局"]
    assert _dues(cold_chain) == [date(2023, 9, 30)]
    farms = _task(parsed, "培育家庭农场")
    assert farms.lead_units == ["县农业农村局"]
    assert _dues(farms) == [date(2023, 11, 30)]
    assert cold_chain.category == ["一、产业发展"]


def test_a_half_width_bracket_with_lead_and_responsible_units() -> None:
    """[牵头单位:X;责任单位:Y]: beside a lead, the 责任单位 cooperate."""
    parsed = _parse(
        "2021年街道重点工作\n"
        "1、推进老旧小区改造,年内完成8个小区。[牵头单位:街道城建办;责任单位:各社区居委会]\n"
        "2、开展垃圾分类示范。[牵头单位:街道城管科、街道团工委;责任单位:物业公司]\n"
    )
    renovation = _task(parsed, "推进老旧小区改造")
    assert renovation.lead_units == ["街道城建办"]
    assert renovation.cooperating_units == ["各社区居委会"]
    sorting = _task(parsed, "开展垃圾分类示范")
    assert sorting.lead_units == ["街道城管科", "街道团工委"]
    assert sorting.cooperating_units == ["物业公司"]


def test_separate_field_lines_after_an_item() -> None:
    parsed = _parse(
        "2024年卫生健康工作要点\n"
        "1.推进紧密型医共体建设\n"
        "牵头单位：区卫健委\n"
        "责任单位：区医保局、区人民医院\n"
        "完成时限：2024年6月底前\n"
        "2.开展适龄儿童免费窝沟封闭\n"
        "责任单位：区疾控中心\n"
        "完成时限：2024年10月底前\n"
    )
    community = _task(parsed, "推进紧密型医共体建设")
    assert community.lead_units == ["区卫健委"]
    assert community.cooperating_units == ["区医保局", "区人民医院"]
    assert _dues(community) == [date(2024, 6, 30)]
    sealing = _task(parsed, "开展适龄儿童免费窝沟封闭")
    assert sealing.lead_units == ["区疾控中心"]  # 责任单位 alone leads
    assert sealing.cooperating_units == []
    assert _dues(sealing) == [date(2024, 10, 31)]
    assert len(parsed.tasks) == 2


@pytest.mark.parametrize(
    ("phrase", "leads", "cooperating"),
    [
        ("市文旅局牵头，市交通局配合", ["市文旅局"], ["市交通局"]),
        ("市文旅局牵头，市交通局、市公安局按职责分工负责", ["市文旅局"], ["市交通局", "市公安局"]),
        ("市文旅局、市体育局负责", ["市文旅局", "市体育局"], []),
        ("市文旅局会同有关部门负责", ["市文旅局"], ["有关部门"]),
        ("市文旅局指导，各景区负责落实", ["市文旅局"], ["各景区"]),
        ("市文旅局牵头，市交通局参与", ["市文旅局"], ["市交通局"]),
        ("市文旅局、市体育局等负责", ["市文旅局", "市体育局"], []),
    ],
)
def test_verb_phrases_in_a_trailing_parenthesis(
    phrase: str, leads: list[str], cooperating: list[str]
) -> None:
    parsed = _parse(
        f"2022年文旅融合工作方案\n一、主要任务\n（一）打造夜间消费街区。（{phrase}）\n"
        "（二）举办马拉松赛事。（市体育局负责）\n"
    )
    street = _task(parsed, "打造夜间消费街区")
    assert street.lead_units == leads
    assert street.cooperating_units == cooperating
    assert TaskFlag.INFERRED_LEAD not in street.flags


def test_the_documents_first_listed_rule_applies_to_every_list() -> None:
    """列第一位者为牵头单位，下同: the first unit leads in every later list; an explicit 牵头
    still names its own leads."""
    parsed = _parse(
        "关于加快数字乡村建设的2021年实施意见\n"
        "一、夯实基础\n"
        "（一）扩大光纤覆盖。（县工信局、县财政局负责，列第一位者为牵头单位，下同）\n"
        "（二）建设益农信息社。（县农业农村局、县商务局、县邮政分公司负责）\n"
        "（三）完善考核办法。（县委组织部、县人社局牵头负责）\n"
    )
    fibre = _task(parsed, "扩大光纤覆盖")
    assert (fibre.lead_units, fibre.cooperating_units) == (["县工信局"], ["县财政局"])
    shops = _task(parsed, "建设益农信息社")
    assert shops.lead_units == ["县农业农村局"]
    assert shops.cooperating_units == ["县商务局", "县邮政分公司"]
    review = _task(parsed, "完善考核办法")
    assert review.lead_units == ["县委组织部", "县人社局"]
    assert review.cooperating_units == []


def test_without_a_rule_every_unit_of_a_responsible_list_leads() -> None:
    parsed = _parse(
        "2020年防汛工作安排\n"
        "一、隐患排查。对全市水库开展拉网式排查。（市水务局、市应急局负责）\n"
        "二、物资储备。（市粮食和物资储备局负责）\n"
    )
    check = _task(parsed, "隐患排查")
    assert check.lead_units == ["市水务局", "市应急局"]
    assert check.cooperating_units == []


@pytest.mark.parametrize("label", ["责任部门", "责任科室", "承办单位"])
def test_other_names_of_the_responsible_field(label: str) -> None:
    parsed = _parse(f"2025年教育工作要点\n1.推进课后服务提质。（{label}：基教科、体卫艺科）\n")
    task = _task(parsed, "推进课后服务提质")
    assert task.lead_units == ["基教科", "体卫艺科"]


def test_host_and_assisting_units() -> None:
    parsed = _parse("2025年活动安排\n1.举办读书节。（主办单位：区文化馆；协办单位：区图书馆）\n")
    task = _task(parsed, "举办读书节")
    assert (task.lead_units, task.cooperating_units) == (["区文化馆"], ["区图书馆"])


def test_one_unit_line_covers_the_sub_items_above_it() -> None:
    parsed = _parse(
        "某市2019年安全生产专项整治责任分解\n"
        "一、危化品整治\n"
        "1.摸清底数\n"
        "（1）建立危化品企业台账。\n"
        "（2）开展重大危险源辨识。\n"
        "（3）完成隐患整改销号。\n"
        "（责任单位：市应急管理局、各县（市、区）政府）\n"
        "2.强化运输监管\n"
        "（1）推广车辆动态监控。\n"
        "（责任单位：市交通运输局）\n"
    )
    for starting in ("建立危化品企业台账", "开展重大危险源辨识", "完成隐患整改销号"):
        task = _task(parsed, starting)
        assert task.lead_units == ["市应急管理局", "各县（市、区）政府"], starting
        assert task.category == ["一、危化品整治", "1.摸清底数"]
    assert _task(parsed, "推广车辆动态监控").lead_units == ["市交通运输局"]
    assert len(parsed.tasks) == 4


def test_a_paragraph_with_several_unit_fields_holds_several_tasks() -> None:
    parsed = _parse(
        "2018年节水型城市创建方案\n"
        "一、重点任务\n"
        "（一）推进工业节水。开展节水诊断。（市工信局牵头，市水务局参与）"
        "实施园区废水循环利用。（市生态环境局指导）\n"
        "建设再生水管网。（市住建局负责）\n"
    )
    assert [task.lead_units for task in parsed.tasks] == [
        ["市工信局"],
        ["市生态环境局"],
        ["市住建局"],
    ]
    assert parsed.tasks[1].text.startswith("实施园区废水循环利用")


def test_page_chrome_metadata_signature_and_attachment_headers_are_not_tasks() -> None:
    parsed = _parse(
        "设为首页 | 加入收藏\n"
        "索引号：11370000/2022-00123\n"
        "发文机关：某县人民政府办公室\n"
        "成文日期：2022年03月01日\n"
        "某县人民政府办公室关于印发2022年营商环境重点任务的通知\n"
        "各乡镇人民政府，县政府各部门：\n"
        "现将《2022年营商环境重点任务》印发给你们，请认真贯彻落实。\n"
        "某县人民政府办公室\n"
        "2022年3月1日\n"
        "附件\n"
        "2022年营商环境重点任务\n"
        "1.压减开办企业时间至1个工作日。（县市场监管局负责）\n"
        "2.推行“一件事一次办”。（县行政审批局负责）\n"
        "扫一扫在手机打开当前页\n"
        "【打印本页】【关闭窗口】\n"
    )
    assert [task.text[:6] for task in parsed.tasks] == ["压减开办企业", "推行“一件事"]
    assert parsed.plan.issue_date == date(2022, 3, 1)
    assert parsed.plan.issuer == "某县人民政府办公室"
    assert all("扫一扫" not in task.text and "打印" not in task.text for task in parsed.tasks)


def test_an_item_cut_off_at_the_end_is_kept_flagged_and_without_units() -> None:
    parsed = _parse(
        "2023年科技工作要点\n"
        "1.实施高新技术企业倍增计划。（牵头单位：市科技局；配合单位：市税务局）\n"
        "2.建设概念验证中心，推动高校成果就地转化，支持企业联合高校（牵头单位：市科技局、市"
    )
    last = _task(parsed, "建设概念验证中心")
    assert TaskFlag.TRUNCATED in last.flags
    assert last.lead_units == []
    assert last.cooperating_units == []
    assert any(warning.code == "truncated" for warning in parsed.warnings)
    assert _task(parsed, "实施高新技术企业倍增计划").lead_units == ["市科技局"]


def test_cited_authors_are_not_assignees() -> None:
    parsed = _parse(
        "2024年机关党建工作要点\n"
        "1.深化理论学习。贯彻落实财政部、审计署《关于加强内部控制的指导意见》，"
        "组织专题读书班。（责任科室：机关党办）\n"
    )
    task = _task(parsed, "深化理论学习")
    assert task.lead_units == ["机关党办"]
    assert task.cooperating_units == []


def test_numbering_that_restarts_per_section_without_unit_fields() -> None:
    """No unit field anywhere: the items of the most used level are the tasks, no units."""
    parsed = _parse(
        "关于开展校园食品安全整治的通知\n"
        "一、整治内容\n"
        "1.食堂后厨。全面检查食材来源。\n"
        "2.校外配餐。核查配餐企业资质，2021年5月底前完成。\n"
        "二、工作步骤\n"
        "1.自查阶段。各校对照清单自查。\n"
        "2.督查阶段。教育部门会同市场监管部门抽查。\n"
    )
    assert len(parsed.tasks) == 4
    assert all(task.lead_units == [] and TaskFlag.NO_UNIT in task.flags for task in parsed.tasks)
    assert [w.line for w in parsed.warnings if w.code == "no_unit"] == [3, 4, 6, 7]
    assert _dues(_task(parsed, "校外配餐")) == [date(2021, 5, 31)]
    assert _task(parsed, "自查阶段").category == ["二、工作步骤"]


def test_an_unnumbered_closing_instruction_to_a_group_with_a_date_is_a_task() -> None:
    parsed = _parse(
        "2019年河湖清障行动方案\n"
        "一、清理违建。（区水务局负责）\n"
        "二、清理垃圾。（各街道办事处负责）\n"
        "各有关单位要于2019年8月底前将清障情况报区河长办。\n"
    )
    closing = _task(parsed, "各有关单位要于")
    assert closing.lead_units == ["各有关单位"]
    assert TaskFlag.INFERRED_LEAD in closing.flags
    assert _dues(closing) == [date(2019, 8, 31)]


def test_a_sentence_final_role_phrase_without_brackets() -> None:
    parsed = _parse(
        "2022年消费提振计划\n"
        "1.发放惠民消费券。分三批发放。市商务局牵头，市财政局配合。\n"
        "2.各地要加强协调配合。\n"
        "3.举办汽车展销会。市商务局负责。\n"
    )
    coupons = _task(parsed, "发放惠民消费券")
    assert (coupons.lead_units, coupons.cooperating_units) == (["市商务局"], ["市财政局"])
    assert all("加强协调配合" not in task.text for task in parsed.tasks)  # no unit: skipped
    assert any(warning.code == "skipped_item" for warning in parsed.warnings)


def test_traditional_text_and_half_width_punctuation() -> None:
    parsed = _parse(
        "2023年數位政府工作要點\n1.推動電子證照互認。(市政務(wù)服務局牽頭,各縣區(qū)政府按職責分工負責)\n"
    )
    task = parsed.tasks[0]
    assert task.lead_units == ["市政务服务局"]
    assert task.cooperating_units != []


def test_provenance_names_the_items_lines() -> None:
    parsed = _parse("2023年计划\n\n1.修缮文物建筑。\n（责任单位：县文物所）\n")
    assert parsed.tasks[0].source.lines == (3, 4)


def test_a_document_nobody_reads_says_what_it_found() -> None:
    with pytest.raises(DocumentError, match="no task list recognised: found no numbered item"):
        _parse("今天天气很好。\n我们去公园散步。\n")


# The reference plans no family parser reads any more: the general reader reads them (#11).
_READ_BY_THE_GENERAL_READER = {
    "bozhou-2018-internet-plus-gov-services.txt",
    "chuzhou-2018-egov-key-tasks.txt",
    "dongying-2017-egov-key-work.txt",
    "nantong-2017-gov-info-systems-integration.txt",
    "xuancheng-2016-2020-gov-informatization-plan.txt",
}


def test_the_reference_family_parsers_stay_more_certain() -> None:
    from domain.parsers import _parsers
    from domain.parsers.general import PARSER
    from tests.support.golden import EXAMPLES

    paths = sorted(EXAMPLES.glob("*.txt"))
    assert {path.name for path in paths} >= _READ_BY_THE_GENERAL_READER
    for path in paths:
        document = read_document(path.name, path.read_bytes())
        best = max(parser.score(document) for parser in _parsers() if parser is not PARSER)
        if path.name in _READ_BY_THE_GENERAL_READER:
            assert best < PARSER.score(document), path.name
        else:
            assert PARSER.score(document) < best, path.name


_PIECES = [
    "一、",
    "（二）",
    "3.",
    "4、",
    "（5）",
    "①",
    "第一部分",
    "\n",
    "。",
    "，",
    "；",
    "（",
    "）",
    "[",
    "]",
    "牵头单位：",
    "责任单位：",
    "配合单位：",
    "完成时限：",
    "负责",
    "牵头",
    "配合",
    "会同",
    "等",
    "市财政局",
    "各县（市、区）政府",
    "2024年6月底前",
    "每年3月",
    "列第一位者为牵头单位，下同",
    "扫一扫",
    "2024年1月2日",
    "附件1",
    "推进工作",
    "<p>",
    "</p>",
    "(",
    ")",
    ":",
    ";",
]


@pytest.mark.fault
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), max_size=60), st.sampled_from(["x.txt", "x.html"]))
def test_any_arrangement_of_the_grammar_parses_or_is_one_located_error(
    pieces: list[str], file: str
) -> None:
    text = "2024年计划\n" + "".join(pieces)
    try:
        parsed = parse_document(file, text.encode("utf-8"), load_directory())
    except DocumentError as error:
        message, tasks = str(error), []
    else:
        message, tasks = file, parsed.tasks
    assert message.startswith(file)
    assert "\n" not in message
    for task in tasks:
        assert task.text.strip()
        assert task.source.lines[0] <= task.source.lines[1]


def test_a_field_holding_only_the_documents_rule_names_no_unit() -> None:
    """ "牵头单位：列第一位者为牵头单位，下同" is the rule, not a unit field: once the rule is
    read no label is left, and the plan is one located error, not an IndexError (found by
    the arrangement test above)."""
    assert parse_unit_phrase("牵头单位：列第一位者为牵头单位，下同") is None
    with pytest.raises(DocumentError) as raised:
        parse_document("x.txt", "2024年计划\n牵头单位：列第一位者为牵头单位，下同".encode())
    assert str(raised.value).startswith("x.txt")


def test_the_title_of_an_item_holding_several_tasks_is_their_category() -> None:
    parsed = _parse(
        "2018年节水行动\n（一）推进工业节水。开展节水诊断。（市工信局负责）\n"
        "实施废水循环利用。（市生态环境局负责）\n"
    )
    assert [task.text for task in parsed.tasks] == [
        "开展节水诊断。",
        "实施废水循环利用。",
    ]
    assert all(task.category == ["（一）推进工业节水"] for task in parsed.tasks)


def test_an_item_whose_text_opens_with_a_number_follows_its_predecessor() -> None:
    """ "3.5G基站…" after item 2 is item 3 (its text starts with 5G), not a decimal."""
    parsed = _parse(
        "2020年信息化计划\n1.建设政务云。（市大数据局负责）\n2.整合机房。（市大数据局负责）\n"
        "3.5G基站新建200个。（市通信办负责）\n"
    )
    # Its number is cut from its text, as every item's is (the text kept "3." before).
    assert [task.text[:6] for task in parsed.tasks] == ["建设政务云。", "整合机房。", "5G基站新建"]
    assert [task.id for task in parsed.tasks] == ["1", "2", "3"]


def test_a_headings_unit_field_covers_the_items_under_it() -> None:
    parsed = _parse(
        "2023年营商环境提升方案\n"
        "一、优化政务服务（牵头单位：市政务服务中心；配合单位：市大数据局）\n"
        "1.推行帮办代办。\n"
        "2.延时错时服务。\n"
        "二、降低要素成本\n"
        "1.降低用电成本。（市发改委负责）\n"
    )
    agency = _task(parsed, "推行帮办代办")
    assert agency.lead_units == ["市政务服务中心"]
    assert agency.cooperating_units == ["市大数据局"]
    assert TaskFlag.INHERITED_UNIT in agency.flags
    assert _task(parsed, "延时错时服务").lead_units == ["市政务服务中心"]
    assert _task(parsed, "降低用电成本").lead_units == ["市发展改革委"]  # its alias
    assert len(parsed.tasks) == 3


def test_a_bare_list_of_offices_closing_an_item_is_read_as_a_unit_cell() -> None:
    parsed = _parse(
        "2022年助残工作安排\n1.开展残疾人就业培训。（市残联、市人社局）\n"
        "2.落实两项补贴，覆盖全市（市、区）两级。\n"
    )
    training = _task(parsed, "开展残疾人就业培训")
    assert training.lead_units == ["市残联"]
    assert training.cooperating_units == ["市人力资源社会保障局"]  # 市人社局, by its alias
    assert TaskFlag.INFERRED_LEAD in training.flags
    assert len(parsed.tasks) == 1  # "（市、区）" names no office


def test_a_family_parser_that_claims_a_plan_it_cannot_read_hands_it_on() -> None:
    """Unit lines （责任单位：…） and （一） make the 东营 family claim this plan; it has no
    sections 一、二、, so that parser refuses it and the general reader reads it."""
    parsed = _parse(
        "某市2017年应急体系建设规划责任分解\n"
        "（一）预案建设\n1.完善预案体系\n（1）修订总体预案。\n（2）推进预案精编化。\n"
        "（责任单位：市应急局、各县（市、区）政府）\n"
        "2.健全体制\n（1）建设应急指挥中心。\n（责任单位：市应急局）\n"
        "（二）监测预警\n1.加强地震监测。\n（责任单位：市地震局）\n"
    )
    assert parsed.plan.format == "general"
    assert [task.lead_units[0] for task in parsed.tasks] == ["市应急局"] * 3 + ["市地震局"]


def test_a_field_lines_unit_list_may_wrap_onto_the_next_line() -> None:
    parsed = _parse(
        "2024年文明城市创建任务\n1）整治背街小巷\n责任单位：区城管局、区住建局、\n区交警大队\n"
        "完成时限：2024年9月底前\n2）规范农贸市场\n责任单位：区市场监管局\n"
    )
    alleys = _task(parsed, "整治背街小巷")
    assert alleys.lead_units == ["区城管局", "区住建局", "区交警大队"]
    assert _dues(alleys) == [date(2024, 9, 30)]
    assert _task(parsed, "规范农贸市场").lead_units == ["区市场监管局"]


def test_a_plan_on_one_line_of_running_text_is_cut_at_its_items() -> None:
    body = (
        "一、基础设施。（一）建设城市大脑。整合各部门视频资源，形成统一调度平台，"
        "实现城市运行态势一屏掌握。（牵头单位：市数据局；配合单位：市公安局）"
        "（二）完善光网。推动千兆光网进小区，引用“（三）”格式的条目不算。（责任单位：市通信办）"
        "二、应用服务。（一）推行掌上办事。高频事项全部实现掌上可办。（责任单位：市行政审批局）"
    )
    parsed = _parse("2021年数字城市建设要点\n" + body + "\n")
    leads = [task.lead_units for task in parsed.tasks]
    assert leads == [["市数据局"], ["市通信办"], ["市行政审批局"]]
    assert parsed.tasks[2].category == ["二、应用服务"]


def test_a_unit_field_inside_or_opening_an_item_closes_no_sentence() -> None:
    parsed = _parse(
        "2023年乡镇重点工作\n"
        "1.【牵头单位：镇农办】推进高标准农田建设，新增5000亩。\n"
        "2.整治人居环境（责任单位：镇环卫所），年底前完成30个村。\n"
        "3.另起一段的收尾说明。（镇党政办负责）\n"
    )
    farmland = _task(parsed, "推进高标准农田建设")
    assert farmland.lead_units == ["镇农办"]
    assert farmland.text.startswith("【牵头单位：镇农办】")
    village = _task(parsed, "整治人居环境")
    assert village.lead_units == ["镇环卫所"]
    assert village.text.endswith("年底前完成30个村。")
    assert len(parsed.tasks) == 3


def _word(*paragraphs: str) -> bytes:
    word = docx.Document()
    for paragraph in paragraphs:
        word.add_paragraph(paragraph)
    buffer = BytesIO()
    word.save(buffer)
    return buffer.getvalue()


def test_a_word_file_without_a_task_table_is_read_by_its_paragraphs() -> None:
    data = _word(
        "2025年老旧小区改造工作方案",
        "一、改造任务",
        "1.完成32个小区管网改造。（牵头单位：区住建局；配合单位：区水务局）",
        "2.加装电梯20部，2025年10月底前完工。（区住建局负责）",
    )
    parsed = parse_document("方案.docx", data, load_directory())
    assert parsed.plan.format == "general"
    assert [task.lead_units for task in parsed.tasks] == [["区住建局"], ["区住建局"]]
    assert parsed.tasks[0].source.lines == (3, 3)  # paragraph 3
    assert _dues(parsed.tasks[1]) == [date(2025, 10, 31)]


def test_a_word_file_with_neither_a_table_nor_items_says_so() -> None:
    data = _word("会议纪要", "与会同志交流了意见。")
    with pytest.raises(DocumentError, match="found no numbered item"):
        parse_document("纪要.docx", data, load_directory())


def test_paragraphs_without_numbers_are_items_when_they_name_units() -> None:
    parsed = _parse(
        "2022年全民健身实施计划\n"
        "新建健身步道50公里。（市体育局牵头，市自然资源局配合）\n"
        "举办社区运动会。（各区政府负责）\n"
        "全市上下要高度重视。\n"
    )
    assert [task.lead_units for task in parsed.tasks] == [["市体育局"], ["各区政府"]]
    assert parsed.tasks[0].source.lines == (2, 2)


@pytest.mark.parametrize(
    ("phrase", "leads", "cooperating"),
    [
        ("县民政局、县残联负责，县民政局为牵头单位", ["县民政局"], ["县残联"]),
        ("各乡镇负责落实", ["各乡镇"], []),
        ("县卫健局负责，各乡镇负责落实", ["县卫健局"], ["各乡镇"]),
        ("县残疾人联合会、县民政局负责", ["县残疾人联合会", "县民政局"], []),
        ("县财政局配合", [], ["县财政局"]),
    ],
)
def test_more_role_phrases(phrase: str, leads: list[str], cooperating: list[str]) -> None:
    parsed = _parse(f"2022年助残工作安排\n1.开展康复服务。（{phrase}）\n")
    task = parsed.tasks[0]
    assert (task.lead_units, task.cooperating_units) == (leads, cooperating)


def test_the_first_listed_rule_in_other_words() -> None:
    parsed = _parse(
        "2022年工作分工\n注：排在首位的为牵头单位。\n1.开展康复服务。（县民政局、县残联负责）\n"
    )
    assert parsed.tasks[0].lead_units == ["县民政局"]
    assert parsed.tasks[0].cooperating_units == ["县残联"]


def test_a_notice_written_as_one_line_is_cut_at_its_items_and_signature() -> None:
    """A heading runs into its first item ("一、推进应用（一）建设平台。"), and the office and
    the date after the last sentence sign the notice: not a task, and that date, not the
    page's 发布时间 (when it was posted), is the plan's issue date."""
    body = (
        "各单位：现将有关事项通知如下：一、夯实网络基础（一）扩容机房设施。年内完成机房扩容和线路"
        "改造。（责任单位：市数据局）（二）改造线路。更新全市骨干线路。（责任单位：市通信办）"
        "二、推进应用（一）建设平台。推广办公平台。（责任单位：市数据局）"
        "某市人民政府办公室2019年3月2日扫一扫在手机打开"
    )
    header = "某市人民政府办公室关于做好2019年信息化工作的通知\n发布时间：2019年03月05日\n"
    parsed = general.PARSER.parse(
        SourceDocument.from_text("notice.txt", header + body), load_directory()
    )
    assert [task.text for task in parsed.tasks] == [
        "扩容机房设施。年内完成机房扩容和线路改造。",
        "改造线路。更新全市骨干线路。",
        "建设平台。推广办公平台。",
    ]
    assert [task.category for task in parsed.tasks] == [
        ["一、夯实网络基础"],
        ["一、夯实网络基础"],
        ["二、推进应用"],
    ]
    assert parsed.plan.issue_date == date(2019, 3, 2)


def test_an_item_listing_entries_with_their_own_units_is_one_task_in_parts() -> None:
    """ "——" entries each closed by their units are parts N-1, N-2 of their item's task; each
    reads after the item's preamble, and the item's title is their category."""
    text = (
        "某区2020年重点工作安排\n"
        "（一）整合基础数据。建立共享目录。年内整合以下数据：——人口数据。（责任单位：区公安分局）"
        "——法人数据。（责任单位：区市场监管局）\n"
        "（二）建设平台。完成平台上线。（责任单位：区数据局）\n"
    )
    parsed = general.PARSER.parse(SourceDocument.from_text("安排.txt", text), load_directory())
    assert [(task.id, task.text) for task in parsed.tasks] == [
        ("1-1", "建立共享目录。年内整合以下数据：人口数据。"),
        ("1-2", "建立共享目录。年内整合以下数据：法人数据。"),
        ("2", "建设平台。完成平台上线。"),
    ]
    assert parsed.tasks[0].category == ["（一）整合基础数据"]
    assert parsed.tasks[1].lead_units == ["区市场监管局"]


def test_a_safeguard_section_naming_no_unit_is_one_skipped_section_warning() -> None:
    """The closing 保障措施 section, none of whose items names a unit, is not read as tasks:
    one skipped_section warning names it and its items."""
    text = (
        "某县2021年数字乡村工作要点\n"
        "一、重点任务\n（一）建设益农信息社。年内覆盖全部行政村。（责任单位：县农业农村局）\n"
        "二、保障措施\n（一）加强组织领导。成立工作专班。\n（二）强化督查考核。定期通报进展。\n"
    )
    parsed = general.PARSER.parse(SourceDocument.from_text("要点.txt", text), load_directory())
    assert [task.text for task in parsed.tasks] == ["建设益农信息社。年内覆盖全部行政村。"]
    assert [(w.code, w.line) for w in parsed.warnings] == [("skipped_section", 4)]
    assert "（一）加强组织领导、（二）强化督查考核" in parsed.warnings[0].message


def test_a_relative_deadline_counts_from_the_signature_date() -> None:
    parsed = _parse(
        "梧桐市人民政府办公室关于印发梧桐市2022年营商环境优化任务的通知\n"
        "一、优化审批\n"
        "1.制定审批事项清单。本通知印发之日起30日内完成。（牵头单位：市行政审批局）\n"
        "2.推行容缺受理。（牵头单位：市政务服务中心；完成时限：2022年6月底前）\n"
        "梧桐市人民政府办公室\n"
        "2022年3月1日\n"
    )
    assert parsed.plan.issue_date == date(2022, 3, 1)
    checklist = _task(parsed, "制定审批事项清单")
    assert _dues(checklist) == [date(2022, 3, 31)]
    assert TaskFlag.RELATIVE_DATE in checklist.flags


def test_a_short_lead_label_and_a_lead_verb_after_it_name_the_leads() -> None:
    """（牵头：X） is a lead label as （牵头单位：X） is, and "分别牵头" after a lead label only
    repeats that its units lead: it is no part of a unit's name."""
    text = (
        "某县2021年政务信息化工作要点\n"
        "1.整合业务专网。年内完成整合。（牵头：县直相关部门分别牵头）\n"
        "2.建设共享平台。年内上线运行。（牵头部门：县数据局、县公安局分别牵头）\n"
    )
    parsed = general.PARSER.parse(SourceDocument.from_text("要点.txt", text), load_directory())
    assert [task.lead_units for task in parsed.tasks] == [
        ["县直相关部门"],
        ["县数据局", "县公安局"],
    ]


def test_a_pages_name_field_titles_the_plan_and_its_posting_time_does_not_date_it() -> None:
    """A page's metadata "名称：… 文号：…" names the plan above the site's chrome; its
    发布日期 is when the page was posted, not when the plan was issued."""
    text = (
        "• 长辈版\n某县数据资源管理局（政务服务管理局）\n"
        "名称：某市“十四五”数字政府建设规划 文号：某政办〔2021〕9号\n发布日期：2023-05-06\n"
        "1.建设政务云平台。（牵头单位：市数据局）\n"
    )
    parsed = general.PARSER.parse(SourceDocument.from_text("规划.txt", text), load_directory())
    plan = parsed.plan
    assert plan.title == "某市“十四五”数字政府建设规划"
    assert (plan.period_start, plan.period_end) == (2021, 2025)
    assert plan.issue_date is None


def test_an_item_whose_text_opens_with_a_year_loses_its_number_not_its_year() -> None:
    """ "3.2026年9月底前完成…": item 3 (after item 2) whose text opens with the year; its
    number is cut from the text, the year and the deadline in it are kept."""
    parsed = _parse(
        "2026年重点任务\n"
        "1.推行高效办成一件事。（责任单位：市政务服务中心）\n"
        "2.开展营商环境评估。（责任单位：市统计局）\n"
        "3.2026年9月底前完成涉企文件清理。（牵头单位：市司法局）\n"
    )
    third = parsed.tasks[2]
    assert third.id == "3"
    assert third.text == "2026年9月底前完成涉企文件清理。"
    assert [m.due.isoformat() for m in third.milestones] == ["2026-09-30"]
