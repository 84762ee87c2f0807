"""PDF documents with a text layer: their text as lines, their ruled tables as grids.

The text layer is read with PDFium (pypdfium2, the engine of Chrome's PDF viewer: it reads
the subset CID fonts office programs embed, and it is several times faster than the pure
Python readers; see bench/input_readers_bench.py). The ruled tables: PDFium lists the
straight lines each page draws, pdfplumber's table finder joins them into cells (it does
not parse the page again, which would cost it more than all the rest), and the text in each
cell is PDFium's, so a table reads the same characters as the lines around it.

A cell's text wraps inside its column. A line that runs to the cell's right edge was
wrapped by the page and joins the next one (a unit name cut by the border, 市公安 / 局, is
one name); a line that ends short of the edge ended where its author broke it, so units
stacked one per line stay a list. A cell drawn over several grid cells (merged) stands in
each grid position it covers, as in a Word table.

Bad input is one DocumentError: a damaged file, an encrypted one, one with too many pages,
and a PDF whose pages hold no text at all (a scan), which must be OCRed before it can be
read. PDFium is not thread-safe, so every call into it holds one lock.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from io import BytesIO
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from domain.errors import DocumentError
from domain.parsers.ledger import GridRow
from domain.parsers.tables import MAX_COLUMNS, FoundTable

MAX_PDF_PAGES = 2000
# A page of tables draws a few thousand straight segments; past this it is a drawing, and
# reading its lines one by one would cost seconds for nothing.
MAX_PAGE_SEGMENTS = 50_000
_PDFIUM = threading.Lock()
# Text-layer artefacts that are no characters of the document: PDFium marks soft hyphens
# and generated line ends with U+FFFE / U+FFFF, and some producers leave control bytes.
_ARTEFACTS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")
_HAN_OR_PUNCTUATION = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def is_pdf(data: bytes) -> bool:
    """The PDF header at the start, or (the format allows it) later in the first 1,024
    bytes of a file that also ends like a PDF: a text merely naming %PDF- is no PDF."""
    if data[:1024].lstrip()[:5] == b"%PDF-":
        return True
    return b"%PDF-" in data[:1024] and b"%%EOF" in data[-2048:]


def _open(file: str, data: bytes) -> Any:
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise DocumentError(
                file,
                None,
                "the PDF is encrypted (it asks for a password); save an unprotected copy, "
                "or send the plan as DOCX, XLSX or text",
            ) from None
        reason = str(error).removeprefix("Failed to load document ").strip("(). ")
        raise DocumentError(
            file,
            None,
            f"a damaged PDF that cannot be opened ({reason}); save or export it again",
        ) from None
    if len(pdf) > MAX_PDF_PAGES:
        pages = len(pdf)
        pdf.close()
        raise DocumentError(
            file, None, f"the PDF has {pages} pages; plan documents have at most {MAX_PDF_PAGES}"
        )
    return pdf


def pdf_text(file: str, data: bytes) -> str:
    """The text layer, page after page, or a DocumentError for a PDF without one."""
    with _PDFIUM:
        pdf = _open(file, data)
        try:
            pages = [_page_text(file, pdf, index) for index in range(len(pdf))]
        finally:
            pdf.close()
    text = "\n".join(pages)
    if not text.strip():
        count = f"{len(pages)} page{'s' if len(pages) != 1 else ''}"
        raise DocumentError(
            file,
            None,
            f"the PDF has no text layer ({count} of images only: a scan); OCR it or "
            "send the original document (DOCX, XLSX or text)",
        )
    return text


def _page_text(file: str, pdf: Any, index: int) -> str:
    try:
        page = pdf[index]
        textpage = page.get_textpage()
    except pdfium.PdfiumError:
        raise DocumentError(
            file, None, f"page {index + 1} of the PDF is damaged and cannot be read"
        ) from None
    try:
        text = str(textpage.get_text_range())
        # One character of the text per character of the page: its boxes can be asked for.
        if len(text) == pdfium_c.FPDFText_CountChars(textpage.raw):
            text = _paragraphs(textpage.raw, text)
    finally:
        textpage.close()
        page.close()
    return _ARTEFACTS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# How an item, a heading or an attachment begins: such a line starts a paragraph of its own.
_ITEM_START = re.compile(
    r"\s*(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[)）]|\d+[、.．)）\s]"
    r"|第[一二三四五六七八九十百\d]+[章节条部]|[①-⑳]|附件)"
)


# Chinese prose has no space between two characters; a table row laid out as one line
# does, between its cells.
_CELL_GAP = re.compile(
    r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]\s+[\u3400-\u9fff\uff00-\uffef\d]"
)


def _paragraphs(textpage: Any, text: str) -> str:
    """The page's lines with each paragraph on one line, as a text or web page has it.

    A line that spans the text's width (from the left margin, or an indent of two, to the
    rightmost line end on the page, within about a character and a half) was wrapped by the
    layout, and the next line goes on with it, unless that one is indented (a Chinese
    paragraph opens with two spaces of indent) or opens an item (一、 （一） 1. ① 第X条 附件,
    a table row's number). A short line (a title, a signature, a page number), a line of a
    table's later column and a table row laid out as one line (spaces between its cells)
    end where they end.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _LINE_BREAK.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    box = pdfium_c.FS_RECTF()
    edges: list[tuple[float, float, float] | None] = []  # (left, right, character width)
    for first_at, end in spans:
        printed = [at for at in range(first_at, end) if not text[at].isspace()]
        if not printed or not pdfium_c.FPDFText_GetLooseCharBox(textpage, printed[0], box):
            edges.append(None)
            continue
        left, width = box.left, box.right - box.left
        if not pdfium_c.FPDFText_GetLooseCharBox(textpage, printed[-1], box):
            edges.append(None)
            continue
        edges.append((left, box.right, max(width, box.right - box.left, 1.0)))
    known = [edge for edge in edges if edge is not None]
    if len(known) < 2:
        return text
    left_margin = min(edge[0] for edge in known)
    right_margin = max(edge[1] for edge in known)
    lines = [text[first_at:end] for first_at, end in spans]
    joined = [lines[0]]
    for index in range(1, len(lines)):
        above, here = edges[index - 1], edges[index]
        wrapped = (
            above is not None
            and here is not None
            and above[0] <= left_margin + 2.5 * above[2]  # it spans the text's width
            and above[1] >= right_margin - 1.5 * above[2]
            and here[0] <= left_margin + 0.5 * here[2]
            and not _ITEM_START.match(lines[index])
            and not _CELL_GAP.search(lines[index - 1])
        )
        if wrapped:
            both_words = not _HAN_OR_PUNCTUATION.match(lines[index].lstrip()[:1]) and not (
                _HAN_OR_PUNCTUATION.match(joined[-1].rstrip()[-1:])
            )
            joined[-1] = joined[-1].rstrip() + (" " if both_words else "") + lines[index].lstrip()
        else:
            joined.append(lines[index])
    return "\n".join(joined)


@dataclass(frozen=True)
class _Char:
    text: str
    left: float
    bottom: float
    right: float
    top: float
    middle_x: float = field(init=False)
    middle_y: float = field(init=False)

    def __post_init__(self) -> None:  # asked for thousands of times a page: computed once
        object.__setattr__(self, "middle_x", (self.left + self.right) / 2)
        object.__setattr__(self, "middle_y", (self.bottom + self.top) / 2)


@lru_cache(maxsize=2)
def pdf_tables(file: str, data: bytes) -> tuple[FoundTable, ...]:
    """The ruled tables of every page, in page order, laid on grids.

    Cached for the last documents: detection scores the document and then parses it.
    A PDF the table finder cannot read has no tables here; its text lines stay readable
    (and a damaged page is named when they are read).
    """
    with _PDFIUM:
        pdf = _open(file, data)
        try:
            return _tables(pdf, data)
        except Exception:  # pdfminer and a damaged page fail in many ways: no tables
            return ()
        finally:
            pdf.close()


def _tables(pdf: Any, data: bytes) -> tuple[FoundTable, ...]:
    from pdfplumber.pdf import PDF
    from pdfplumber.table import TableFinder

    logging.getLogger("pdfminer").setLevel(logging.CRITICAL)  # its notes are not ours to print
    rules = {index: _rules(pdf[index]) for index in range(len(pdf))}
    ruled = [index for index, (across, down) in rules.items() if len(across) > 1 < len(down)]
    if not ruled:
        return ()
    found: list[FoundTable] = []
    with PDF(BytesIO(data)) as plumber:
        for index in ruled:
            page = plumber.pages[index]
            left_of_page, _, _, top_of_page = (float(value) for value in page.mediabox)
            across, down = rules[index]
            # The rules in pdfplumber's space (from the page's top left, y downwards), as the
            # only edges its finder joins into cells: it need not parse the page itself.
            finder = TableFinder(
                page,
                {
                    "vertical_strategy": "explicit",
                    "horizontal_strategy": "explicit",
                    "explicit_vertical_lines": [
                        _edge(
                            "v",
                            x - left_of_page,
                            x - left_of_page,
                            top_of_page - y1,
                            top_of_page - y0,
                        )
                        for x, y0, y1 in down
                    ],
                    "explicit_horizontal_lines": [
                        _edge(
                            "h",
                            x0 - left_of_page,
                            x1 - left_of_page,
                            top_of_page - y,
                            top_of_page - y,
                        )
                        for y, x0, x1 in across
                    ],
                },
            )
            boxes = [table.cells for table in finder.tables]
            if not boxes:
                continue
            chars = _page_chars(pdf[index])
            for cells in boxes:
                rows = _grid(cells, chars, left_of_page, top_of_page)
                if rows:
                    found.append(FoundTable(len(found) + 1, rows, f" on page {index + 1}"))
    return tuple(found)


def _edge(orientation: str, x0: float, x1: float, top: float, bottom: float) -> dict[str, Any]:
    return {
        "object_type": f"{orientation}_edge",
        "orientation": orientation,
        "x0": x0,
        "x1": x1,
        "top": top,
        "bottom": bottom,
        "width": x1 - x0,
        "height": bottom - top,
    }


_Rules = tuple[list[tuple[float, float, float]], list[tuple[float, float, float]]]


def _rules(page: Any) -> _Rules:
    """The straight lines the page draws, in PDF space: horizontal ones as (y, x0, x1),
    vertical ones as (x, y0, y1). A table's rules are drawn as lines or as thin (or cell
    sized) rectangles: every straight segment of every path counts."""
    across: list[tuple[float, float, float]] = []
    down: list[tuple[float, float, float]] = []
    segments = 0
    try:
        for shape in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH]):
            a, b, c, d, e, f = shape.get_matrix().get()
            points = _path_points(shape.raw)
            segments += len(points)
            if segments > MAX_PAGE_SEGMENTS:  # a drawing (a map, a chart), not a table
                return [], []
            for (x0, y0, _), (x1, y1, kind) in itertools.pairwise(points):
                if kind != pdfium_c.FPDF_SEGMENT_LINETO:
                    continue
                start = (a * x0 + c * y0 + e, b * x0 + d * y0 + f)
                end = (a * x1 + c * y1 + e, b * x1 + d * y1 + f)
                if abs(start[1] - end[1]) < 0.5 and abs(start[0] - end[0]) >= 1:
                    across.append((start[1], min(start[0], end[0]), max(start[0], end[0])))
                elif abs(start[0] - end[0]) < 0.5 and abs(start[1] - end[1]) >= 1:
                    down.append((start[0], min(start[1], end[1]), max(start[1], end[1])))
    finally:
        page.close()
    return across, down


def _path_points(path: Any) -> list[tuple[float, float, int]]:
    """A path's points with the kind of segment that reaches each; a closed subpath gets
    the line back to its start."""
    points: list[tuple[float, float, int]] = []
    x, y = ctypes.c_float(), ctypes.c_float()
    start: tuple[float, float] | None = None
    for index in range(pdfium_c.FPDFPath_CountSegments(path)):
        segment = pdfium_c.FPDFPath_GetPathSegment(path, index)
        pdfium_c.FPDFPathSegment_GetPoint(segment, x, y)
        kind = pdfium_c.FPDFPathSegment_GetType(segment)
        points.append((x.value, y.value, kind))
        if kind == pdfium_c.FPDF_SEGMENT_MOVETO:
            start = (x.value, y.value)
        if pdfium_c.FPDFPathSegment_GetClose(segment) and start is not None:
            points.append((start[0], start[1], pdfium_c.FPDF_SEGMENT_LINETO))
    return points


def _page_chars(page: Any) -> list[_Char]:
    textpage = page.get_textpage()
    try:
        # PDFium's C calls straight: the helpers cost more than the work, char by char.
        raw, box = textpage.raw, pdfium_c.FS_RECTF()
        chars: list[_Char] = []
        high = 0  # the first half of a character beyond U+FFFF, which takes two places
        for index in range(pdfium_c.FPDFText_CountChars(raw)):
            code = pdfium_c.FPDFText_GetUnicode(raw, index)
            if 0xD800 <= code < 0xDC00:
                high = code
                continue
            if 0xDC00 <= code < 0xE000:
                code, high = (
                    (0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00), 0) if high else (0, 0)
                )
            if code < 0x20 or 0x7F <= code <= 0x9F or code in (0xFFFE, 0xFFFF):
                continue  # line ends and controls hold no text
            if not pdfium_c.FPDFText_GetLooseCharBox(raw, index, box):
                continue
            chars.append(_Char(chr(code), box.left, box.bottom, box.right, box.top))
        return chars
    finally:
        textpage.close()
        page.close()


def _grid(
    cells: Sequence[tuple[float, float, float, float]],
    chars: Sequence[_Char],
    left_of_page: float,
    top_of_page: float,
) -> list[GridRow]:
    """A table's cells (pdfplumber boxes: x0, top, x1, bottom from the page's top left) as
    grid rows, each cell's text in every grid position it covers."""
    columns = sorted({round(cell[0], 1) for cell in cells})[:MAX_COLUMNS]
    rows = sorted({round(cell[1], 1) for cell in cells})
    grid = [[""] * len(columns) for _ in rows]
    # The characters by height on the page, to find a cell's among them without a scan;
    # each keeps its place in the text so a cell reads in the order it was written.
    by_height = sorted(enumerate(chars), key=lambda pair: pair[1].middle_y)
    heights = [char.middle_y for _, char in by_height]
    for x0, top, x1, bottom in cells:
        # PDF space: from the page's bottom left, y upwards
        left, right = left_of_page + x0, left_of_page + x1
        lowest, highest = top_of_page - bottom, top_of_page - top
        band = by_height[bisect_left(heights, lowest) : bisect_right(heights, highest)]
        inside = sorted((order, char) for order, char in band if left <= char.middle_x <= right)
        text = _cell_text([char for _, char in inside], right)
        covered_rows = [i for i, y in enumerate(rows) if top - 0.5 <= y < bottom - 0.5]
        covered_columns = [i for i, x in enumerate(columns) if x0 - 0.5 <= x < x1 - 0.5]
        for row in covered_rows:
            for column in covered_columns:
                grid[row][column] = text
    return [
        GridRow(number, number, tuple(cells_of_row))
        for number, cells_of_row in enumerate(grid, start=1)
    ]


def _cell_text(chars: Sequence[_Char], right_edge: float) -> str:
    """The characters of one cell as lines, a line wrapped at the cell's edge joined to the
    next."""
    text = ""
    for line, ends_at_edge in _lines(chars, right_edge):
        if not text:
            text = line
        elif ends_at_edge:
            both_words = not _HAN_OR_PUNCTUATION.match(line[:1]) and not (
                _HAN_OR_PUNCTUATION.match(text[-1:])
            )
            text += (" " if both_words else "") + line
        else:
            text += "\n" + line
    return text.strip()


def _lines(chars: Sequence[_Char], right_edge: float) -> Iterator[tuple[str, bool]]:
    """Each line of text and whether the line before it ran to the edge (was wrapped)."""
    line: list[_Char] = []
    previous_wrapped = False
    for char in chars:
        if line and _new_line(line[-1], char):
            yield _words(line), previous_wrapped
            previous_wrapped = _reaches(line, right_edge)
            line = []
        line.append(char)
    if line:
        yield _words(line), previous_wrapped


def _words(line: Sequence[_Char]) -> str:
    return " ".join("".join(char.text for char in line).split())


def _new_line(previous: _Char, char: _Char) -> bool:
    height = max(previous.top - previous.bottom, char.top - char.bottom, 1.0)
    return abs(previous.middle_y - char.middle_y) > height / 2 or char.right < previous.left


def _reaches(line: Sequence[_Char], right_edge: float) -> bool:
    """Whether the line ends within about two characters of the cell's right edge."""
    printed = [char for char in line if char.text.strip()]
    if not printed:
        return False
    last = printed[-1]
    width = max(last.right - last.left, 1.0)
    return right_edge - last.right < 2.2 * width
