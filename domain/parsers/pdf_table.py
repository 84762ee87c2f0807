"""PDF documents whose task list is a ruled table: its rows read as a ledger's.

The tables come from :func:`domain.parsers.pdf.pdf_tables` (PDFium's text inside the cells
pdfplumber finds from the lines drawn on the page), in page order. A task list running over
several pages is one table per page: a table repeating the header, or a header-less table
of the same width right after the task table (the next page's part), continues it, as in a
Word document (:mod:`domain.parsers.tables`). A row too tall for the rest of its page
goes on at the top of the next one without its 序号: it is joined to the row it
continues, with a ``joined_split_row`` warning. The rows are read with the ledger's rules
(:func:`domain.parsers.ledger.parse_grid`).

Provenance lines are table row numbers: line N is row N of its table; with several task
tables each line also names its table ("[table 2] …", tables counted from 1 over the whole
document), and messages say which page it stands on. The plan title is the first line of
the text layer, the text lines give the 文号 and the signature date.
"""

from __future__ import annotations

from domain.parsers.common import SourceDocument
from domain.parsers.ledger import GridSource, parse_grid
from domain.parsers.pdf import is_pdf, pdf_tables
from domain.parsers.tables import header_score, no_task_table, task_tables
from domain.plan import ParsedPlan
from domain.units import UnitDirectory


class PdfTableParser:
    """PDFs whose task list is a table drawn with ruling lines."""

    format = "pdf-table"

    def score(self, document: SourceDocument) -> int:
        if not is_pdf(document.data):
            return 0
        return header_score(table.rows for table in pdf_tables(document.file, document.data))

    def parse(self, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan:
        found = pdf_tables(document.file, document.data)
        tables, warnings = task_tables(document, found, rows_split_by_pages=True)
        if not tables:
            raise no_task_table(document, found)
        lines = [line for line in document.lines if line]
        source = GridSource(
            tables=tables,
            format=self.format,
            title=lines[0] if lines else None,
            preamble=lines,
            warnings=warnings,
        )
        return parse_grid(source, directory)


PARSER = PdfTableParser()
