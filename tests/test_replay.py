"""Recorded histories replay against the current workflow code: non-determinism fails CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from runtime.temporal import sandboxed_workflow_runner
from workers.registry import WORKFLOWS


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
