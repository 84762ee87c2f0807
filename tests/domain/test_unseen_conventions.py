"""Conventions of plans outside the corpus, each found by the unseen set (tests/unseen/).

Each test is a small plan of its own showing one convention an office writes; the unseen
set's floor at the end holds the whole set's score.
"""

from __future__ import annotations

import pytest

from domain.errors import DocumentError
from domain.parsers import parse_document
from domain.plan import ParsedPlan
from domain.units import load_directory
from tests.domain.test_corpus_fidelity import UNSEEN_ALL_RIGHT_FLOOR
from tests.support.corpus_score import UNSEEN, score_corpus, table


def _parse(text: str, file: str = "计划.txt") -> ParsedPlan:
    return parse_document(file, text.encode("utf-8"), load_directory())


def _roles(parsed: ParsedPlan) -> list[tuple[list[str], list[str]]]:
    return [(task.lead_units, task.cooperating_units) for task in parsed.tasks]


def test_lead_and_cooperating_offices_of_a_bureau_are_fields_too() -> None:
    """牵头科室 / 配合科室 (a bureau's own offices) read like 牵头单位 / 配合单位."""
    parsed = _parse(
        "某市市场监管局2024年工作要点\n"
        "1.开展抽检行动。（牵头科室：食品经营科；配合科室：稽查支队、法规科；完成时限：2024年11月底前）\n"
        "2.组织宣传周活动。（牵头处室：综合处；配合处室：宣传处）\n"
    )
    assert _roles(parsed) == [(["食品经营科"], ["稽查支队", "法规科"]), (["综合处"], ["宣传处"])]


def test_a_deadline_clause_inside_a_role_parenthesis() -> None:
    """（X牵头，Y配合，2025年11月底前完成）: the date is the phrase's deadline, not a name."""
    parsed = _parse(
        "某市2025年养老服务任务\n"
        "1.新建养老服务设施20个。（市民政局牵头，市财政局配合，2025年11月底前完成）\n"
        "2.培训养老护理员。(市人力社保局、市民政局按职责分工负责,2025年12月底前)\n"
        "3.建立综合监管制度。（市民政局牵头，市市场监管局配合，持续推进）\n"
    )
    assert _roles(parsed) == [
        (["市民政局"], ["市财政局"]),
        (["市人力社保局", "市民政局"], []),
        (["市民政局"], ["市市场监管局"]),
    ]
    assert [m.due.isoformat() for m in parsed.tasks[0].milestones] == ["2025-11-30"]


def test_a_role_parenthesis_wrapped_over_two_lines() -> None:
    """A PDF's text layer breaks lines at the page width, inside the parenthesis too."""
    parsed = _parse(
        "某市2025年养老服务任务\n"
        "1.新建养老服务设施20个，新增养老床位1000张。（市民政局牵头，市财政局、\n"
        "市自然资源和规划局配合）\n"
        "2.开展适老化改造2000户。（市民政局牵头，市残联配合）\n"
    )
    assert _roles(parsed) == [
        (["市民政局"], ["市财政局", "市自然资源和规划局"]),
        (["市民政局"], ["市残联"]),
    ]


def test_a_unit_marked_as_lead_inside_a_responsible_list() -> None:
    """责任单位：X（牵头），Y，Z: the marked unit leads, the others cooperate."""
    parsed = _parse(
        "某市2023年民生实事任务分解表\n"
        "一、新建公办幼儿园30所。\n"
        "责任单位：市教育局（牵头），市财政局，各县（市、区）人民政府\n"
        "二、新增城镇就业4万人。\n"
        "责任单位：市人力资源社会保障局\n"
    )
    assert _roles(parsed) == [
        (["市教育局"], ["市财政局", "各县（市、区）政府"]),  # the directory's name for it
        (["市人力资源社会保障局"], []),
    ]


def test_a_headings_unit_line_covers_the_items_under_it() -> None:
    """（一）title, then a 牵头单位：…；责任单位：… line of its own, then items 1. 2.: theirs."""
    parsed = _parse(
        "某市2023年人居环境整治工作要点\n"
        "（一）推进农村厕所革命\n"
        "牵头单位：市农业农村局；责任单位：各区县人民政府\n"
        "1.新改建农村户厕1.2万户。\n"
        "2.建立长效管护机制。\n"
        "（二）加强生活垃圾治理\n"
        "牵头单位：市城市管理局；责任单位：市生态环境局\n"
        "3.完善收运处置体系。\n"
    )
    assert [task.text[:4] for task in parsed.tasks] == ["新改建农", "建立长效", "完善收运"]
    assert _roles(parsed) == [
        (["市农业农村局"], ["各区县人民政府"]),
        (["市农业农村局"], ["各区县人民政府"]),
        (["市城市管理局"], ["市生态环境局"]),
    ]


def test_quarterly_staged_targets_are_milestones_of_the_plan_year() -> None:
    """一季度…；二季度…；年底前…: each stage is due at its quarter's end."""
    parsed = _parse(
        "某市2024年一网通办任务清单\n"
        "1.推进事项标准化。一季度完成清单梳理；二季度完成指南修订；第三季度完成系统配置；"
        "四季度实现无差别受理。（牵头单位：市数据资源局）\n"
    )
    dues = [m.due.isoformat() for m in parsed.tasks[0].milestones]
    assert dues == ["2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31"]


def test_a_pipe_table_row_wrapped_onto_a_line_with_an_empty_number() -> None:
    """| 1 | 推进…新增深 | … |, then |  | 远海养殖网箱50个 |  | 市自然资源局 | |: one row."""
    parsed = _parse(
        "某市2024年海洋经济发展重点任务分工方案\n"
        "| 序号 | 重点任务 | 牵头单位 | 配合单位 | 完成时限 |\n"
        "|---|---|---|---|---|\n"
        "| 1 | 推进海洋牧场建设，新增深 | 市海洋发展局 | 市财政局、 | 2024年12月底前 |\n"
        "|   | 远海养殖网箱50个 |   | 市自然资源局 |   |\n"
        "| 2 | 建设航道二期工程 | 市交通运输局 | 湛江港集团 | 2024年10月底前 |\n"
    )
    assert [task.text for task in parsed.tasks] == [
        "推进海洋牧场建设，新增深远海养殖网箱50个",
        "建设航道二期工程",
    ]
    assert _roles(parsed) == [
        (["市海洋发展局"], ["市财政局", "市自然资源局"]),
        (["市交通运输局"], ["湛江港集团"]),
    ]


_ONE_CELL_PER_LINE = (
    "某市2024年营商环境攻坚任务\n重点任务\n牵头单位\n配合单位\n完成时限\n"
    "推行包容审慎监管\n市司法局\n市市场监管局、市生态环境局\n2024年6月底前\n"
    "开展拖欠账款清理\n市经济和信息化局\n市财政局\n持续推进\n"
)


def test_a_table_flattened_to_one_cell_per_line_without_numbers() -> None:
    """The header's four lines, then four lines a row: the header's width splits the rows."""
    parsed = _parse(_ONE_CELL_PER_LINE)
    assert [task.text for task in parsed.tasks] == ["推行包容审慎监管", "开展拖欠账款清理"]
    assert _roles(parsed) == [
        (["市司法局"], ["市市场监管局", "市生态环境局"]),
        (["市经济和信息化局"], ["市财政局"]),
    ]
    assert [m.due.isoformat() for m in parsed.tasks[0].milestones] == ["2024-06-30"]
    assert parsed.tasks[0].source.lines == (6, 9)


def test_lines_that_do_not_fall_into_rows_of_the_headers_width_are_not_that_table() -> None:
    """One cell missing: the rows cannot be told apart, so the layout is not claimed."""
    with pytest.raises(DocumentError, match="no task list recognised"):
        _parse(_ONE_CELL_PER_LINE.replace("市财政局\n", ""))


def test_half_year_staged_targets_are_milestones_of_the_plan_year() -> None:
    """上半年不少于20场；下半年…: 30 June and 31 December of the plan year."""
    parsed = _parse(
        "某区2025年消费提振行动方案\n"
        "（一）举办促消费活动，其中上半年不少于20场，下半年不少于30场。【牵头单位：区商务局】\n"
    )
    assert [m.due.isoformat() for m in parsed.tasks[0].milestones] == ["2025-06-30", "2025-12-31"]


def test_a_lead_marked_inside_a_ledgers_responsible_cell() -> None:
    """A 责任单位 cell "县应急管理局（牵头）、县大数据中心": the marked unit leads."""
    parsed = _parse(
        "序号,工作任务,责任单位,完成时限\n1,建设智慧应急指挥平台,县应急管理局（牵头）、县大数据中心,"
        "2024年第三季度\n",
        "台账.csv",
    )
    assert _roles(parsed) == [(["县应急管理局"], ["县大数据中心"])]


def test_the_unseen_set_reads_at_least_as_well_as_its_floor() -> None:
    score = score_corpus(UNSEEN)
    assert score.count("all_right") >= UNSEEN_ALL_RIGHT_FLOOR, table(score)
