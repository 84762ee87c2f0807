"""Reading a posted form into the API's body model (pure: no server)."""

from __future__ import annotations

from datetime import date
from typing import Any

from api import schemas
from domain.access import ActionKind, Principal, Role, TaskAccess
from web.inbox import RoundFacts
from web.task_page import ACTION_BODIES, available_actions, validate_form


def test_every_action_reads_into_the_apis_own_body() -> None:
    assert set(ACTION_BODIES) == set(ActionKind)
    assert ACTION_BODIES[ActionKind.PROGRESS] is schemas.ProgressBody


def test_a_progress_form_becomes_the_progress_body() -> None:
    """Evidence one per line (blank lines dropped), text stripped, percent a number; the
    form's own fields (CSRF, key) and any field the body does not have are ignored."""
    form = {
        "csrf_token": "t",
        "idempotency_key": "k",
        "percent": " 60 ",
        "text": " 已部署 ",
        "evidence": "文号1\r\n\r\n http://oa.local/1 \n",
        "actor": "someone else",
    }
    body, errors, _ = validate_form(ActionKind.PROGRESS, form)
    assert errors == {}
    assert body == schemas.ProgressBody(
        percent=60, text="已部署", evidence=["文号1", "http://oa.local/1"]
    )


def test_bad_fields_are_named_in_chinese() -> None:
    _, errors, typed = validate_form(ActionKind.PROGRESS, {"percent": "150", "text": ""})
    assert errors == {"percent": "不能大于100", "text": "必填"}
    assert typed["percent"] == "150"
    _, errors, _ = validate_form(ActionKind.PROGRESS, {"percent": "六十", "text": "x"})
    assert errors == {"percent": "请填写0到100之间的整数"}
    _, errors, _ = validate_form(
        ActionKind.REQUEST_EXTENSION, {"new_due": "明年", "reason": "x\x00"}
    )
    assert errors == {"new_due": "请填写日期，如2026-07-01", "reason": "含有控制字符，请删除"}
    _, errors, _ = validate_form(ActionKind.SIGN_OFF, {})
    assert errors == {"approve": "必填"}
    _, errors, _ = validate_form(ActionKind.PROGRESS, {"percent": "1", "text": "x" * 4001})
    assert errors == {"text": "过长：最多4000字"}


def test_choice_buttons_and_optional_reasons() -> None:
    body, _, _ = validate_form(ActionKind.SIGN_OFF, {"approve": "true", "reason": ""})
    assert body == schemas.SignOffBody(approve=True, reason=None)
    body, _, _ = validate_form(ActionKind.DECIDE_EXTENSION, {"approve": "false", "reason": "否"})
    assert body == schemas.DecideExtensionBody(approve=False, reason="否")
    body, _, _ = validate_form(ActionKind.ACCEPT, {"csrf_token": "t"})
    assert body == schemas.AcceptBody()


def _offered(role: Role, unit: str | None, stage: str, **facts: Any) -> set[str]:
    """What a principal of ``role`` is offered on a task led by 甲局 with 乙局 cooperating."""
    principal = Principal(token_id="tok_1", role=role, name="n", unit=unit)  # noqa: S106
    access = TaskAccess("p", "甲局", ("乙局",))
    task = {
        "stage": stage,
        "awaiting_reassignment": facts.pop("awaiting", False),
        "next_due": date(2030, 12, 31),
    }
    offered = available_actions(principal, access, task, RoundFacts(**facts))
    return {str(action) for action in offered}


def test_each_part_is_offered_what_its_role_and_the_stage_allow() -> None:
    assert _offered("unit", "甲局", "assigned") == {"accept", "refuse", "request-extension"}
    assert _offered("unit", "甲局", "assigned", awaiting=True) == set()
    assert _offered("unit", "甲局", "in_progress") == {"progress", "submit", "request-extension"}
    assert _offered("unit", "甲局", "in_progress", extension_pending=True) == {
        "progress",
        "submit",
    }
    assert _offered("unit", "甲局", "signoff") == set()
    assert _offered("unit", "甲局", "review") == set()
    assert _offered("unit", "乙局", "in_progress") == set()
    assert _offered("unit", "乙局", "signoff") == {"sign-off"}
    assert _offered("unit", "乙局", "signoff", signed=True) == set()
    assert _offered("coordinator", None, "assigned") == {"reassign", "cancel"}
    assert _offered("coordinator", None, "in_progress", extension_pending=True) == {
        "decide-extension",
        "reassign",
        "cancel",
    }
    assert _offered("coordinator", None, "signoff") == {"cancel"}
    assert _offered("coordinator", None, "review") == {"review", "cancel"}
    for stage in ("completed", "cancelled"):
        assert _offered("coordinator", None, stage) == set()
        assert _offered("unit", "甲局", stage) == set()
    assert _offered("admin", None, "review") == set()
