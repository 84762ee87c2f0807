"""The office's notice settings (notice.toml beside its templates): its name, 主送 line, the
滞后 margin and each plan's light rule, read when a notice is built, with defaults."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import asyncpg
import pytest

from runtime.errors import ConfigurationError
from services import notices
from tests.domain.test_notice_state import Story, at
from tests.test_notice_reads import record_story, save_stories
from tests.test_notices import unique_name


async def plan_due_five_days_after_february(pool: asyncpg.Pool) -> str:
    """A plan of one task due 5 March, half done at the end of February."""
    plan_id = unique_name("settings-plan")
    story = Story((date(2026, 3, 5),), number="1").accept(at(date(2026, 1, 6)))
    story.progress(at(date(2026, 2, 20), 10), 90)
    await save_stories(pool, plan_id, [story])
    await record_story(pool, plan_id, story)
    return plan_id


async def test_without_settings_the_defaults_hold(db_pool: asyncpg.Pool) -> None:
    plan_id = await plan_due_five_days_after_february(db_pool)
    notice, _ = await notices.generate(db_pool, "2026-02", plan_id)
    assert notice.office == "督查室"
    assert notice.behind_margin == 0.1
    assert [t.light for t in notice.tasks] == ["green"]  # 5 days left: more than 3


async def test_an_office_sets_its_name_margin_and_a_plans_light_rule(
    db_pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = await plan_due_five_days_after_february(db_pool)
    other_plan = await plan_due_five_days_after_february(db_pool)
    (tmp_path / "notice.toml").write_text(
        'office = "滁州市人民政府督查室"\n'
        'addressees = "各县、市、区人民政府，市政府各部门"\n'
        "behind_margin = 0.2\n"
        "[lights]\n"
        "behind_is_yellow = false\n"
        f'[plans."{plan_id}".lights]\n'
        "yellow_within_days = 7\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DUBAN_REPORT_TEMPLATES_DIR", str(tmp_path))
    notice, digest = await notices.generate(db_pool, "2026-02", plan_id)
    assert notice.office == "滁州市人民政府督查室"
    assert notice.addressees == "各县、市、区人民政府，市政府各部门"
    assert notice.behind_margin == 0.2
    assert [t.light for t in notice.tasks] == ["yellow"]  # 5 days left: within this plan's 7
    markdown = (await notices.notice_file(db_pool, "2026-02", "md", plan_id)).decode("utf-8")
    assert "滁州市人民政府督查室　第2期" in markdown
    assert "各县、市、区人民政府，市政府各部门：\n" in markdown
    other, _ = await notices.generate(db_pool, "2026-02", other_plan)
    assert [t.light for t in other.tasks] == ["green"]  # the office-wide rule: 3 days
    # The settings are part of what the notice says, so they are part of its digest.
    (tmp_path / "notice.toml").unlink()
    _, without = await notices.generate(db_pool, "2026-02", plan_id)
    assert without != digest


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("behind_margin = 2\n", "behind_margin"),
        ("[lights]\nyellow_within_days = 'three'\n", "lights.yellow_within_days"),
        ("[plans.p.lights]\ngreen_when = 1\n", "plans.p.lights.green_when"),
        ("office = \n", "notice.toml"),
    ],
)
async def test_a_mistake_in_the_settings_is_one_line_naming_file_and_key(
    db_pool: asyncpg.Pool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    needle: str,
) -> None:
    (tmp_path / "notice.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("DUBAN_REPORT_TEMPLATES_DIR", str(tmp_path))
    with pytest.raises(ConfigurationError) as raised:
        await notices.generate(db_pool, "2026-02", None)
    message = raised.value.message
    assert "\n" not in message
    assert str(tmp_path / "notice.toml") in message
    assert needle in message


async def test_the_requirements_paragraph_comes_from_the_template_into_the_stored_notice(
    db_pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """下一步工作要求 is the office's template rendered when the notice is built, so the as-of
    data stored with the notice says what its files say."""
    from domain.notice_state import DEFAULT_REQUIREMENTS

    plan_id = await plan_due_five_days_after_february(db_pool)
    bundled, _ = await notices.generate(db_pool, "2026-02", plan_id)
    assert bundled.requirements == DEFAULT_REQUIREMENTS
    (tmp_path / "requirements.j2").write_text(
        "请{{ notice.overdue | length }}项逾期任务的牵头单位于"
        "{{ notice.issued_on.month }}月10日前报送整改清单。\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DUBAN_REPORT_TEMPLATES_DIR", str(tmp_path))
    stored = await notices.store_once(db_pool, "2026-02", plan_id)
    assert stored.notice["requirements"] == "请0项逾期任务的牵头单位于3月10日前报送整改清单。"
    markdown = (await notices.notice_file(db_pool, "2026-02", "md", plan_id)).decode("utf-8")
    assert "请0项逾期任务的牵头单位于3月10日前报送整改清单。" in markdown
    assert DEFAULT_REQUIREMENTS not in markdown


@pytest.mark.parametrize("command", ["worker", "api"])
@pytest.mark.parametrize(
    ("files", "needle"),
    [
        (None, "DUBAN_REPORT_TEMPLATES_DIR="),
        ({"notice.toml": "behind_margin = 2\n"}, "notice.toml: behind_margin"),
        ({"wording.j2": "opening = {{ notice.month }\n"}, "wording.j2, line 1"),
    ],
)
def test_the_worker_and_the_api_refuse_to_start_on_broken_office_settings(
    command: str, files: dict[str, str] | None, needle: str, tmp_path: Path
) -> None:
    """Said at start-up, in one line, not first on the 1st of the month at 09:00."""
    from tests.test_cli import assert_one_clear_line, run_duban

    templates = tmp_path / "office"
    if files is not None:
        templates.mkdir()
        for name, text in files.items():
            (templates / name).write_text(text, encoding="utf-8")
    env = {
        "DUBAN_REPORT_TEMPLATES_DIR": str(templates),
        # Nothing answers there: the check must come before any connection is tried.
        "DUBAN_DATABASE_URL": "postgresql://duban@127.0.0.1:9/duban",
        "DUBAN_TEMPORAL_ADDRESS": "127.0.0.1:9",
        "DUBAN_WORKER_HEALTH_PORT": "0",
        "DUBAN_API_PORT": "1",
    }
    assert_one_clear_line(run_duban(command, env=env, cwd=tmp_path), needle)
