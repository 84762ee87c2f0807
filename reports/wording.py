"""The notice's words: template lookup (office override first) and the sentences computed
from the counts, shared by every text renderer."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2

from domain.notice import Notice, NoticeChanges
from runtime.errors import ConfigurationError, DubanError

TEMPLATES_SETTING = "DUBAN_REPORT_TEMPLATES_DIR"
BUNDLED_TEMPLATES = Path(__file__).parent / "templates"
LIGHT_LABELS = {"green": "绿灯", "yellow": "黄灯", "red": "红灯"}


def pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def share(part: int, whole: int) -> str:
    return pct(part / whole) if whole else "0.0%"


def light_label(light: str | None) -> str:
    return LIGHT_LABELS.get(light or "", "")


class TemplatesDirError(ConfigurationError):
    """The office's templates directory named by the setting is not a directory."""


class NoticeTemplateError(DubanError):
    """An office's template that does not render: its file and line, in one sentence."""


def override_dir(templates_dir: Path | None = None) -> Path | None:
    """The office's templates directory, checked: a mistyped path would otherwise fall back
    to the bundled wording without a word, and the notice would go out unedited."""
    if templates_dir is None:
        setting = os.environ.get(TEMPLATES_SETTING, "").strip()
        if not setting:
            return None
        templates_dir = Path(setting)
    if not templates_dir.is_dir():
        raise TemplatesDirError(
            f"{TEMPLATES_SETTING}={templates_dir}: no such directory "
            "(it holds the office's notice templates, e.g. wording.j2)"
        )
    return templates_dir


def environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """Templates from the office's directory first, then the bundled ones."""
    return _environment(override_dir(templates_dir))


def _environment(override: Path | None) -> jinja2.Environment:
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
        override = override_dir(templates_dir)
        env = _environment(override)
        # The bundled lines first, the office's on top: an office writes only the lines it
        # changes, and a later Duban's new line does not break an office's older file.
        words = _words(_environment(None), notice)
        if override is not None:
            words.update(_words(env, notice))
        # A notice built by the service carries the paragraph rendered when it was built.
        requirements = notice.requirements.strip() or requirements_paragraph(notice, env)
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

    def render(self, name: str, **context: object) -> str:
        return render_template(self.env, name, **context)

    def template_context(self, notice: Notice) -> dict[str, object]:
        return {
            "notice": notice,
            "w": self,
            "overall": self.overall,
            "units_summary": self.units_summary,
            "changes": self.changes,
            "requirements": self.requirements,
        }


def render_template(env: jinja2.Environment, name: str, **context: object) -> str:
    """One template rendered; an office's mistake in it is one line naming file and line."""
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as error:
        where = f"{error.filename or name}, line {error.lineno}"
        raise NoticeTemplateError(f"notice template {where}: {error.message}") from None
    except jinja2.TemplateError as error:
        raise NoticeTemplateError(f"notice template {name}: {error.message}") from None


TEMPLATE_NAMES = ("wording.j2", "requirements.j2", "notice.md.j2", "notice.html.j2")


def check_templates(templates_dir: Path | None = None) -> None:
    """Compile every template the office may override: its directory and its syntax are
    checked when a process starts, not when the notice is first due."""
    env = environment(templates_dir)
    for name in TEMPLATE_NAMES:
        try:
            env.get_template(name)
        except jinja2.TemplateSyntaxError as error:
            where = f"{error.filename or name}, line {error.lineno}"
            raise NoticeTemplateError(f"notice template {where}: {error.message}") from None


def requirements_paragraph(notice: Notice, env: jinja2.Environment | None = None) -> str:
    """下一步工作要求 from the office's requirements.j2 (or the bundled one)."""
    return render_template(env or environment(), "requirements.j2", notice=notice).strip()


def _words(env: jinja2.Environment, notice: Notice) -> dict[str, str]:
    words: dict[str, str] = {}
    for line in render_template(env, "wording.j2", notice=notice).splitlines():
        key, sep, text = line.partition("=")
        if sep:
            words[key.strip()] = text.strip()
    return words


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
    named = changed_tasks(notice, c)

    def listed(items: tuple[str, ...]) -> str:
        return f"{len(items)}项（{named(items)}）" if items else "0项"

    return (
        f"与上期相比，新完成{listed(c.newly_completed)}，新增逾期{listed(c.newly_overdue)}，"
        f"批准延期{listed(c.extensions_granted)}。"
    )


def changed_tasks(notice: Notice, changes: NoticeChanges) -> Callable[[tuple[str, ...]], str]:
    """Names changed tasks as a reader finds them in 附件1, by 序号 (第1、3项), each plan's
    apart when the notice spans plans; the workflow id only for a task the notice lacks."""
    wanted = {*changes.newly_completed, *changes.newly_overdue, *changes.extensions_granted}
    rows = {t.workflow_id: t for t in notice.tasks if t.workflow_id in wanted}
    several_plans = len({t.plan_id for t in notice.tasks}) > 1

    def named(workflow_ids: tuple[str, ...]) -> str:
        by_plan: dict[str, list[str]] = {}
        strays: list[str] = []
        for workflow_id in workflow_ids:
            row = rows.get(workflow_id)
            if row is None:
                strays.append(workflow_id)
            else:
                by_plan.setdefault(row.plan_id, []).append(row.number)
        parts = [
            f"{plan if several_plans else ''}第{'、'.join(numbers)}项"
            for plan, numbers in by_plan.items()
        ]
        return "；".join([*parts, *strays])

    return named
