"""The office's notice settings: ``notice.toml`` in its templates directory
(``DUBAN_REPORT_TEMPLATES_DIR``), beside the templates it overrides, so that everything an
office changes about its notice lives in one folder it owns, and no code changes.

Every key is optional; a missing one keeps the default::

    office = "滁州市人民政府督查室"          # issue line, opening, document author
    addressees = "各县区人民政府，市政府各部门"  # 主送 (the colon is added)
    behind_margin = 0.1                    # 滞后: progress below elapsed share minus this

    [lights]                               # every plan's light rule (LightPolicy)
    yellow_within_days = 3                 # yellow when due within N days of the month end
    behind_is_yellow = true                # yellow when 滞后

    [plans."chuzhou-2018-egov-key-tasks".lights]   # one plan's rule, over the office's
    yellow_within_days = 7
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.notice_state import (
    DEFAULT_ADDRESSEES,
    DEFAULT_BEHIND_MARGIN,
    DEFAULT_OFFICE,
    LightPolicy,
)
from reports.wording import check_templates, override_dir
from runtime.errors import ConfigurationError

SETTINGS_FILE = "notice.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Lights(_Strict):
    yellow_within_days: int | None = Field(default=None, ge=0, le=366)
    behind_is_yellow: bool | None = None


class _Plan(_Strict):
    lights: _Lights = _Lights()


class _File(_Strict):
    office: str | None = Field(default=None, min_length=1, max_length=100)
    addressees: str | None = Field(default=None, min_length=1, max_length=300)
    behind_margin: float | None = Field(default=None, ge=0, le=1)
    lights: _Lights = _Lights()
    plans: dict[str, _Plan] = {}


@dataclass(frozen=True)
class NoticeSettings:
    office: str = DEFAULT_OFFICE
    addressees: str = DEFAULT_ADDRESSEES
    behind_margin: float = DEFAULT_BEHIND_MARGIN
    lights: LightPolicy = field(default_factory=LightPolicy)
    plan_lights: dict[str, LightPolicy] = field(default_factory=dict)

    def light_policies(self, plan_ids: Iterable[str]) -> dict[str, LightPolicy]:
        """Each plan's rule: its own section, else the office's."""
        return {plan: self.plan_lights.get(plan, self.lights) for plan in plan_ids}


def _merged(base: LightPolicy, lights: _Lights) -> LightPolicy:
    return LightPolicy(
        yellow_within_days=base.yellow_within_days
        if lights.yellow_within_days is None
        else lights.yellow_within_days,
        behind_is_yellow=base.behind_is_yellow
        if lights.behind_is_yellow is None
        else lights.behind_is_yellow,
    )


def load_notice_settings(templates_dir: Path | None = None) -> NoticeSettings:
    """The settings in the office's directory, or the defaults when it has none."""
    directory = override_dir(templates_dir)
    if directory is None or not (directory / SETTINGS_FILE).is_file():
        return NoticeSettings()
    path = directory / SETTINGS_FILE
    try:
        parsed = _File.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"{path}: cannot read the notice settings: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{path}: not valid TOML: {error}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigurationError(f"{path}: {where}: {first['msg']}") from None
    lights = _merged(LightPolicy(), parsed.lights)
    return NoticeSettings(
        office=parsed.office or DEFAULT_OFFICE,
        addressees=parsed.addressees or DEFAULT_ADDRESSEES,
        behind_margin=DEFAULT_BEHIND_MARGIN
        if parsed.behind_margin is None
        else parsed.behind_margin,
        lights=lights,
        plan_lights={plan: _merged(lights, entry.lights) for plan, entry in parsed.plans.items()},
    )


def check_office_notice() -> NoticeSettings:
    """The office's directory, settings and templates, checked at a process's start-up: a
    mistake stops the worker or the API in one line rather than the notice on the 1st."""
    settings = load_notice_settings()
    check_templates()
    return settings
