"""A saved web page as lines: each block element's text one line, the page's chrome dropped.

Government sites publish plans as HTML, often a whole article on one source line with spans
inside paragraphs. The readers want lines, so each block element (p, div, li, h1–h6, td, …)
and each ``<br>`` ends a line, inline elements (span, a, strong) stay inside it, and what is
not the document (script, style, nav, header, footer, forms) is dropped. A line's provenance
is the HTML source line of the element it came from (lxml's ``sourceline``), so a task's
lines point into the file the coordinator has.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import lxml.etree
import lxml.html

from domain.errors import DocumentError
from domain.parsers.common import SourceDocument
from domain.text import decode_document, normalize_line

HTML_SUFFIXES = (".html", ".htm", ".shtml", ".xhtml")
# How a saved page or a copied fragment of one begins (gov.cn articles often start at <tbody>).
_HTML_START = re.compile(
    r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*"
    r"<(?:!doctype\s+html|html|head|body|meta|table|thead|tbody|tr|td|div|p|"
    r"article|section|span|h[1-6])[\s>/]",
    re.IGNORECASE | re.DOTALL,
)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "caption",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "td",
        "th",
        "ul",
        "body",
        "html",
    ]
)
_DROPPED = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "header",
        "footer",
        "form",
        "select",
        "option",
        "button",
        "iframe",
        "object",
        "embed",
        "svg",
        "canvas",
        "head",
        "title",
    ]
)
_WHITESPACE = re.compile(r"\s+")


def looks_like_html(file: str, text: str) -> bool:
    lower = file.lower()
    return lower.endswith(HTML_SUFFIXES) or _HTML_START.match(text[:4096]) is not None


def html_document(file: str, data: bytes, text: str | None = None) -> SourceDocument:
    """The page's text lines as a SourceDocument whose provenance lines are source lines."""
    text = decode_document(data, file) if text is None else text
    text = _XML_DECLARATION.sub("", text, count=1)
    try:
        root = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError) as error:
        raise DocumentError(file, None, f"the HTML page cannot be read: {error}") from None
    raw_lines: list[str] = []
    source_lines: list[int] = []
    for line, sourceline in _lines(root):
        raw_lines.append(line)
        source_lines.append(sourceline)
    return SourceDocument(
        file,
        data,
        raw_lines,
        [normalize_line(line) for line in raw_lines],
        source_lines=source_lines,
    )


def _lines(root: lxml.html.HtmlElement) -> Iterator[tuple[str, int]]:
    """(text, source line) per line, in document order; blank lines left out."""
    pieces: list[str] = []
    where: list[int] = []

    def flush() -> Iterator[tuple[str, int]]:
        line = _WHITESPACE.sub(" ", "".join(pieces)).strip()
        if line:
            yield line, where[0] if where else 1
        pieces.clear()
        where.clear()

    def add(text: str | None, sourceline: int | None) -> None:
        if text:
            if not where and text.strip():
                where.append(sourceline or 1)
            pieces.append(text)

    def walk(element: lxml.html.HtmlElement) -> Iterator[tuple[str, int]]:
        tag = element.tag if isinstance(element.tag, str) else ""
        tag = tag.lower()
        if tag in _DROPPED or not isinstance(element.tag, str):
            # A comment or a dropped element: only the text after it is the page's.
            add(element.tail, element.sourceline)
            return
        block = tag in _BLOCK
        if block or tag == "br":
            yield from flush()
        add(element.text, element.sourceline)
        for child in element:
            yield from walk(child)
        if block:
            yield from flush()
        add(element.tail, element.sourceline)

    yield from walk(root)
    yield from flush()
