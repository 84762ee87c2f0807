"""The renderers over a notice built by the as-of arithmetic with its defaults, read the way
an office reads it: what a coordinator sees in the text, not only in the data."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import docx
import pytest

from domain.notice import Notice
from reports import render
from tests.domain.test_notice_state import HELPER, LEAD, OTHER, Story, at, notice_of


def as_built() -> Notice:
    """February 2026 over five tasks: one completed, one newly overdue, one extended, one
    refused by its lead unit, one whose sign-off lapsed (视为同意)."""
    done = Story(number="1").accept(at(date(2026, 1, 6)))
    done.complete(at(date(2026, 2, 10)), at(date(2026, 2, 11)))
    late = Story((date(2026, 2, 15),), lead=OTHER, number="2").accept(at(date(2026, 1, 6)))
    late.escalate(at(date(2026, 2, 23)), 1)
    extended = Story((date(2026, 2, 28),), number="3").accept(at(date(2026, 1, 6)))
    extended.progress(at(date(2026, 2, 20)), 90).extend(at(date(2026, 2, 25)), date(2026, 4, 30))
    refused = Story(lead=OTHER, number="4").refuse(at(date(2026, 1, 8)))
    lapsed = Story(number="5").accept(at(date(2026, 1, 6))).submit(at(date(2026, 2, 2)))
    lapsed.deem(at(date(2026, 2, 10)))
    return notice_of([done, late, extended, refused, lapsed], "2026-02")


NOTICE = as_built()


def docx_texts(content: bytes) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(content)).paragraphs]


def test_the_default_addressee_line_ends_in_one_colon() -> None:
    markdown = render(NOTICE, "md").decode("utf-8")
    assert "各县区人民政府，市政府各部门：\n" in markdown
    assert "：：" not in markdown
    assert "：：" not in render(NOTICE, "html").decode("utf-8")
    assert "各县区人民政府，市政府各部门：" in docx_texts(render(NOTICE, "docx"))


def test_the_changes_name_tasks_by_their_number_not_their_workflow_id() -> None:
    assert NOTICE.changes.newly_completed == ("p/1",)
    assert NOTICE.changes.newly_overdue == ("p/2",)
    assert NOTICE.changes.extensions_granted == ("p/3",)
    markdown = render(NOTICE, "md").decode("utf-8")
    changes = markdown.split("与上期相比，")[1].split("\n")[0]
    assert "p/" not in changes
    assert "新完成1项（第1项）" in changes
    assert "新增逾期1项（第2项）" in changes
    assert "批准延期1项（第3项）" in changes


def test_the_docx_unit_table_counts_refusals_and_lapsed_sign_offs() -> None:
    document = docx.Document(io.BytesIO(render(NOTICE, "docx")))
    table = next(t for t in document.tables if t.rows[0].cells[0].text == "排名")
    header = [cell.text for cell in table.rows[1].cells]
    assert "退回" in header
    assert "视为同意" in header
    rows = {row.cells[1].text: row for row in table.rows[2:]}
    refusals, consents = header.index("退回"), header.index("视为同意")
    assert rows[OTHER].cells[refusals].text == "1"
    assert rows[HELPER].cells[consents].text == "1"
    assert rows[LEAD].cells[consents].text == "0"


def test_an_office_overrides_one_wording_line_and_keeps_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "wording.j2").write_text(
        "heading_overall = 一、基本情况\naddressees = 各乡镇（街道）：\n", encoding="utf-8"
    )
    monkeypatch.setenv("DUBAN_REPORT_TEMPLATES_DIR", str(tmp_path))
    markdown = render(NOTICE, "md").decode("utf-8")
    assert "一、基本情况" in markdown
    assert "各乡镇（街道）：" in markdown
    assert "二、分单位情况" in markdown  # a line the office did not write stays bundled
    assert "一、基本情况" in docx_texts(render(NOTICE, "docx"))


def test_a_templates_directory_that_does_not_exist_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reports.wording import TemplatesDirError

    missing = tmp_path / "no-such-dir"
    monkeypatch.setenv("DUBAN_REPORT_TEMPLATES_DIR", str(missing))
    with pytest.raises(TemplatesDirError, match=r"DUBAN_REPORT_TEMPLATES_DIR=.*no-such-dir"):
        render(NOTICE, "md")


def test_a_broken_office_template_is_one_line_naming_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reports.wording import NoticeTemplateError

    (tmp_path / "wording.j2").write_text("heading_overall = {{ notice.month }\n", encoding="utf-8")
    monkeypatch.setenv("DUBAN_REPORT_TEMPLATES_DIR", str(tmp_path))
    with pytest.raises(NoticeTemplateError, match=r"wording\.j2, line 1: unexpected '}'"):
        render(NOTICE, "docx")


@pytest.mark.parametrize(
    ("template", "needle"),
    [
        (None, "DUBAN_REPORT_TEMPLATES_DIR="),
        ("一是{{ notice.month }\n", "requirements.j2, line 1"),
        ("一是{{ notice.no_such_field }}\n", "requirements.j2: "),
    ],
)
def test_the_cli_says_in_one_line_what_is_wrong_with_the_office_templates(
    template: str | None, needle: str, database_url: str, tmp_path: Path
) -> None:
    from tests.test_cli import assert_one_clear_line, run_duban

    templates = tmp_path / "templates"
    if template is not None:
        templates.mkdir()
        (templates / "requirements.j2").write_text(template, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    env = {"DUBAN_DATABASE_URL": database_url, "DUBAN_REPORT_TEMPLATES_DIR": str(templates)}
    result = run_duban("report", "2019-01", "--format", "md", env=env, cwd=out)
    assert_one_clear_line(result, needle)
    assert list(out.iterdir()) == []
