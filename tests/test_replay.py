"""Recorded histories replay against the current workflow code: non-determinism fails CI.

The histories in ``tests/histories`` are the first baseline: no patches. A later change that
alters what a running workflow does goes behind ``workflow.patched("<id>")``, keeps the
history recorded before it, and lists ``<id>`` in KNOWN_PATCHES, so every patch is
deliberate and has a history that replays through its old branch.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from runtime.temporal import sandboxed_workflow_runner
from workers.registry import WORKFLOWS

# Every patch id a workflow module passes to workflow.patched or workflow.deprecate_patch.
KNOWN_PATCHES: frozenset[str] = frozenset({"reassign-lapses-extension"})

WORKFLOW_SOURCES = Path(__file__).parent.parent / "workflows"
# ``patched(`` and ``deprecate_patch(`` calls; the id is read only when it is a literal or a
# module-level constant.
_PATCH_CALL = re.compile(r"\b(?:patched|deprecate_patch)\(\s*(?P<argument>[^),]*)")


def _load(path: Path) -> WorkflowHistory:
    """A kept history under its real workflow id (child ids derive from it), named by file."""
    text = path.read_text()
    started = WorkflowHistory.from_json(path.stem, text).events[0]
    workflow_id = started.workflow_execution_started_event_attributes.workflow_id or path.stem
    return WorkflowHistory.from_json(workflow_id, text)


HISTORY_FILES = sorted((Path(__file__).parent / "histories").glob("*.json"))
HISTORIES = [_load(path) for path in HISTORY_FILES]


@pytest.mark.parametrize("history", HISTORIES, ids=[path.stem for path in HISTORY_FILES])
async def test_recorded_history_replays(history: WorkflowHistory) -> None:
    """Each kept history replays without a non-determinism error."""
    replayer = Replayer(
        workflows=list(WORKFLOWS),
        data_converter=pydantic_data_converter,
        workflow_runner=sandboxed_workflow_runner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None


def test_every_workflow_has_a_recorded_history() -> None:
    """A registered workflow without a kept history would escape the replay check."""
    assert HISTORIES, "tests/histories is empty"
    recorded_types = {
        history.events[0].workflow_execution_started_event_attributes.workflow_type.name
        for history in HISTORIES
    }
    registered = {
        getattr(workflow, "__temporal_workflow_definition").name for workflow in WORKFLOWS
    }
    assert registered <= recorded_types


def _patch_ids(source: str) -> list[str]:
    """The id of each patch call in a module's source; an id that is neither a string
    literal nor a module-level constant assigned one is returned as written, so it fails
    the check below instead of escaping it."""
    constants = dict(
        re.findall(r"^([A-Z][A-Z0-9_]*)\s*(?::[^=]+)?=\s*[\"']([^\"']+)[\"']", source, re.M)
    )
    ids = []
    for call in _PATCH_CALL.finditer(source):
        argument = call["argument"].strip()
        literal = re.fullmatch(r"[\"']([^\"']*)[\"']", argument)
        ids.append(literal[1] if literal else constants.get(argument, argument or "(no id)"))
    return ids


def test_every_patch_is_known() -> None:
    """A workflow.patched or workflow.deprecate_patch call whose id is not in KNOWN_PATCHES
    is a patch nobody paired with a kept history."""
    found = {
        f"{path.relative_to(WORKFLOW_SOURCES.parent)}: {patch_id}"
        for path in sorted(WORKFLOW_SOURCES.rglob("*.py"))
        for patch_id in _patch_ids(path.read_text(encoding="utf-8"))
        if patch_id not in KNOWN_PATCHES
    }
    assert not found, (
        "patches not in tests/test_replay.py KNOWN_PATCHES (add the id there, with a history "
        f"recorded before the change in tests/histories): {sorted(found)}"
    )


def test_patch_ids_are_read_from_calls_and_constants() -> None:
    """The scan sees a literal id, a constant's id and deprecate_patch; docstrings that
    only name ``workflow.patched`` are no calls."""
    source = (
        '"""Guard it with ``workflow.patched``."""\n'
        'NEW_RULE_PATCH = "new-rule"\n'
        "if workflow.patched(NEW_RULE_PATCH): ...\n"
        'if workflow.patched("inline-rule"): ...\n'
        'workflow.deprecate_patch("old-rule")\n'
        "if workflow.patched(patch_id): ...\n"
    )
    assert _patch_ids(source) == ["new-rule", "inline-rule", "old-rule", "patch_id"]
