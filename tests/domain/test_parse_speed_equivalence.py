"""The fast paths of text normalisation and ledger reading give what the plain ones gave.

Each speed-up (one pass over a document's joined lines, one regex instead of a
translation table, caches by cell text) is checked here against the definition it
replaces, on generated text that mixes every character class the steps treat specially.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import DocumentError
from domain.parsers import (
    _parse_with,
    _parsers,
    _refuse_control_characters,
    detect_parser,
    parse_document,
    read_document,
)
from domain.parsers.common import Parser, SourceDocument
from domain.parsers.ledger import (
    _EXACT_HEADER,
    _HEADER_KEYWORDS,
    _HEADER_NOTE,
    _MAX_HEADER_CELL,
    Column,
    header_column,
)
from domain.plan import ParsedPlan, PlanTask, Provenance
from domain.text import (
    _ONE_WIDTH,
    _TO_FULLWIDTH,
    han_numeral_years,
    normalize_line,
    normalize_lines,
    strip_pinyin,
    to_simplified,
    unify_punctuation,
)
from domain.units import load_directory
from tests.support.corpus_score import CORPUS
from tests.support.golden import EXAMPLES
from tests.support.ledgers import realistic_ledger_csv

# The definitions as they stood before the fast paths.
_HALFWIDTH_PUNCTUATION = re.compile(r"[();!?]|(?<!\d)[,:]|[,:](?!\d)")
_HAN = r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef“”‘’]"
_SPACE_BETWEEN_HAN = re.compile(rf"(?<={_HAN})[ \t\u00a0]+(?={_HAN})")


def reference_unify_punctuation(text: str) -> str:
    text = text.translate(_ONE_WIDTH)
    return _HALFWIDTH_PUNCTUATION.sub(lambda match: _TO_FULLWIDTH[match.group(0)], text)


def reference_normalize_line(line: str) -> str:
    line = han_numeral_years(reference_unify_punctuation(to_simplified(strip_pinyin(line))))
    return _SPACE_BETWEEN_HAN.sub("", line).strip()


# Characters every step looks at: digits of both widths, the punctuation it unifies, the
# small forms, spaces, Han numerals and 年, Traditional characters, pinyin with tones.
_ALPHABET = list(
    "0123456789０１２３４５６７８９,:;()!?，：；（）、。﹑､﹐﹔﹕﹙﹚｡ \t\u00a0\u3000"
    "〇零一二三四五六七八九年月日區單位號發展改革委員會qūwèiaáǎàüxyzＡＢａｂ?？\ufffd市局"
)
lines_strategy = st.lists(st.text(alphabet=_ALPHABET, max_size=40), max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=60))
def test_unify_punctuation_matches_its_definition(text: str) -> None:
    assert unify_punctuation(text) == reference_unify_punctuation(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=60))
def test_normalize_line_matches_its_definition(line: str) -> None:
    assert normalize_line(line) == reference_normalize_line(line)


@settings(max_examples=300, deadline=None)
@given(lines_strategy)
def test_normalize_lines_is_normalize_line_per_line(lines: list[str]) -> None:
    assert normalize_lines(lines) == [normalize_line(line) for line in lines]


def test_a_wrapped_cell_is_normalised_alone() -> None:
    lines = ["市发展改革委\n（牵头）", "區(qū)政府"]
    assert normalize_lines(lines) == [normalize_line(line) for line in lines]


def test_a_ledger_parses_the_same_twice_and_its_tasks_share_no_lists() -> None:
    """Cached cell readings (deadlines, units) give each task its own lists: editing one
    task's units or milestones never changes another's."""
    data = realistic_ledger_csv(400)
    first = parse_document("ledger.csv", data)
    second = parse_document("ledger.csv", data)
    assert first == second
    tasks = first.tasks
    same_lead = [task for task in tasks if task.lead_units == tasks[0].lead_units]
    assert len(same_lead) > 1
    same_lead[0].lead_units.append("市审计局")
    same_lead[0].milestones.clear()
    other = tasks.index(same_lead[1])
    assert same_lead[1].lead_units == second.tasks[other].lead_units
    assert same_lead[1].milestones == second.tasks[other].milestones
    assert all(task.lead_units is not same_lead[0].lead_units for task in same_lead[1:])
    assert all(task.milestones is not same_lead[0].milestones for task in same_lead[1:])


def test_tasks_built_without_validation_are_what_validation_builds() -> None:
    """build_task's unvalidated construction gives the same models, field set and dumps as
    validating the same values, and they behave as models: assignment, copies, dumps."""
    parsed = parse_document("ledger.csv", realistic_ledger_csv(60))
    for task in parsed.tasks:
        validated = PlanTask.model_validate(task.model_dump())
        assert task == validated
        assert task.model_fields_set == validated.model_fields_set
        assert task.model_dump_json() == validated.model_dump_json()
        assert task.source == Provenance.model_validate(task.source.model_dump())
    first, second = parsed.tasks[0], parsed.tasks[1]
    first.text += "（备注：改）"
    assert first.model_fields_set == set(PlanTask.model_fields)
    assert not second.text.endswith("（备注：改）")
    copied = second.model_copy(update={"text": "另一项"})
    assert copied.text == "另一项"
    assert second.text != "另一项"


def _documents() -> list[SourceDocument]:
    paths = [
        *(path for path in CORPUS.iterdir() if path.suffix in {".txt", ".csv", ".html"}),
        *EXAMPLES.glob("*.txt"),
    ]
    return [read_document(path.name, path.read_bytes()) for path in sorted(paths)]


def test_detection_skipping_a_parser_that_cannot_win_picks_what_scoring_all_picks() -> None:
    """detect_parser leaves the general reader unscored when another parser is already
    more certain than it can be; the choice is the one scoring every parser makes."""
    ledger = read_document("ledger.csv", realistic_ledger_csv(50))
    for document in [*_documents(), ledger]:
        scores = [(parser.score(document), parser) for parser in _parsers()]
        best = max(score for score, _ in scores)
        first_best = next(parser for score, parser in scores if score == best)
        assert detect_parser(document) is first_best, document.file


def _reading(parser: Parser, document: SourceDocument) -> ParsedPlan | str:
    try:
        return _parse_with(parser, document, load_directory())
    except DocumentError as refusal:
        return str(refusal)


def test_a_parser_given_only_what_it_reads_reads_what_the_whole_document_gives() -> None:
    """parse_document hands a parser declaring ``what_it_reads`` (the CSV ledger) its
    document without the rest (the normalised lines), so a large ledger is not held twice;
    the plan, or the refusal when the parser refuses the document and the general reader
    is asked in its place (the document read again, whole), is the whole document's."""
    rows = realistic_ledger_csv(6).decode().splitlines()
    rows[3] += ",多余"  # a row wider than the header: the ledger refuses it
    documents = [
        *_documents(),
        read_document("ledger.csv", realistic_ledger_csv(50)),
        read_document("wide_row.csv", "\n".join(rows).encode()),
    ]
    readings = []
    for document in documents:
        parser = detect_parser(document)
        narrowed = getattr(parser, "what_it_reads", None)
        if narrowed is None or narrowed(document) is document:
            continue
        assert not narrowed(document).lines, document.file
        assert narrowed(document).raw_lines == document.raw_lines, document.file
        whole = _reading(parser, document)
        assert _reading(parser, narrowed(document)) == whole, document.file
        readings.append(whole)
    assert sum(isinstance(reading, ParsedPlan) for reading in readings) >= 3
    assert any("line 4 has 6 cells" in str(reading) for reading in readings)


def test_a_control_character_deep_in_a_large_plan_is_found_and_located() -> None:
    """The control-character check (what an office file's cells could bring) searches a
    thousand tasks at a time: one in a task of the third thousand, in its text or in a
    unit, is still refused, naming the task and its line; a clean plan passes."""
    parsed = parse_document("ledger.csv", realistic_ledger_csv(2500))
    _refuse_control_characters(parsed)
    task = parsed.tasks[2100]
    for where in ("text", "lead_units"):
        edited = parsed.model_copy(deep=True)
        if where == "text":
            edited.tasks[2100].text += "\x07"
        else:
            edited.tasks[2100].lead_units.append("市\x1b财政局")
        with pytest.raises(DocumentError) as refused:
            _refuse_control_characters(edited)
        assert f"task {task.id} holds a control character" in str(refused.value)
        assert refused.value.line == task.source.lines[0]


def reference_header_column(cell: str) -> Column | None:
    name = _HEADER_NOTE.sub("", cell)
    if not name or len(name) > _MAX_HEADER_CELL:
        return None
    exact = _EXACT_HEADER.get(name)
    if exact is not None:
        return exact
    return next((column for column, keyword in _HEADER_KEYWORDS if keyword.search(name)), None)


_HEADER_PARTS = st.sampled_from(
    ["序号", "任务名称", "牵头单位", "配合", "完成时限", "类别", "（", "）", "*", "＊", " ", "\t",
     ":", "：", "（备注）", "工作", "，", "市财政局", "2025年6月底前", "x"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_HEADER_PARTS, max_size=12).map("".join))
def test_header_column_passing_over_a_long_line_matches_its_definition(cell: str) -> None:
    assert header_column(cell) == reference_header_column(cell)
