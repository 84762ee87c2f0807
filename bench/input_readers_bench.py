"""The readers of the newer containers, each beside a baseline measured in the same run.

The same task list (ROWS rows of 序号 / 工作任务 / 牵头单位 / 配合单位 / 完成时限) is written
into each container, and each candidate library reads it; the baseline is reading the same
content as plain text (decode and split the CSV's bytes, or Python's csv module), the floor
any reader pays. Every figure is the best of REPEATS, printed in ms and as a ratio to the
baseline, with how much text each candidate got out (a fast reader that reads nothing is
no candidate).

* PDF, two files: one written by fpdf2 with the bundled Noto CJK font embedded as a CFF
  subset (as office programs embed theirs), one by reportlab with the standard
  non-embedded STSong-Light font. Text layer: PDFium (pypdfium2), pdfminer.six,
  pdfplumber. Tables: pdfplumber's extract_tables (pdfminer parses the page: its lines and
  its text), and Duban's ``pdf_tables`` (the ruling lines and the text from PDFium, only
  pdfplumber's cell finder on them). Camelot is left out (its lattice mode needs OpenCV
  and Ghostscript), and so is PyMuPDF (AGPL).
* XLS (xlwt): python-calamine, xlrd.
* HTML, one page with the table: lxml.html (with Duban's table layout), the standard
  library's html.parser.
* UTF-16 without BOM against the same text in UTF-8, through ``decode_document``.
* Whole parses (``parse_document``): the PDF, the XLS, the HTML page against the CSV.

Run: ``.venv/bin/python -m bench.input_readers_bench [--rows 300]``.
"""

from __future__ import annotations

import argparse
import csv
import io
import time
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any, TypeVar

import lxml.html
import pdfplumber
import pypdfium2 as pdfium
import python_calamine
import xlrd
from pdfminer.high_level import extract_text

from domain.parsers import parse_document
from domain.parsers.html_table import _page, _tables
from domain.parsers.pdf import pdf_tables
from domain.parsers.tables import FoundTable
from domain.plan import ParsedPlan
from domain.text import decode_document
from tests.support.documents import HEADER, TITLE, pdf_with_table, reportlab_pdf, xls_workbook

REPEATS = 3
T = TypeVar("T")


def best_of(work: Callable[[], T], repeats: int = REPEATS) -> tuple[float, T]:
    timings = []
    result = work()
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - started)
    return min(timings), result


def rows(count: int) -> list[tuple[str, ...]]:
    return [
        (
            str(seq),
            f"推进第{seq}项政务信息系统整合共享工作",
            "市大数据管理局",
            "市财政局、市发改委",
            "2019年12月底前",
        )
        for seq in range(1, count + 1)
    ]


def html_page(table: list[tuple[str, ...]]) -> bytes:
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in table)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><h1>{TITLE}</h1>"
        f"<table border='1'>{body}</table></body></html>"
    ).encode()


class _Cells(HTMLParser):
    """The standard library's parser: the text of every td, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._in_cell = True
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.rows[-1][-1] += data


def stdlib_html(data: bytes) -> list[list[str]]:
    parser = _Cells()
    parser.feed(data.decode("utf-8"))
    return parser.rows


def line(name: str, seconds: float, baseline: float, got: str) -> None:
    print(f"  {name:44s} {seconds * 1000:9.1f} ms  {seconds / baseline:7.1f}x   {got}")


def pdfium_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()


def plumber_text(data: bytes) -> str:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


def plumber_tables(data: bytes) -> list[list[list[str | None]]]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [table for page in pdf.pages for table in page.extract_tables()]


def han_count(text: str) -> int:
    return sum(1 for char in text if "\u4e00" <= char <= "\u9fff")


def pdf_section(label: str, data: bytes, baseline: float) -> None:
    pages = len(pdfium.PdfDocument(data))
    print(f"PDF ({label}, {pages} pages, {len(data) // 1024} KiB): text layer")
    readers: list[tuple[str, Callable[[bytes], str]]] = [
        ("pypdfium2 (PDFium)", pdfium_text),
        ("pdfminer.six extract_text", lambda data: str(extract_text(io.BytesIO(data)))),
        ("pdfplumber extract_text", plumber_text),
    ]
    for name, read in readers:
        seconds, text = best_of(lambda read=read: read(data))  # type: ignore[misc]
        line(name, seconds, baseline, f"{han_count(text)} Han characters")
    print(f"PDF ({label}): tables")
    seconds, plumbed = best_of(lambda: plumber_tables(data))
    cells = sum(han_count(cell or "") for table in plumbed for row in table for cell in row)
    line("pdfplumber extract_tables", seconds, baseline, f"{cells} Han characters in cells")

    def duban_tables() -> tuple[FoundTable, ...]:
        pdf_tables.cache_clear()
        return pdf_tables("bench.pdf", data)

    seconds, found = best_of(duban_tables)
    cells = sum(han_count(cell) for table in found for row in table.rows for cell in row.cells)
    line("duban pdf_tables (PDFium + plumber finder)", seconds, baseline, f"{cells} Han in cells")

    def parse_pdf() -> ParsedPlan:
        pdf_tables.cache_clear()
        return parse_document("bench.pdf", data)

    seconds, parsed = best_of(parse_pdf)
    line("duban parse_document (whole)", seconds, baseline, f"{len(parsed.tasks)} tasks")


def xls_section(xls: bytes, baseline: float) -> None:
    print(f"XLS ({len(xls) // 1024} KiB)")

    def calamine_rows() -> list[list[Any]]:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(xls))
        return list(workbook.get_sheet_by_index(0).to_python(skip_empty_area=False))

    def xlrd_rows() -> list[list[Any]]:
        book = xlrd.open_workbook(file_contents=xls)
        sheet = book.sheet_by_index(0)
        return [sheet.row_values(index) for index in range(sheet.nrows)]

    for name, read in (("python-calamine", calamine_rows), ("xlrd", xlrd_rows)):
        seconds, result = best_of(read)
        line(name, seconds, baseline, f"{len(result)} rows")
    seconds, parsed = best_of(lambda: parse_document("bench.xls", xls))
    line("duban parse_document (whole)", seconds, baseline, f"{len(parsed.tasks)} tasks")


def html_section(page: bytes, baseline: float) -> None:
    print(f"HTML ({len(page) // 1024} KiB)")
    seconds, _ = best_of(lambda: lxml.html.document_fromstring(page))
    line("lxml.html parse only", seconds, baseline, "tree")
    seconds, tables = best_of(lambda: _tables(_page(page.decode())))
    line("lxml.html + duban table layout", seconds, baseline, f"{len(tables[0].rows)} rows")
    seconds, cells = best_of(lambda: stdlib_html(page))
    line("html.parser (standard library), cells only", seconds, baseline, f"{len(cells)} rows")
    seconds, parsed = best_of(lambda: parse_document("bench.html", page))
    line("duban parse_document (whole)", seconds, baseline, f"{len(parsed.tasks)} tasks")


def main() -> None:
    options = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    options.add_argument("--rows", type=int, default=300)
    count = options.parse_args().rows
    table = [HEADER, *rows(count)]
    csv_bytes = "\n".join(",".join(row) for row in [(TITLE, "", "", "", ""), *table]).encode()
    parse_document("warm.csv", csv_bytes)  # OpenCC and the unit directory, once

    split, _ = best_of(lambda: csv_bytes.decode("utf-8").splitlines())
    baseline, _ = best_of(lambda: list(csv.reader(io.StringIO(csv_bytes.decode("utf-8")))))
    print(f"{count} task rows; the CSV holds {han_count(csv_bytes.decode())} Han characters")
    print(f"baseline: csv.reader of the CSV {baseline * 1000:.2f} ms", end="")
    print(f" (decode+split {split * 1000:.2f} ms)")
    print(f"  {'candidate':44s} {'best':>12s}  {'/ base':>7s}   read")
    seconds, parsed = best_of(lambda: parse_document("bench.csv", csv_bytes))
    print("CSV (the same rows)")
    line("duban parse_document (whole)", seconds, baseline, f"{len(parsed.tasks)} tasks")

    pdf_section(
        "fpdf2, embedded CFF subset", pdf_with_table(table, before=(TITLE,), after=()), baseline
    )
    try:
        pdf_section("reportlab, non-embedded STSong", reportlab_pdf(table), baseline)
    except ImportError:
        print("reportlab is not installed: its PDF is left out")
    xls_section(
        xls_workbook({"台账": [list(row) for row in [(TITLE, "", "", "", ""), *table]]}), baseline
    )
    html_section(html_page(table), baseline)

    print("UTF-16 without BOM")
    utf16 = csv_bytes.decode().encode("utf-16-le")
    utf8_seconds, _ = best_of(lambda: decode_document(csv_bytes, "bench.csv"))
    seconds, _ = best_of(lambda: decode_document(utf16, "bench.csv"))
    line("decode_document UTF-8 (the baseline here)", utf8_seconds, utf8_seconds, "")
    line("decode_document UTF-16-LE, no BOM", seconds, utf8_seconds, "")


if __name__ == "__main__":
    main()
