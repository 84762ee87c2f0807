"""The PNG chart: completed / behind / overdue per lead unit, labels drawn with the Noto Sans
CJK font that ships as a wheel (cvttf-notosanscjk-regular), loaded by path: a server has no
Chinese fonts and system fonts are never consulted."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import cvttf_NotoSansCJK_Regular
import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from domain.notice import Notice

# More bars than this are unreadable on an A4 page; the units ranked lowest are the news.
MAX_UNITS = 30
SERIES = (("已完成", "#4e9a06"), ("滞后", "#edd400"), ("逾期", "#cc0000"))
TITLE = "各单位任务完成、滞后、逾期情况"


def font_path() -> Path:
    return Path(cvttf_NotoSansCJK_Regular.get_TTF_path())


@cache
def chart_font() -> font_manager.FontProperties:
    path = font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path))


def charted_units(notice: Notice) -> list[tuple[str, int, int, int]]:
    ranked = sorted(notice.units, key=lambda u: u.rank)[-MAX_UNITS:]
    return [(u.unit, u.completed, u.behind, u.overdue) for u in ranked]


def chart_labels(notice: Notice) -> list[str]:
    """Every string the chart draws (what the no-tofu test checks against the font)."""
    return [TITLE, *(name for name, *_ in SERIES), *(u[0] for u in charted_units(notice))]


def render_chart(notice: Notice) -> bytes:
    font = chart_font()
    rows = charted_units(notice)
    height = max(3.0, 0.35 * len(rows) + 1.5)
    figure = Figure(figsize=(8.0, height), dpi=120)
    axes = figure.add_subplot()
    positions = list(range(len(rows)))
    left = [0] * len(rows)
    for index, (name, colour) in enumerate(SERIES):
        values = [int(row[index + 1]) for row in rows]
        axes.barh(positions, values, left=left, color=colour, label=name)
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.set_yticks(positions, [row[0] for row in rows], fontproperties=font)
    axes.invert_yaxis()
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts of tasks, no 0.5
    axes.set_title(TITLE, fontproperties=font)
    # Below the plot, never over the longest bar (the unit the notice is about).
    axes.legend(prop=font, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(SERIES))
    figure.tight_layout()
    buffer = io.BytesIO()
    # No Software or date chunk: the same notice gives the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
