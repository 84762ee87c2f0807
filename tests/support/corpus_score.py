"""The corpus fidelity score: how many of tests/corpus/'s labelled tasks a parse gets right.

The rules are the corpus README's "Scoring" section. A labelled task is *found* when a
parsed task's text contains its ``text_start`` (both compared after normalising width,
whitespace and Traditional characters); its *leads* are right when the parsed lead units
are exactly the labelled ones (both resolved through the unit directory's aliases, the
label's own ``normalized_units`` first); its *deadlines* are right when every labelled
date is among the parsed milestones' due dates. Cooperating units are scored the same way
and reported apart, not counted in *all right*. A parsed task that lies within the
labelled range (between the first and the last parsed task a label found) and matches no
label is *invented*; where the labels skip item numbers ("11." then "13."), that many
parsed tasks between them are unlabelled, not invented. Unit names of both sides are
normalised (width, Traditional) before the aliases apply. A document the parser refuses
counts all its tasks as not found, and the refusal's message is kept to say why.

The bench (``bench/corpus_fidelity.py``) prints this table; tests/domain/test_corpus_fidelity.py
holds the floor.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.errors import DocumentError
from domain.parsers import parse_document
from domain.plan import PlanTask
from domain.text import normalize_line
from domain.units import UnitDirectory, load_directory

CORPUS = Path(__file__).parent.parent / "corpus"
# Plans written for the tests in layouts the corpus does not show, labelled the same way.
UNSEEN = Path(__file__).parent.parent / "unseen"
_WHITESPACE = re.compile(r"\s+")


def comparable(text: str) -> str:
    """Text as the score compares it: Simplified, one punctuation width, no whitespace."""
    return _WHITESPACE.sub("", normalize_line(_WHITESPACE.sub(" ", text)))


@dataclass
class TaskScore:
    seq: str
    text_start: str
    found: bool = False
    leads_right: bool = False
    cooperating_right: bool = False
    deadlines_right: bool = False
    parsed_id: str | None = None
    why: str = ""

    @property
    def all_right(self) -> bool:
        return self.found and self.leads_right and self.deadlines_right


@dataclass
class DocumentScore:
    name: str
    tasks: list[TaskScore] = field(default_factory=list)
    parsed: int = 0
    invented: int = 0
    refused: str | None = None
    parser: str | None = None

    def count(self, attribute: str) -> int:
        return sum(1 for task in self.tasks if getattr(task, attribute))


@dataclass
class CorpusScore:
    documents: list[DocumentScore]

    def count(self, attribute: str) -> int:
        return sum(document.count(attribute) for document in self.documents)

    @property
    def labelled(self) -> int:
        return sum(len(document.tasks) for document in self.documents)

    @property
    def invented(self) -> int:
        return sum(document.invented for document in self.documents)

    @property
    def refused(self) -> int:
        return sum(1 for document in self.documents if document.refused is not None)


def label_files(corpus: Path = CORPUS) -> list[Path]:
    return sorted(corpus.glob("*.labels.json"))


def _units(names: Sequence[str], aliases: dict[str, str], directory: UnitDirectory) -> list[str]:
    return sorted(directory.resolve(normalize_line(aliases.get(name, name))) for name in names)


def _score_task(label: dict[str, Any], task: PlanTask, directory: UnitDirectory) -> TaskScore:
    aliases = label.get("normalized_units") or {}
    score = TaskScore(label["seq"], label["text_start"], found=True, parsed_id=task.id)
    leads = _units(label["lead_units"], aliases, directory)
    cooperating = _units(label["cooperating_units"], aliases, directory)
    parsed_leads = _units(task.lead_units, {}, directory)
    parsed_cooperating = _units(task.cooperating_units, {}, directory)
    score.leads_right = parsed_leads == leads
    score.cooperating_right = parsed_cooperating == cooperating
    dues = {milestone.due.isoformat() for milestone in task.milestones}
    wanted = {deadline["date"] for deadline in label["deadlines"] if deadline["date"]}
    score.deadlines_right = wanted <= dues
    why: list[str] = []
    if not score.leads_right:
        why.append(f"leads {parsed_leads} want {leads}")
    if not score.deadlines_right:
        why.append(f"dues {sorted(dues)} want {sorted(wanted)}")
    if not score.cooperating_right:
        why.append(f"cooperating {parsed_cooperating} want {cooperating}")
    score.why = "; ".join(why)
    return score


def score_document(label_file: Path, directory: UnitDirectory) -> DocumentScore:
    labels = json.loads(label_file.read_text(encoding="utf-8"))
    source = label_file.parent / labels["text_file"]
    document = DocumentScore(labels["text_file"])
    try:
        parsed = parse_document(source.name, source.read_bytes(), directory)
    except DocumentError as error:
        document.refused = str(error)
        document.tasks = [
            TaskScore(label["seq"], label["text_start"], why="refused") for label in labels["tasks"]
        ]
        return document
    document.parser = parsed.plan.format
    document.parsed = len(parsed.tasks)
    texts = [comparable(task.text) for task in parsed.tasks]
    label_indices: list[int | None] = []
    for label in labels["tasks"]:
        start = comparable(label["text_start"])
        index = next((i for i, text in enumerate(texts) if start in text), None)
        label_indices.append(index)
        if index is None:
            document.tasks.append(
                TaskScore(label["seq"], label["text_start"], why="no parsed task holds it")
            )
            continue
        document.tasks.append(_score_task(label, parsed.tasks[index], directory))
    document.invented = _invented(labels["tasks"], label_indices, len(parsed.tasks))
    return document


_CHINESE_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九", start=1)}


def item_number(seq: str) -> int | None:
    """The number of a labelled item ("2.", "（十二）", "十三、"); None for "1.(1)", "二（一）①"."""
    bare = seq.strip("（）()、.． ")
    if bare.isdigit():
        return int(bare)
    if bare and all(c in _CHINESE_DIGITS or c == "十" for c in bare):
        tens, _, ones = bare.rpartition("十")
        if "十" not in bare:
            return _CHINESE_DIGITS[bare] if len(bare) == 1 else None
        return (_CHINESE_DIGITS.get(tens, 1) if tens else 1) * 10 + _CHINESE_DIGITS.get(ones, 0)
    return None


def _invented(labels: list[dict[str, Any]], found: list[int | None], parsed: int) -> int:
    """Parsed tasks between the first and the last one a label found that no label matches.

    Where the labels skip item numbers ("11." then "13.": item 12 is in the document but
    unlabelled), as many parsed tasks as numbers skipped between them are not invented.
    """
    matched = [index for index in found if index is not None]
    if not matched:
        return 0
    unmatched = set(range(min(matched), max(matched) + 1)) - set(matched)
    allowed = 0
    pairs = [
        (label, index) for label, index in zip(labels, found, strict=True) if index is not None
    ]
    for (before, _), (after, _) in itertools.pairwise(pairs):
        low, high = item_number(before["seq"]), item_number(after["seq"])
        if low is not None and high is not None and high > low + 1:
            allowed += high - low - 1
    return max(len(unmatched) - allowed, 0)


def score_corpus(corpus: Path = CORPUS, directory: UnitDirectory | None = None) -> CorpusScore:
    directory = directory or load_directory()
    return CorpusScore([score_document(path, directory) for path in label_files(corpus)])


_COLUMNS = ("labelled", "found", "leads", "coop", "dates", "all", "invented")


def table(score: CorpusScore) -> str:
    """The fidelity table: one row per document and a total line, as Markdown."""
    rows = ["| document | " + " | ".join(_COLUMNS) + " | read as |", "|---" * 9 + "|"]
    for document in score.documents:
        read_as = document.parser or f"REFUSED: {document.refused}"
        rows.append(
            f"| {document.name[:40]} | {len(document.tasks)} | {document.count('found')} | "
            f"{document.count('leads_right')} | {document.count('cooperating_right')} | "
            f"{document.count('deadlines_right')} | {document.count('all_right')} | "
            f"{document.invented} | {read_as[:90]} |"
        )
    labelled = score.labelled
    total_all = score.count("all_right")
    rows.append(
        f"| **total** | {labelled} | {score.count('found')} | {score.count('leads_right')} | "
        f"{score.count('cooperating_right')} | {score.count('deadlines_right')} | "
        f"**{total_all} ({100 * total_all / labelled:.0f}%)** | {score.invented} | "
        f"{score.refused} refused |"
    )
    return "\n".join(rows)


def misses(score: CorpusScore) -> str:
    """Every labelled task not all right (or with cooperating units wrong), and why."""
    lines = []
    for document in score.documents:
        for task in document.tasks:
            if task.all_right and task.cooperating_right:
                continue
            marker = "COOP" if task.all_right else "MISS"
            where = f"{document.name.split('_')[0]} {task.seq} {task.text_start[:12]}"
            lines.append(f"{marker} {where}: {task.why}")
    return "\n".join(lines)
