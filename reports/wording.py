"""The notice's words: template lookup (office override first) and the sentences computed
from the counts, shared by every text renderer."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import jinja2

from domain.notice import Notice

TEMPLATES_SETTING = "DUBAN_REPORT_TEMPLATES_DIR"
BUNDLED_TEMPLATES = Path(__file__).parent / "templates"
LIGHT_LABELS = {"green": "绿灯", "yellow": "黄灯", "red": "红灯"}


def pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def share(part: int, whole: int) -> str:
    return pct(part / whole) if whole else "0.0%"


def light_label(light: str | None) -> str:
    return LIGHT_LABELS.get(light or "", "")


def environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """Templates from the office's directory first, then the bundled ones."""
    override = templates_dir or (
        Path(os.environ[TEMPLATES_SETTING]) if os.environ.get(TEMPLATES_SETTING) else None
    )
    search = [str(override), str(BUNDLED_TEMPLATES)] if override else [str(BUNDLED_TEMPLATES)]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["md"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")
    env.globals.update(pct=pct, light_label=light_label)
    return env


@dataclass(frozen=True)
class Wording:
    env: jinja2.Environment
    words: dict[str, str]
    overall: str
    units_summary: str
    changes: str
    requirements: str

    @classmethod
    def load(cls, notice: Notice, templates_dir: Path | None = None) -> Wording:
        env = environment(templates_dir)
        words: dict[str, str] = {}
        for line in env.get_template("wording.j2").render(notice=notice).splitlines():
            key, sep, text = line.partition("=")
            if sep:
                words[key.strip()] = text.strip()
        requirements = env.get_template("requirements.j2").render(notice=notice).strip()
        return cls(
            env,
            words,
            overall_sentence(notice),
            units_sentence(notice),
            changes_sentence(notice),
            requirements,
        )

    def __getattr__(self, key: str) -> str:
        # Lets templates and renderers say w.heading_overall; a missing key is a template bug.
        try:
            return str(self.__dict__["words"][key])
        except KeyError:
            raise AttributeError(f"wording.j2 has no line {key!r}") from None

    def template_context(self, notice: Notice) -> dict[str, object]:
        return {
            "notice": notice,
            "w": self,
            "overall": self.overall,
            "units_summary": self.units_summary,
            "changes": self.changes,
            "requirements": self.requirements,
        }


def overall_sentence(notice: Notice) -> str:
    t = notice.totals
    return (
        f"纳入督办的重点任务共{t.tasks}项。"
        f"其中，已完成{t.completed}项（{share(t.completed, t.tasks)}），"
        f"含按期完成{t.completed_on_time}项、逾期完成{t.completed_late}项；"
        f"序时推进{t.on_schedule}项（{share(t.on_schedule, t.tasks)}）；"
        f"滞后{t.behind}项（{share(t.behind, t.tasks)}）；"
        f"逾期未完成{t.overdue}项（{share(t.overdue, t.tasks)}）；"
        f"未签收{t.not_accepted}项（{share(t.not_accepted, t.tasks)}）；"
        f"退回待交办{t.refused}项，已撤销{t.cancelled}项。"
        f"滞后指本月报送进度低于时序进度{pct(notice.behind_margin)}以上。"
    )


def units_sentence(notice: Notice) -> str:
    if not notice.units:
        return "本期无牵头单位。"
    ranked = sorted(notice.units, key=lambda u: u.rank)
    best, worst = ranked[0], ranked[-1]
    return (
        f"{len(ranked)}个牵头单位中，{best.unit}完成率最高（{pct(best.completion_rate)}），"
        f"{worst.unit}完成率最低（{pct(worst.completion_rate)}，逾期{worst.overdue}项）。"
        "各单位情况见下表及附件2。"
    )


def changes_sentence(notice: Notice) -> str:
    c = notice.changes

    def listed(items: tuple[str, ...]) -> str:
        return f"{len(items)}项（{'、'.join(items)}）" if items else "0项"

    return (
        f"与上期相比，新完成{listed(c.newly_completed)}，新增逾期{listed(c.newly_overdue)}，"
        f"批准延期{listed(c.extensions_granted)}。"
    )
