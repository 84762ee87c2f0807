"""Renderers of the monthly notice (一月一通报): one :class:`domain.notice.Notice` in, the bytes
of one file out, identical bytes for the same notice so that its digest is stable.

The wording (issue line, 主送, opening, headings, 下一步工作要求) comes from Jinja2 templates
that an office may override: a directory named by ``DUBAN_REPORT_TEMPLATES_DIR`` is searched
before the bundled ``reports/templates``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from domain.notice import Notice


class ReportFormat(StrEnum):
    DOCX = "docx"
    XLSX = "xlsx"
    HTML = "html"
    MD = "md"
    CSV = "csv"
    PNG = "png"


class ReportFormatError(ValueError):
    """A format name no renderer knows."""


def render(notice: Notice, fmt: str, *, templates_dir: Path | None = None) -> bytes:
    """The notice as one file in ``fmt``; ``templates_dir`` overrides the setting."""
    try:
        chosen = ReportFormat(fmt.lower())
    except ValueError:
        known = ", ".join(f.value for f in ReportFormat)
        raise ReportFormatError(f"unknown report format {fmt!r}: use one of {known}") from None
    # Imported here so that asking for CSV does not load matplotlib or python-docx.
    if chosen is ReportFormat.PNG:
        from reports.chart import render_chart

        return render_chart(notice)
    if chosen is ReportFormat.XLSX:
        from reports.ledger import render_xlsx

        return render_xlsx(notice)
    if chosen is ReportFormat.CSV:
        from reports.flat import render_csv

        return render_csv(notice)
    from reports.wording import Wording

    wording = Wording.load(notice, templates_dir)
    if chosen is ReportFormat.DOCX:
        from reports.official import render_docx

        return render_docx(notice, wording)
    from reports.flat import render_html, render_markdown

    if chosen is ReportFormat.HTML:
        return render_html(notice, wording)
    return render_markdown(notice, wording)


__all__ = ["ReportFormat", "ReportFormatError", "render"]
