"""Ledger cells that say who leads in words, and a ledger named after its year (hand-written
ledgers, not the corpus's)."""

from __future__ import annotations

from domain.parsers import parse_document
from domain.plan import ParsedPlan, TaskFlag
from domain.units import load_directory


def _csv(text: str, file: str = "重点任务台账.csv") -> ParsedPlan:
    return parse_document(file, text.encode("utf-8"), load_directory())


def test_a_responsibility_cell_in_words_is_read_as_it_says() -> None:
    parsed = _csv(
        "序号,工作任务,责任单位,完成时限\n"
        "1,建设人才驿站,县人社局牵头，县财政局、县住建局按职责分工负责,2023年6月底前\n"
        "2,开展技能竞赛,县总工会、县人社局按职责分工负责,2023年10月底前\n"
        "3,发放创业补贴,县人社局、县财政局,2023年12月底前\n"
    )
    first, second, third = parsed.tasks
    assert first.lead_units == ["县人社局"]
    assert first.cooperating_units == ["县财政局", "县住建局"]
    assert TaskFlag.INFERRED_LEAD not in first.flags
    assert second.lead_units == ["县总工会", "县人社局"]  # 负责 with no lead named: all lead
    assert second.cooperating_units == []
    assert third.lead_units == ["县人社局"]  # a bare list keeps the usual reading
    assert TaskFlag.INFERRED_LEAD in third.flags


def test_role_words_in_a_lead_column_are_not_part_of_the_names() -> None:
    parsed = _csv(
        "序号,工作任务,牵头单位,配合单位,完成时限\n"
        "1,建设算力平台,县数据局、县科技局按职责分工负责,县财政局,2023年12月\n"
    )
    task = parsed.tasks[0]
    assert task.lead_units == ["县数据局", "县科技局"]
    assert task.cooperating_units == ["县财政局"]


def test_a_ledger_without_a_year_in_its_title_takes_the_file_names() -> None:
    parsed = _csv("序号,工作任务,责任单位\n1,修缮校舍,县教育局\n", file="tasks_2027_final.csv")
    assert parsed.plan.period_start == 2027
    assert parsed.tasks[0].milestones[0].due.year == 2027
