"""Nothing a ledger (台账) says is lost: every cell of the table ends up in its task or in a
warning naming its line (issue #11). The ledgers are written here by hand."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import openpyxl

from domain.parsers import read_document
from domain.parsers.common import SourceDocument
from domain.parsers.ledger import PARSER
from domain.plan import ParsedPlan, ParseWarning, Recurrence, TaskFlag
from domain.units import load_directory


def _csv(text: str) -> ParsedPlan:
    return PARSER.parse(SourceDocument.from_text("台账.csv", text), load_directory())


def _codes(warnings: list[ParseWarning], code: str) -> list[ParseWarning]:
    return [warning for warning in warnings if warning.code == code]


LOSSES = """\
2025年重点工作任务台账,,,,
序号,工作任务,牵头单位,责任单位,完成时限
1,报送重点项目进展,市发改委,市财政局、市统计局,每月25日前
2,实施新的项目审批办法,市行政审批局,各县区政府,2025年7月1日起实施
3,通报重点项目推进情况,市政府办公室,市发改委,每季度
4,总结数字政府建设,市大数据管理局,,每半年
5,优化营商环境,市发改委,,长期坚持
6,建设统一数据平台,市大数据管理局,市财政局,2025年12月
"""


def test_responsibility_units_beside_a_lead_column_cooperate() -> None:
    """牵头单位 plus 责任单位: the 责任单位 cooperate (they were dropped)."""
    first = _csv(LOSSES).tasks[0]
    assert first.lead_units == ["市发展改革委"]
    assert first.cooperating_units == ["市财政局", "市统计局"]
    assert TaskFlag.INFERRED_LEAD not in first.flags


def test_responsibility_and_cooperating_columns_beside_a_lead_column_all_cooperate() -> None:
    parsed = _csv(
        "序号,任务,牵头单位,责任单位,配合单位,时限\n"
        "1,建设数据平台,市大数据管理局,市财政局,市公安局、市财政局,2025年底前\n"
    )
    (task,) = parsed.tasks
    assert task.lead_units == ["市大数据管理局"]
    assert task.cooperating_units == ["市财政局", "市公安局"]


def test_a_monthly_deadline_cell_keeps_its_day() -> None:
    first = _csv(LOSSES).tasks[0]
    assert first.recurrence == Recurrence(frequency="monthly", day=25, raw="每月25日前")
    assert first.milestones == []


def test_a_start_in_the_deadline_cell_is_a_start_not_a_due_date() -> None:
    """ "2025年7月1日起实施" starts the work on 1 July; it is not due then."""
    parsed = _csv(LOSSES)
    second = parsed.tasks[1]
    assert second.starts == date(2025, 7, 1)
    assert date(2025, 7, 1) not in [milestone.due for milestone in second.milestones]
    assert [milestone.due for milestone in second.milestones] == [date(2025, 12, 31)]
    assert TaskFlag.IMPLICIT_DEADLINE in second.flags
    (warning,) = _codes(parsed.warnings, "start_in_deadline_cell")
    assert (warning.line, warning.task_id) == (4, "2")
    assert "2025-07-01" in warning.message
    assert "2025-12-31" in warning.message
    assert not [w for w in _codes(parsed.warnings, "no_date_in_deadline_cell") if w.task_id == "2"]


def test_quarterly_and_half_yearly_deadline_cells_recur() -> None:
    parsed = _csv(LOSSES)
    third, fourth = parsed.tasks[2], parsed.tasks[3]
    assert third.recurrence == Recurrence(frequency="quarterly", raw="每季度")
    assert fourth.recurrence == Recurrence(frequency="half-yearly", raw="每半年")
    assert third.milestones == fourth.milestones == []
    assert not _codes(parsed.warnings, "no_date_in_deadline_cell")


def test_an_ongoing_deadline_cell_in_an_annual_ledger_is_ongoing() -> None:
    fifth = _csv(LOSSES).tasks[4]
    assert fifth.ongoing
    assert fifth.milestones == []


def test_a_month_in_the_deadline_cell_is_its_last_day() -> None:
    sixth = _csv(LOSSES).tasks[5]
    assert [milestone.due for milestone in sixth.milestones] == [date(2025, 12, 31)]


def test_an_unread_column_is_kept_in_the_task_text_and_warned_once() -> None:
    """A 备注 column is no task field: each of its cells is appended to its task's text,
    and one warning names the column and its header line."""
    parsed = _csv(
        "2025年台账,,,,,\n"
        "序号,任务,牵头单位,时限,备注,完成情况\n"
        "1,建设数据平台,市大数据管理局,2025年底前,需财政资金支持,\n"
        "2,推进一网通办,市人社局,2025年6月底前,,已完成80%\n"
        "3,编制年度报告,市大数据管理局,2025年9月底前,,\n"
    )
    first, second, third = parsed.tasks
    assert first.text == "建设数据平台（备注：需财政资金支持）"
    assert second.text == "推进一网通办（完成情况：已完成80%）"
    assert third.text == "编制年度报告"
    assert [m.due for m in first.milestones] == [date(2025, 12, 31)]
    unread = _codes(parsed.warnings, "unread_column")
    assert [(w.line, w.message) for w in unread] == [
        (
            2,
            "column 5 (备注) is no task field: its text is appended to the task text of line 3",
        ),
        (
            2,
            "column 6 (完成情况) is no task field: its text is appended to the task text of line 4",
        ),
    ]


def test_a_note_is_not_read_for_deadlines_or_units() -> None:
    """Text appended from an unread column is kept, not interpreted: its date is no due date."""
    parsed = _csv(
        "序号,任务,牵头单位,时限,备注\n1,建设平台,市财政局,2025年底前,2026年6月底前验收\n"
    )
    (task,) = parsed.tasks
    assert [m.due for m in task.milestones] == [date(2025, 12, 31)]
    assert task.text == "建设平台（备注：2026年6月底前验收）"


def test_a_second_task_column_joins_the_task_text() -> None:
    """任务名称 and 工作内容 both name the task: the content is not dropped."""
    parsed = _csv(
        "序号,任务名称,工作内容,责任单位\n1,完善数据制度,2025年底前出台数据条例。,市大数据管理局\n"
    )
    (task,) = parsed.tasks
    assert task.text == "完善数据制度：2025年底前出台数据条例。"
    assert [m.due for m in task.milestones] == [date(2025, 12, 31)]
    assert not _codes(parsed.warnings, "unread_column")


def test_a_second_deadline_column_adds_its_dates() -> None:
    parsed = _csv(
        "序号,任务,牵头单位,时间节点,完成时限\n1,建设平台,市财政局,2025年6月底前,2025年12月底前\n"
    )
    (task,) = parsed.tasks
    assert [m.due for m in task.milestones] == [date(2025, 6, 30), date(2025, 12, 31)]


def test_a_column_without_a_header_is_kept_too() -> None:
    """A blank header cell between named ones: the text under it is no less the office's."""
    parsed = _csv("序号,任务,,牵头单位,时限\n1,建设平台,另附清单,市财政局,2025年底前\n")
    (task,) = parsed.tasks
    assert task.text == "建设平台（第3列：另附清单）"
    assert task.lead_units == ["市财政局"]
    (warning,) = _codes(parsed.warnings, "unread_column")
    assert warning.message.startswith("column 3 (no header) is no task field")


def test_xlsx_ledger_keeps_every_cell() -> None:
    """The same rules in an XLSX sheet, with row numbers as lines."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in [
        ["2025年任务台账", None, None, None, None, None],
        ["序号", "工作任务", "牵头单位", "责任单位", "完成时限", "备注"],
        [1, "报送项目进展", "市发改委", "市财政局", "每月25日前", "报市政府"],
        [2, "推广新办法", "市人社局", None, "2025年7月1日起实施", None],
    ]:
        sheet.append(row)
    buffer = BytesIO()
    workbook.save(buffer)
    parsed = PARSER.parse(read_document("台账.xlsx", buffer.getvalue()), load_directory())
    first, second = parsed.tasks
    assert first.cooperating_units == ["市财政局"]
    assert first.recurrence == Recurrence(frequency="monthly", day=25, raw="每月25日前")
    assert first.text == "报送项目进展（备注：报市政府）"
    assert second.starts == date(2025, 7, 1)
    (unread,) = _codes(parsed.warnings, "unread_column")
    assert unread.message == (
        "column 6 (备注) is no task field: its text is appended to the task text of row 3 "
        "of sheet Sheet"
    )


def test_a_relative_deadline_cell_is_flagged_and_warned() -> None:
    """No issue date in a ledger: "印发之日起30日内" leaves the plan default, flagged."""
    parsed = _csv("2025年台账,,,\n序号,任务,牵头单位,时限\n1,清理文件,市司法局,印发之日起30日内\n")
    (task,) = parsed.tasks
    assert TaskFlag.RELATIVE_DATE in task.flags
    assert [w.code for w in parsed.warnings if w.task_id == "1"] == ["relative_date"]


def test_a_relative_deadline_is_placed_from_the_issue_date_above_the_header() -> None:
    parsed = _csv(
        "2025年台账,,,\n2025年3月14日,,,\n序号,任务,牵头单位,时限\n"
        "1,清理文件,市司法局,印发之日起30日内\n"
    )
    (task,) = parsed.tasks
    assert parsed.plan.issue_date == date(2025, 3, 14)
    assert [m.due for m in task.milestones] == [date(2025, 4, 13)]
    assert TaskFlag.RELATIVE_DATE in task.flags
    (warning,) = _codes(parsed.warnings, "relative_date")
    assert "confirm" in warning.message


def test_a_line_above_the_header_that_is_not_the_title_is_warned() -> None:
    """The title, the 文号 and the date above the header are read; a 填报单位 line is not,
    and says so at its line."""
    parsed = _csv(
        "2025年重点任务台账,,,\n"
        "市府办〔2025〕12号,,,\n"
        "2025年3月14日,,,\n"
        "填报单位：市发改委,,联系人：张三,\n"
        "序号,任务,牵头单位,时限\n"
        "1,建设平台,市财政局,2025年底前\n"
    )
    assert parsed.plan.title == "2025年重点任务台账"
    assert parsed.plan.document_number == "市府办〔2025〕12号"
    assert parsed.plan.issue_date == date(2025, 3, 14)
    assert [(w.code, w.line, w.message) for w in parsed.warnings] == [
        (
            "unread_line",
            4,
            "line 4 above the header is not read: “填报单位：市发改委 | 联系人：张三”",
        )
    ]
