"""Corpus fidelity: how many of tests/corpus/'s 155 labelled tasks come out right.

Scored as the corpus README says (tests/support/corpus_score.py): found by text_start,
leads exact after the directory's aliases, every labelled date among the milestones' due
dates; cooperating units reported apart; invented tasks within the labelled range counted;
a refused document counts its tasks as not found and says why. Also times the whole corpus
beside the baseline of decoding and splitting the same bytes. Run:
``.venv/bin/python -m bench.corpus_fidelity`` (``--misses`` lists every task not right).
It scores tests/corpus/ and then tests/unseen/ (plans written for the tests in layouts the
corpus lacks); ``--dir PATH`` scores that one folder of documents and labels instead.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

from domain.errors import DocumentError
from domain.parsers import parse_document
from domain.text import decode_document
from tests.support.corpus_score import CORPUS, UNSEEN, label_files, misses, score_corpus, table


def _timings(repeats: int = 3) -> tuple[float, float]:
    documents = []
    for path in label_files():
        name = json.loads(path.read_text(encoding="utf-8"))["text_file"]
        documents.append((name, (CORPUS / name).read_bytes()))

    def parse_all() -> None:
        for name, data in documents:
            with contextlib.suppress(DocumentError):  # a refusal is timed too
                parse_document(name, data)

    def split_all() -> None:
        for name, data in documents:
            decode_document(data, name).splitlines()

    best = []
    for work in (parse_all, split_all):
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            work()
            runs.append(time.perf_counter() - started)
        best.append(min(runs))
    return best[0], best[1]


def _folders(arguments: list[str]) -> list[Path]:
    if "--dir" in arguments:
        index = arguments.index("--dir")
        if index + 1 >= len(arguments):
            raise SystemExit("--dir needs a folder of documents and their .labels.json files")
        return [Path(arguments[index + 1])]
    return [CORPUS, UNSEEN]


def main() -> None:
    for folder in _folders(sys.argv[1:]):
        score = score_corpus(folder)
        print(f"## {folder.name}")
        print(table(score))
        if "--misses" in sys.argv:
            print()
            print(misses(score))
        print()
    parse_seconds, split_seconds = _timings()
    print(f"whole corpus, best of 3: parse {parse_seconds * 1000:.1f} ms")
    print(f"  baseline decode+split {split_seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()
