"""The notice renderers, checked by reading their files back with the tools offices use."""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any, cast
from xml.etree import ElementTree

import docx
import openpyxl
import pytest
from docx.oxml.ns import qn
from matplotlib.ft2font import FT2Font

from reports import ReportFormat, ReportFormatError, render
from reports.chart import chart_labels, font_path
from reports.official import BODY_FONT, TITLE_FONT
from tests.reports.notices import notice

NOTICE = notice()


def east_asian(run: Any) -> str | None:
    """The run's w:eastAsia font (python-docx's font.name is the Latin one only)."""
    return cast("str | None", run._element.rPr.rFonts.get(qn("w:eastAsia")))


def cm(length: Any) -> float:
    return round(float(length.cm), 1)


def test_docx_is_a_gongwen_with_east_asian_fonts_title_overdue_table_and_chart() -> None:
    document = docx.Document(io.BytesIO(render(NOTICE, "docx")))
    section = document.sections[0]
    assert cm(section.top_margin) == 3.7
    assert cm(section.bottom_margin) == 3.5
    assert cm(section.left_margin) == 2.8
    assert cm(section.right_margin) == 2.6
    assert cm(section.page_width) == 21.0

    runs = [run for p in document.paragraphs for run in p.runs if run.text]
    runs += [run for t in document.tables for c in t._cells for p in c.paragraphs for run in p.runs]
    assert runs
    missing = [r.text for r in runs if east_asian(r) is None]
    assert missing == []

    title = next(p for p in document.paragraphs if p.text == NOTICE.title)
    assert east_asian(title.runs[0]) == TITLE_FONT
    assert cast(Any, title.runs[0].font.size).pt == 22
    body = next(p for p in document.paragraphs if p.text.startswith("纳入督办"))
    assert east_asian(body.runs[0]) == BODY_FONT
    headings = {p.text: p.runs[0].font.name for p in document.paragraphs if p.runs}
    assert headings["一、总体情况"] == "黑体"
    assert headings["（一）逾期未完成任务"] == "楷体"
    assert any(p.text.startswith("各县区人民政府") for p in document.paragraphs)
    assert any("第6期" in p.text for p in document.paragraphs)

    overdue_table = next(t for t in document.tables if t.rows[0].cells[0].text == "责任单位")
    listed = [row.cells[1].text for row in overdue_table.rows[1:]]
    assert listed == [t.text for t in NOTICE.overdue]
    assert len(NOTICE.overdue) > 0

    task_table = next(t for t in document.tables if t.rows[0].cells[0].text == "序号")
    assert len(task_table.rows) == 2 + len(NOTICE.tasks)
    header = task_table._tbl.tr_lst[0]
    assert cast(Any, header.tc_lst[2].tcPr).find(qn("w:gridSpan")).get(qn("w:val")) == "2"

    images = [p for p in document.part.package.parts if p.content_type == "image/png"]
    assert len(images) == 1
    assert images[0].blob == render(NOTICE, "png")

    footer = document.sections[0].footer.paragraphs[0]
    assert footer.text.replace(" ", "") == "——"  # the number is the PAGE field between
    assert "PAGE" in "".join(footer._p.itertext())


def test_xlsx_ledger_has_one_row_per_task_frozen_header_filter_and_light_fills() -> None:
    book = openpyxl.load_workbook(io.BytesIO(render(NOTICE, "xlsx")))
    ledger = book["台账"]
    assert ledger.max_row == 1 + len(NOTICE.tasks)
    assert [c.value for c in ledger[1]][:5] == ["序号", "任务", "牵头单位", "配合单位", "完成时限"]
    assert ledger.freeze_panes == "A2"
    assert ledger.auto_filter.ref is not None
    assert ledger.page_setup.orientation == "landscape"
    assert ledger.page_setup.paperSize == 9
    # fit to one page wide (fitToWidth omitted means 1), any number tall
    assert ledger.sheet_properties.pageSetUpPr.fitToPage is True
    assert ledger.page_setup.fitToWidth in (None, 1)
    assert ledger.page_setup.fitToHeight == 0
    fills = {}
    for row, standing in enumerate(NOTICE.tasks, start=2):
        assert ledger.cell(row, 2).value == standing.text
        fills[standing.light] = ledger.cell(row, 8).fill.fgColor.rgb
    assert fills["red"] == "FFFFC7CE"
    assert fills["green"] == "FFC6EFCE"
    assert fills[None] != fills["red"]
    units = book["分单位情况"]
    assert units.max_row == 1 + len(NOTICE.units)
    assert units.cell(2, 2).value == min(NOTICE.units, key=lambda u: u.rank).unit


def test_png_is_an_image_whose_labels_the_shipped_font_can_draw() -> None:
    png = render(NOTICE, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 500
    assert height > 200
    assert "site-packages" in str(font_path()) or "dist-packages" in str(font_path())
    font = FT2Font(str(font_path()))
    labels = chart_labels(NOTICE)
    assert any("市住房城乡建设局" in label for label in labels)
    tofu = [ch for label in labels for ch in label if font.get_char_index(ord(ch)) == 0]
    assert tofu == []


def test_html_is_self_contained_and_carries_the_chart_inline() -> None:
    html = render(NOTICE, "html").decode("utf-8")
    assert NOTICE.title in html
    assert re.search(r"(src|href)\s*=\s*[\"'](?!data:)", html) is None
    assert "url(" not in html
    assert "http://" not in html
    assert "https://" not in html
    assert 'src="data:image/png;base64,' in html


def test_markdown_follows_the_order_of_a_real_notice() -> None:
    text = render(NOTICE, "md").decode("utf-8")
    positions = [
        text.index(h)
        for h in (
            "一、总体情况",
            "二、分单位情况",
            "三、存在问题",
            "四、下月到期任务",
            "五、下一步工作要求",
        )
    ]
    assert positions == sorted(positions)
    assert "共20项" in text
    assert "（30.0%）" in text


def test_csv_opens_in_excel_with_a_bom_and_one_row_per_task() -> None:
    data = render(NOTICE, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 1 + len(NOTICE.tasks)
    assert rows[1][1] == NOTICE.tasks[0].text


@pytest.mark.parametrize("fmt", list(ReportFormat))
def test_the_same_notice_renders_to_the_same_bytes(fmt: ReportFormat) -> None:
    first = render(notice(), fmt)
    assert render(notice(), fmt) == first
    if fmt in (ReportFormat.DOCX, ReportFormat.XLSX):
        stamps = {info.date_time for info in zipfile.ZipFile(io.BytesIO(first)).infolist()}
        assert stamps == {(1980, 1, 1, 0, 0, 0)}


def test_an_office_template_directory_changes_the_wording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = render(NOTICE, "md").decode("utf-8")
    assert "回头看" in bundled
    (tmp_path / "requirements.j2").write_text(
        "请各单位于{{ notice.issued_on.month }}月10日前报送整改清单。"
    )
    wording = (Path("reports/templates/wording.j2")).read_text(encoding="utf-8")
    (tmp_path / "wording.j2").write_text(
        wording.replace(
            'addressees = {{ notice.addressees.rstrip("：:") }}：', "addressees = 各乡镇（街道）："
        ).replace("一、总体情况", "一、基本情况"),
        encoding="utf-8",
    )
    monkeypatch.setenv("DUBAN_REPORT_TEMPLATES_DIR", str(tmp_path))
    for fmt in ("md", "html"):
        text = render(NOTICE, fmt).decode("utf-8")
        assert "请各单位于7月10日前报送整改清单。" in text
        assert "各乡镇（街道）：" in text
        assert "一、基本情况" in text
        assert "回头看" not in text
    document = docx.Document(io.BytesIO(render(NOTICE, "docx")))
    texts = [p.text for p in document.paragraphs]
    assert "各乡镇（街道）：" in texts
    assert "一、基本情况" in texts


def test_an_unknown_format_is_one_clear_error() -> None:
    with pytest.raises(ReportFormatError, match=r"unknown report format 'pdf': use one of docx"):
        render(NOTICE, "pdf")


# Texts as units paste them: markup characters, edge spaces, tabs and line breaks, control
# characters XML cannot carry, and nothing at all.
AWKWARD_TEXTS = (
    "A&B <公司> 合同",
    "  前导空格",
    "尾随空格  ",
    "\t制表\n换行",
    "控制\x01字符\x1f",
    "非字符\uffff",
    "",
)
CELL_REF = re.compile(r"([A-Z]+)(\d+)")
SHEET_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
WORD_MAIN = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def awkward_notice() -> Any:
    base = notice(len(AWKWARD_TEXTS) * 2)
    tasks = tuple(
        replace(
            t,
            text=AWKWARD_TEXTS[i % len(AWKWARD_TEXTS)],
            number=AWKWARD_TEXTS[(i + 1) % len(AWKWARD_TEXTS)] or t.number,
            last_progress_text=AWKWARD_TEXTS[(i + 2) % len(AWKWARD_TEXTS)] or None,
        )
        for i, t in enumerate(base.tasks)
    )
    return base.model_copy(update={"tasks": tasks})


def as_written(text: str) -> str:
    """What a reader gets back: the characters XML cannot carry are dropped."""
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", text)


def parsed_members(data: bytes) -> dict[str, ElementTree.Element]:
    """Every XML member parsed: a malformed one (an unescaped '&') raises here."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {
        name: ElementTree.fromstring(archive.read(name))  # noqa: S314 - the file we just made
        for name in archive.namelist()
        if name.endswith((".xml", ".rels"))
    }


def test_awkward_task_texts_leave_the_xlsx_well_formed_ordered_and_read_back_as_written() -> None:
    subject = awkward_notice()
    data = render(subject, "xlsx")
    sheet = parsed_members(data)["xl/worksheets/sheet1.xml"]
    # Excel refuses (and "repairs") rows or cells out of order, which openpyxl accepts.
    rows = sheet.iter(f"{SHEET_MAIN}row")
    for expected_row, sheet_row in enumerate(rows, start=1):
        assert sheet_row.get("r") == str(expected_row)
        columns = []
        for cell in sheet_row.iter(f"{SHEET_MAIN}c"):
            found = CELL_REF.fullmatch(cell.get("r", ""))
            assert found is not None
            assert found.group(2) == str(expected_row)
            columns.append((len(found.group(1)), found.group(1)))
        assert columns == sorted(set(columns))
    dimension = sheet.find(f"{SHEET_MAIN}dimension")
    assert dimension is not None
    assert dimension.get("ref") == f"A1:M{1 + len(subject.tasks)}"

    ledger = openpyxl.load_workbook(io.BytesIO(data))["台账"]
    assert ledger.max_row == 1 + len(subject.tasks)
    for number, standing in enumerate(subject.tasks, start=2):
        assert ledger.cell(number, 1).value == (as_written(standing.number) or None)
        assert ledger.cell(number, 2).value == (as_written(standing.text) or None)
        progress = as_written(standing.last_progress_text or "") or None
        assert ledger.cell(number, 13).value == progress
        assert ledger.cell(number, 9).value == standing.progress_percent / 100
        assert ledger.cell(number, 10).value == standing.days_overdue


def test_awkward_task_texts_leave_the_docx_well_formed_with_full_rows() -> None:
    subject = awkward_notice()
    data = render(subject, "docx")
    body = parsed_members(data)["word/document.xml"]
    # Word reports a table whose rows do not fill its grid as damaged; python-docx does not.
    for table in body.iter(f"{WORD_MAIN}tbl"):
        grid = len(table.findall(f"{WORD_MAIN}tblGrid/{WORD_MAIN}gridCol"))
        for table_row in table.findall(f"{WORD_MAIN}tr"):
            spans = [
                cell.find(f"{WORD_MAIN}tcPr/{WORD_MAIN}gridSpan")
                for cell in table_row.findall(f"{WORD_MAIN}tc")
            ]
            assert (
                sum(int(s.get(f"{WORD_MAIN}val", "1")) if s is not None else 1 for s in spans)
                == grid
            )

    document = docx.Document(io.BytesIO(data))
    task_table = next(t for t in document.tables if t.rows[0].cells[0].text == "序号")
    for row, standing in zip(task_table.rows[2:], subject.tasks, strict=True):
        assert row.cells[0].text == as_written(standing.number)
        assert row.cells[1].text == as_written(standing.text)
        assert row.cells[5].text == as_written(standing.last_progress_text or "")
    runs = [run for c in task_table._cells for p in c.paragraphs for run in p.runs]
    assert [r.text for r in runs if east_asian(r) is None] == []


def test_a_notice_across_plans_names_each_tasks_plan_in_the_xlsx_and_csv() -> None:
    # Each plan numbers its tasks from 1: without the plan, two rows "1" cannot be told apart.
    single = notice(4)
    across = single.model_copy(
        update={
            "plan_id": None,
            "tasks": tuple(
                replace(t, plan_id=plan, number="1")
                for t, plan in zip(
                    single.tasks, ("甲计划", "乙计划", "甲计划", "丙&计划"), strict=True
                )
            ),
        }
    )
    ledger = openpyxl.load_workbook(io.BytesIO(render(across, "xlsx")))["台账"]
    assert ledger.cell(1, 14).value == "所属计划"
    assert [ledger.cell(row, 14).value for row in range(2, 6)] == [
        "甲计划",
        "乙计划",
        "甲计划",
        "丙&计划",
    ]
    rows = list(csv.reader(io.StringIO(render(across, "csv").decode("utf-8-sig"))))
    assert rows[0][-1] == "所属计划"
    assert [r[-1] for r in rows[1:]] == ["甲计划", "乙计划", "甲计划", "丙&计划"]
    single_rows = list(csv.reader(io.StringIO(render(single, "csv").decode("utf-8-sig"))))
    assert "所属计划" not in single_rows[0]
    assert (
        openpyxl.load_workbook(io.BytesIO(render(single, "xlsx")))["台账"].cell(1, 14).value is None
    )
