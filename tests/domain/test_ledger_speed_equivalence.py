"""The second round of ledger speed-ups gives what the plain definitions gave.

Each fast path is checked against the definition it replaces: the deadline grammar tried
from its first possible match only and behind a class of first characters (proved of the
grammar's every alternative, and compared with the plain grammar tried everywhere on
generated text), the literal-first searches of text normalisation (compared with the
class-first patterns), tasks built from their field values in order (compared field by
field with validation), detection leaving capped parsers unscored, the control-character
search and the unit-name warnings gathering fewer strings (compared with the full walks),
and the collector after a parse.
"""

from __future__ import annotations

import re
import re._constants as sre  # type: ignore[import-not-found]  # a pattern's parsed form
import re._parser as sre_parse  # type: ignore[import-not-found]
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import deadlines, text, units
from domain.deadlines import (
    DEADLINE_CHARACTERS,
    DEADLINE_FIRST_CHARACTERS,
    LONGEST_DEADLINE_PHRASE,
    DeadlineContext,
    find_deadlines,
)
from domain.errors import DocumentError
from domain.parsers import _chunk_strings, _parsers, _task_strings, parse_document, read_document
from domain.parsers.common import Roles, SourceDocument, build_task
from domain.parsers.ledger import GridRow, grid_row
from domain.plan import PlanTask, Provenance, TaskFlag
from domain.text import normalize_line, normalize_lines
from domain.units import load_directory, unit_name_warnings
from tests.support.corpus_score import CORPUS
from tests.support.golden import EXAMPLES
from tests.support.ledgers import realistic_ledger_csv

# ---------------------------------------------------------------- the deadline grammar


def _must_hold(items: Any, characters: str) -> bool:
    """Whether every string a parsed pattern matches holds one of ``characters``.

    Conservative: a lookaround, a class with any character outside ``characters`` or an
    optional part proves nothing; a literal does, a sequence does if any of its parts
    does, an alternation if all its branches do, a repeat if it runs at least once.
    """
    return any(_item_must_hold(op, value, characters) for op, value in items)


def _item_must_hold(op: Any, value: Any, characters: str) -> bool:
    if op is sre.LITERAL:
        return chr(value) in characters
    if op is sre.IN:
        return all(kind is sre.LITERAL and chr(code) in characters for kind, code in value)
    if op is sre.SUBPATTERN:
        return _must_hold(value[-1], characters)
    if op is sre.ATOMIC_GROUP:
        return _must_hold(value, characters)
    if op is sre.BRANCH:
        return all(_must_hold(branch, characters) for branch in value[1])
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, _, repeated = value
        return low >= 1 and _must_hold(repeated, characters)
    return False


def test_every_deadline_phrase_holds_a_deadline_character_and_is_short() -> None:
    """What find_deadlines' shortcut rests on: each alternative of the grammar matches only
    text holding one of DEADLINE_CHARACTERS, and no match is longer than
    LONGEST_DEADLINE_PHRASE. A new alternative breaking either fails here."""
    parsed = sre_parse.parse(deadlines._DEADLINE.pattern)
    assert _must_hold(parsed, DEADLINE_CHARACTERS)
    for kind, pattern in deadlines._PATTERNS:
        assert _must_hold(sre_parse.parse(pattern), DEADLINE_CHARACTERS), kind
    assert parsed.getwidth()[1] <= LONGEST_DEADLINE_PHRASE
    # The proof is not vacuous: without 内, the spans ("3个月内") hold none of the others.
    assert not _must_hold(parsed, DEADLINE_CHARACTERS.replace("内", ""))
    assert not _must_hold(sre_parse.parse(r"\d{4}|年?"), DEADLINE_CHARACTERS)


_ANY = "any character"


def _first_characters(items: Any) -> tuple[set[str], bool]:
    """The characters a match of a parsed pattern can start with ("digit" for \\d, _ANY when
    anything could), and whether the pattern can match the empty string."""
    found: set[str] = set()
    for op, value in items:
        first, empty = _item_first_characters(op, value)
        found |= first
        if not empty:
            return found, False
    return found, True


def _item_first_characters(op: Any, value: Any) -> tuple[set[str], bool]:
    if op is sre.LITERAL:
        return {chr(value)}, False
    if op is sre.IN:
        found: set[str] = set()
        for kind, code in value:
            if kind is sre.LITERAL:
                found.add(chr(code))
            elif kind is sre.RANGE:
                found |= {chr(point) for point in range(code[0], code[1] + 1)}
            elif kind is sre.CATEGORY and code is sre.CATEGORY_DIGIT:
                found.add("digit")
            else:
                found.add(_ANY)
        return found, False
    if op is sre.SUBPATTERN:
        return _first_characters(value[-1])
    if op is sre.BRANCH:
        branches = [_first_characters(branch) for branch in value[1]]
        return set().union(*(first for first, _ in branches)), any(e for _, e in branches)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, _, repeated = value
        first, empty = _first_characters(repeated)
        return first, empty or low == 0
    if op in (sre.ASSERT, sre.ASSERT_NOT, sre.AT):
        return set(), True  # takes no character
    return {_ANY}, False


def test_every_deadline_phrase_starts_with_a_first_character() -> None:
    """What the grammar's leading class rests on: no alternative can start with a character
    outside \\d and DEADLINE_FIRST_CHARACTERS, nor match nothing."""
    for kind, pattern in deadlines._PATTERNS:
        first, empty = _first_characters(sre_parse.parse(pattern))
        assert not empty, kind
        assert first <= {"digit", *DEADLINE_FIRST_CHARACTERS}, (kind, first)
    first, _ = _first_characters(sre_parse.parse(r"(?<!x)(?:每|今后)?\d{1,3}年|[^a]"))
    assert first == {"每", "今", "digit", _ANY}  # the analysis is not vacuous


_DEADLINE_ALPHABET = list(
    "0123456789年月日季度内前底末份上中下旬半每个第一二三四十两起开始自从本方案意见通知印发"
    "之后的天周工作以今到至于明次持续长期力争；。，、 市"
)
_CONTEXTS = [
    DeadlineContext(plan_year=2025, period_end=2025),
    DeadlineContext(plan_year=2021, period_end=2025, issue_date=date(2021, 3, 9)),
]


@settings(max_examples=1500, deadline=None)
@given(
    st.text(alphabet=_DEADLINE_ALPHABET, max_size=40),
    st.sampled_from(_CONTEXTS),
    st.booleans(),
)
def test_find_deadlines_from_the_first_deadline_character_is_finding_them_everywhere(
    phrase: str, context: DeadlineContext, bare_dates: bool
) -> None:
    shortcut = find_deadlines(phrase, context, bare_dates=bare_dates)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(deadlines, "_DEADLINE_CHARACTER", _EVERYWHERE)
        patch.setattr(deadlines, "_DEADLINE", _PLAIN_GRAMMAR)
        reference = find_deadlines(phrase, context, bare_dates=bare_dates)
    assert shortcut == reference


_EVERYWHERE = re.compile("")  # "found" at 0: the grammar is tried from the start
# The grammar as it stood, without its leading class of first characters.
_PLAIN_GRAMMAR = re.compile(
    "|".join(
        f"(?P<{kind}>{deadlines._namespaced(kind, pattern)})"
        for kind, pattern in deadlines._PATTERNS
    )
)


def test_the_plain_grammar_matches_where_the_grammar_does() -> None:
    """The reference above is the grammar itself: the same phrases, of the same kinds."""
    phrase = "2025年6月底前完成方案，每季度报送，自本方案印发之日起30日内启动，三年内见效"
    plain = [(m.span(), m.lastgroup) for m in _PLAIN_GRAMMAR.finditer(phrase)]
    assert plain == [(m.span(), m.lastgroup) for m in deadlines._DEADLINE.finditer(phrase)]
    assert len(plain) == 4


def test_find_deadlines_reads_phrases_after_a_long_plain_text() -> None:
    padding = "推进政务信息系统整合共享工作" * 3
    found = find_deadlines(f"{padding}，2025年6月底前完成，每季度报送。", _CONTEXTS[0])
    assert [milestone.due for milestone in found.milestones] == [date(2025, 6, 30)]
    assert found.recurrence is not None
    assert found.recurrence.frequency == "quarterly"
    assert not find_deadlines(padding, _CONTEXTS[0]).milestones


# ---------------------------------------------------------------- text normalisation

_TEXT_ALPHABET = list("0123456789,，:年〇零一二三四五六七八九十市局\ue000 ")


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=_TEXT_ALPHABET, max_size=40))
def test_han_numeral_years_matches_its_definition(line: str) -> None:
    reference = text._HAN_YEAR.sub(lambda m: "".join(text._HAN_DIGITS[c] for c in m[0]), line)
    assert text.han_numeral_years(line) == reference


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=_TEXT_ALPHABET, max_size=40))
def test_full_width_commas_match_their_definition(line: str) -> None:
    assert text._full_width_commas(line) == text._COMMA.sub("，", line)


# ---------------------------------------------------------------- tasks built in field order


def test_a_task_built_from_its_values_in_field_order_is_the_validated_task() -> None:
    """build_task hands PlanTask's fields over by position: each value lands in its own
    field, as validation of the same values by name puts it."""
    document = SourceDocument("plan.csv", b"", ["1,x", "2,y"], ["1，x", "2，y"])
    task = build_task(
        document,
        seq=3,
        part=2,
        category=["一、基础设施"],
        text="推进数据共享，每季度报送进展。",
        roles=Roles(["市财政局"], ["市审计局"], [TaskFlag.INFERRED_LEAD]),
        lines=(2, 2),
        context=_CONTEXTS[0],
        annual=True,
        deadline_text="2025年7月1日起实施",
    )
    validated = PlanTask(
        id="3-2",
        seq=3,
        part=2,
        category=["一、基础设施"],
        text="推进数据共享，每季度报送进展。",
        lead_units=["市财政局"],
        cooperating_units=["市审计局"],
        milestones=task.milestones,
        recurrence=None,
        ongoing=False,
        starts=date(2025, 7, 1),
        source=Provenance(file="plan.csv", lines=(2, 2), raw="2,y"),
        flags=[TaskFlag.INFERRED_LEAD, TaskFlag.IMPLICIT_DEADLINE],
    )
    assert task == validated
    assert task.model_dump_json() == validated.model_dump_json()
    assert [milestone.due for milestone in task.milestones] == [date(2025, 12, 31)]


def test_a_large_ledger_reads_as_validation_builds_it() -> None:
    """Every task and provenance of a realistic ledger, rebuilt by validation from its
    dump, is equal to the one built from values and dumps the same; each sets every
    field (the provenance's rebased_years too, 0, which its dump leaves out)."""
    parsed = parse_document("ledger.csv", realistic_ledger_csv(3000, seed=5))
    assert len(parsed.tasks) > 3000  # 分别牵头 rows make several
    for task in parsed.tasks:
        validated = PlanTask.model_validate(task.model_dump())
        assert task == validated
        assert task.model_dump_json() == validated.model_dump_json()
        assert task.model_fields_set == set(PlanTask.model_fields)
        assert task.source.model_fields_set == set(Provenance.model_fields)


# ---------------------------------------------------------------- the collector after a parse


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_a_parse_leaves_the_collector_on_nothing_frozen_and_cycles_collectable() -> None:
    """parse_document moves what it made into the collector's oldest generation (gc.freeze
    then gc.unfreeze): afterwards the collector is on, nothing stays frozen, and a
    reference cycle made before the parse is still collected."""
    import gc
    import weakref

    first, second = _Node(), _Node()
    first.other, second.other = second, first
    watched = weakref.ref(first)
    del first, second
    assert gc.isenabled()
    parse_document("ledger.csv", realistic_ledger_csv(50))
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert watched() is None


def test_a_parse_leaves_what_others_froze_frozen_and_a_paused_collector_paused() -> None:
    import gc

    kept = [[index] for index in range(100)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen >= len(kept)
        parse_document("ledger.csv", realistic_ledger_csv(50))
        assert gc.get_freeze_count() == frozen
        gc.disable()
        parse_document("ledger.csv", realistic_ledger_csv(50))
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


# ---------------------------------------------------------------- detection and cells


def _text_documents() -> list[SourceDocument]:
    paths = [
        *(path for path in CORPUS.iterdir() if path.suffix in {".txt", ".csv", ".html"}),
        *EXAMPLES.glob("*.txt"),
    ]
    documents = [read_document(path.name, path.read_bytes()) for path in sorted(paths)]
    return [*documents, read_document("ledger.csv", realistic_ledger_csv(200))]


def test_no_parser_scores_above_the_most_it_declares() -> None:
    """detect_parser leaves a parser declaring ``max_score`` unscored once another scored
    above it: sound only while no document scores it higher."""
    capped = [parser for parser in _parsers() if hasattr(parser, "max_score")]
    assert len(capped) >= 2  # general, column-lines
    for document in _text_documents():
        for parser in capped:
            ceiling = parser.max_score
            if callable(ceiling):  # the general reader's: a table's certainty where "|" is
                ceiling = ceiling(document)
            assert parser.score(document) <= ceiling, (parser, document.file)


def test_a_csv_ledger_leaves_the_general_reader_unscored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A CSV ledger (85) holds no "|": the general reader could score 50 at most, so its
    reading of every line is never done (it is as certain as a table only of a pipe
    table)."""
    from domain.parsers import detect_parser, general

    def unscored(self: object, document: SourceDocument) -> int:
        raise AssertionError("the general reader was scored on a CSV ledger")

    monkeypatch.setattr(general.GeneralParser, "score", unscored)
    document = read_document("ledger.csv", realistic_ledger_csv(200))
    assert detect_parser(document).format == "ledger"


def test_a_fast_grid_row_is_the_dataclass_one() -> None:
    row = grid_row(3, 4, ("1", "任务"))
    assert row == GridRow(3, 4, ("1", "任务"))
    assert (row.first_line, row.last_line, row.cells) == (3, 4, ("1", "任务"))
    with pytest.raises(AttributeError):
        row.first_line = 5  # type: ignore[misc]  # frozen as ever


def test_every_sequence_number_is_its_own_canonical_form() -> None:
    """_cell_texts passes ASCII numbers (序号) by: normalisation leaves each as it is."""
    numbers = [str(number) for number in range(200_000)]
    assert normalize_lines(numbers) == numbers


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=1, max_size=30))
def test_a_long_number_is_its_own_canonical_form(number: str) -> None:
    assert normalize_line(number) == number


def test_the_control_character_search_reads_every_string_of_every_task() -> None:
    """_chunk_strings (the search a thousand tasks at a time) holds every string that
    _task_strings gives task by task, on the corpus and a realistic ledger."""
    for document in _text_documents():
        try:
            tasks = parse_document(document.file, document.data).tasks
        except DocumentError:
            continue
        by_task = {value for task in tasks for value in _task_strings(task)}
        assert set(_chunk_strings(tasks)) == by_task, document.file


def _every_new_name(task: PlanTask, seen: set[str]) -> list[str]:
    """The walk unit_name_warnings made before: each name of the task, once, if unseen."""
    names = dict.fromkeys((*task.lead_units, *task.cooperating_units))
    return [name for name in names if name not in seen]


def test_unit_name_warnings_pass_over_named_units_as_the_full_walk_does() -> None:
    directory = load_directory()
    checked = 0
    for document in _text_documents():
        try:
            tasks = parse_document(document.file, document.data).tasks
        except DocumentError:
            continue
        shortcut = unit_name_warnings(tasks, directory)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(units, "_unit_names", _every_new_name)
            assert unit_name_warnings(tasks, directory) == shortcut, document.file
        checked += len(shortcut)
    assert checked > 10
