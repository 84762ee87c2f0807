"""The inbox's "下一步": the next thing a unit (or the coordinator) must do on a task, from
its stage, the part played and the round's events. Pure: no server, no database."""

from __future__ import annotations

import pytest

from domain.lifecycle import Stage
from web.inbox import Part, RoundFacts, next_step, part_of, round_facts

PLAIN = RoundFacts()
SIGNED = RoundFacts(signed=True)
EXTENSION = RoundFacts(extension_pending=True, pending_due="2031-03-31")
SENT_BACK = RoundFacts(sent_back=True, sent_back_reason="佐证不足")

# Every stage against every part, with the facts that change the answer.
EXPECTED: list[tuple[Stage, Part, bool, RoundFacts, str]] = [
    # 交办
    (Stage.ASSIGNED, "lead", False, PLAIN, "签收或退回"),
    (Stage.ASSIGNED, "lead", False, EXTENSION, "签收或退回；延期申请待督查室决定"),
    (Stage.ASSIGNED, "lead", True, PLAIN, "已退回，等待督查室重新交办"),
    (Stage.ASSIGNED, "cooperating", False, PLAIN, "无需操作（牵头单位办理中）"),
    (Stage.ASSIGNED, "coordinator", False, PLAIN, "等待牵头单位办理"),
    (Stage.ASSIGNED, "coordinator", True, PLAIN, "重新交办（牵头单位已退回）"),
    (Stage.ASSIGNED, "viewer", False, PLAIN, "—"),
    # 承办
    (Stage.IN_PROGRESS, "lead", False, PLAIN, "报告进展或提交完成"),
    (Stage.IN_PROGRESS, "lead", False, EXTENSION, "报告进展或提交完成；延期申请待督查室决定"),
    (Stage.IN_PROGRESS, "lead", False, SENT_BACK, "按退回意见修改后重新提交"),
    (Stage.IN_PROGRESS, "cooperating", False, PLAIN, "无需操作（牵头单位办理中）"),
    (Stage.IN_PROGRESS, "coordinator", False, PLAIN, "等待牵头单位办理"),
    (Stage.IN_PROGRESS, "coordinator", False, EXTENSION, "决定延期申请"),
    (Stage.IN_PROGRESS, "viewer", False, PLAIN, "—"),
    # 会签
    (Stage.SIGNOFF, "lead", False, PLAIN, "等待配合单位会签"),
    (Stage.SIGNOFF, "cooperating", False, PLAIN, "会签（同意或不同意）"),
    (Stage.SIGNOFF, "cooperating", False, SIGNED, "已会签，等待其他单位会签"),
    (Stage.SIGNOFF, "coordinator", False, PLAIN, "等待配合单位会签"),
    (Stage.SIGNOFF, "viewer", False, PLAIN, "—"),
    # 审核
    (Stage.REVIEW, "lead", False, PLAIN, "等待督查室审核"),
    (Stage.REVIEW, "cooperating", False, SIGNED, "等待督查室审核"),
    (Stage.REVIEW, "coordinator", False, PLAIN, "审核（通过或退回）"),
    (Stage.REVIEW, "viewer", False, PLAIN, "—"),
    # 办结, 撤销: nothing for anyone
    *[
        (Stage.COMPLETED, part, False, PLAIN, "无（已办结）")
        for part in ("lead", "cooperating", "coordinator", "viewer")
    ],
    *[
        (Stage.CANCELLED, part, False, PLAIN, "无（已撤销）")
        for part in ("lead", "cooperating", "coordinator", "viewer")
    ],
]


@pytest.mark.parametrize(("stage", "part", "awaiting", "facts", "expected"), EXPECTED)
def test_next_step_for_every_stage_and_part(
    stage: Stage, part: Part, awaiting: bool, facts: RoundFacts, expected: str
) -> None:
    """Each stage × part (and the facts that matter) names its own next step."""
    assert next_step(stage.value, part, awaiting_reassignment=awaiting, facts=facts) == expected


def test_every_stage_and_part_is_covered() -> None:
    """The table above leaves no stage × part out."""
    covered = {(stage, part) for stage, part, *_ in EXPECTED}
    parts = {"lead", "cooperating", "coordinator", "viewer"}
    assert covered == {(stage, part) for stage in Stage for part in parts}


def _event(kind: str, unit: str | None = None, **detail: object) -> dict[str, object]:
    return {"kind": kind, "unit": unit, "actor_unit": unit, "detail": detail}


def test_round_facts_follow_the_current_round() -> None:
    """A sign-off counts in its own round only; a returned submission is sent back until the
    next submission; an extension request waits until it is decided or its lead is gone."""
    first_round = [
        _event("assigned", "甲局"),
        _event("accepted", "甲局"),
        _event("submitted", "甲局"),
        _event("signed_off", "乙局"),
        _event("objected", "丙局", reason="数据未共享"),
    ]
    assert round_facts(first_round, "乙局").signed
    facts = round_facts(first_round, "丁局")
    assert not facts.signed
    assert facts.sent_back
    assert facts.sent_back_reason == "数据未共享"

    resubmitted = [*first_round, _event("submitted", "甲局")]
    assert not round_facts(resubmitted, "乙局").signed  # a new round needs a new sign-off
    assert not round_facts(resubmitted, "甲局").sent_back
    deemed = [*resubmitted, _event("deemed_consent", "乙局")]
    assert round_facts(deemed, "乙局").signed

    asked = [*first_round, _event("extension_requested", "甲局", requested_due="2031-03-31")]
    assert round_facts(asked, "甲局").extension_pending
    assert round_facts(asked, "甲局").pending_due == "2031-03-31"
    assert not round_facts([*asked, _event("extension_rejected", "甲局")], None).extension_pending
    assert not round_facts([*asked, _event("reassigned", "戊局")], None).extension_pending

    returned = [*resubmitted, _event("returned", "甲局", reason="佐证不足")]
    assert round_facts(returned, "甲局").sent_back_reason == "佐证不足"


def test_part_of_a_task() -> None:
    task = {"lead_unit": "甲局", "cooperating_units": ["乙局"]}
    assert part_of("unit", "甲局", task) == "lead"
    assert part_of("unit", "乙局", task) == "cooperating"
    assert part_of("unit", "丙局", task) == "viewer"
    assert part_of("coordinator", None, task) == "coordinator"
