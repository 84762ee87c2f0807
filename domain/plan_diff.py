"""What changed between an imported plan and a new reading of its document.

Tasks are compared by fingerprint: a hash of everything the coordinator cares about (text,
units, milestones, recurrence, flags), not of where the task sits in the file, so a
paragraph inserted above a table does not make every task look changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from domain.plan import ParsedPlan, PlanTask


def task_fingerprint(task: PlanTask) -> str:
    """What the task says, not where it stands: its id and position are left out, so a
    task that moved to another row number is recognisable (see ``PlanDiff.moved``)."""
    content = task.model_dump(mode="json", exclude={"source", "id", "seq", "part"})
    return hashlib.sha256(
        json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()


def plan_fingerprint(parsed: ParsedPlan) -> str:
    plan = parsed.plan.model_dump(mode="json", exclude={"source_file", "id"})
    tasks = [task_fingerprint(task) for task in parsed.tasks]
    payload = json.dumps({"plan": plan, "tasks": tasks}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class PlanDiff:
    added: list[PlanTask] = field(default_factory=list)
    changed: list[PlanTask] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    # (old id, new id): a task whose text, units and dates now stand under another id,
    # as when a row is inserted above it and every number below shifts.
    moved: list[tuple[str, str]] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def summary(self) -> str:
        return (
            f"{len(self.added)} new, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged"
        )

    def details(self, limit: int = 12) -> str:
        """Which task ids are new, changed and removed, for a coordinator to check."""

        def listed(ids: list[str]) -> str:
            shown = ", ".join(ids[:limit])
            return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")

        parts = [
            f"{label}: {listed(ids)}"
            for label, ids in (
                ("new", [task.id for task in self.added]),
                ("changed", [task.id for task in self.changed]),
                ("removed", self.removed),
            )
            if ids
        ]
        return "; ".join(parts) or "no task changed"


def diff_tasks(existing: Mapping[str, str], tasks: Sequence[PlanTask]) -> PlanDiff:
    """Compare stored ``task_id -> fingerprint`` with freshly parsed tasks."""
    diff = PlanDiff()
    seen = set()
    for task in tasks:
        seen.add(task.id)
        stored = existing.get(task.id)
        if stored is None:
            diff.added.append(task)
        elif stored != task_fingerprint(task):
            diff.changed.append(task)
        else:
            diff.unchanged += 1
    diff.removed = [task_id for task_id in existing if task_id not in seen]
    ids_by_fingerprint: dict[str, list[str]] = {}
    for task_id, fingerprint in existing.items():
        ids_by_fingerprint.setdefault(fingerprint, []).append(task_id)
    for task in [*diff.added, *diff.changed]:
        for old_id in ids_by_fingerprint.get(task_fingerprint(task), []):
            if old_id != task.id:
                diff.moved.append((old_id, task.id))
    return diff
