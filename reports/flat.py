"""Markdown, HTML (self-contained, chart inline) and CSV."""

from __future__ import annotations

import base64
import csv
import io

from domain.notice import Notice
from reports.ledger import task_header, task_texts
from reports.wording import Wording


def render_markdown(notice: Notice, wording: Wording) -> bytes:
    return wording.render("notice.md.j2", **wording.template_context(notice)).encode("utf-8")


def render_html(notice: Notice, wording: Wording) -> bytes:
    from reports.chart import render_chart

    chart = base64.b64encode(render_chart(notice)).decode("ascii")
    context = wording.template_context(notice)
    return wording.render("notice.html.j2", **context, chart_base64=chart).encode("utf-8")


def render_csv(notice: Notice) -> bytes:
    """The 台账 as CSV, UTF-8 with a BOM so that Excel reads the Chinese."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    with_plan = notice.plan_id is None
    writer.writerow(task_header(notice))  # the same columns as the XLSX 台账
    for t in notice.tasks:
        *cells, progress_text = task_texts(t)
        numbers = (f"{t.progress_percent}%", t.days_overdue, t.escalation_level, t.escalations)
        writer.writerow((*cells, *numbers, progress_text, *((t.plan_id,) if with_plan else ())))
    return buffer.getvalue().encode("utf-8-sig")
