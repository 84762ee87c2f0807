"""Recorded histories replay against the current workflow code: non-determinism fails CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from runtime.temporal import sandboxed_workflow_runner
from workers.registry import WORKFLOWS

HISTORIES = [
    WorkflowHistory.from_json(path.stem, path.read_text())
    for path in sorted((Path(__file__).parent / "histories").glob("*.json"))
]


@pytest.mark.parametrize("history", HISTORIES, ids=lambda history: history.workflow_id)
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
