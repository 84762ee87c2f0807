"""The editable 台账: parse → XLSX → parse is the identity, and a coordinator's edits read
back through the unit directory or fail on the cell that is wrong, naming it."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from datetime import date
from pathlib import Path
from typing import Any, get_args

import openpyxl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.errors import DocumentError
from domain.parsers import detect_parser, parse_document, parse_file, read_document
from domain.parsers.editable_ledger import (
    RECOMPUTED_WARNINGS,
    TASK_SHEET,
    EditableLedgerError,
    write_editable_ledger,
)
from domain.plan import (
    DeadlineFlag,
    Milestone,
    ParsedPlan,
    ParseWarning,
    Plan,
    PlanTask,
    Provenance,
    Recurrence,
    TaskFlag,
)
from domain.units import load_directory, parse_directory, split_units, unit_name_warnings
from tests.support.golden import EXAMPLES

CORPUS = Path(__file__).parent.parent / "corpus"
CORPUS_DOCUMENTS = sorted(
    path for path in CORPUS.glob("*") if path.suffix in {".html", ".csv", ".txt", ".xlsx"}
)
DIRECTORY = load_directory()


def round_trip(parsed: ParsedPlan, name: str = "台账.xlsx") -> ParsedPlan:
    return parse_document(name, write_editable_ledger(parsed), DIRECTORY)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.txt")), ids=lambda p: p.name[:8])
def test_reference_plans_round_trip_exactly(path: Path) -> None:
    parsed = parse_file(path, DIRECTORY)
    data = write_editable_ledger(parsed)
    assert detect_parser(read_document("台账.xlsx", data)).format == "editable-ledger"
    assert parse_document("台账.xlsx", data, DIRECTORY) == parsed


@pytest.mark.parametrize("path", CORPUS_DOCUMENTS, ids=lambda p: p.name[:2])
def test_corpus_documents_round_trip_exactly(path: Path) -> None:
    """Every corpus document Duban reads comes back from its 台账 unchanged."""
    try:
        parsed = parse_file(path, DIRECTORY)
    except DocumentError as error:
        pytest.skip(f"not read yet: {error}")
    assert round_trip(parsed) == parsed


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_ledgers_saved_again_by_libreoffice_read_back_unchanged(tmp_path: Path) -> None:
    """What a coordinator does: open the 台账 in a spreadsheet program and save it. The
    program writes its own XML (shared strings, styles, escapes); the plan is unchanged."""
    plans = {path.stem: parse_file(path, DIRECTORY) for path in sorted(EXAMPLES.glob("*.txt"))}
    for name, parsed in plans.items():
        (tmp_path / f"{name}.xlsx").write_bytes(write_editable_ledger(parsed))
    subprocess.run(
        [
            "soffice",
            "--headless",
            f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(tmp_path / "saved"),
            *(str(tmp_path / f"{name}.xlsx") for name in plans),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    for name, parsed in plans.items():
        saved = (tmp_path / "saved" / f"{name}.xlsx").read_bytes()
        assert saved != write_editable_ledger(parsed)  # really written by LibreOffice
        assert parse_document("台账.xlsx", saved, DIRECTORY) == parsed, name


# ---------------------------------------------------------------- generated plans

# Text as documents hold it: any printable character, line breaks, tabs, and the
# characters the cell encodings use themselves (| \ #). Carriage returns and other control
# characters are refused by parsing already (no parsed plan holds them).
_TEXT_CHARACTERS = st.one_of(
    st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="\ufffe\uffff"),
    st.sampled_from(["\n", "\t", "|", "\\", " ", "#", ",", "=", "、"]),
)
text = st.text(_TEXT_CHARACTERS, max_size=40).filter(lambda value: "x005F_" not in value)
words = text.filter(bool)


def _canonical(name: str) -> bool:
    """A unit name as a parser gives it: resolved, one unit, not a group with members."""
    return (
        DIRECTORY.resolve(name) == name
        and split_units(name) == [name]
        and DIRECTORY.members(name) is None
    )


unit_names = st.one_of(
    st.sampled_from(sorted(name for name in DIRECTORY.canonical if _canonical(name))),
    st.text(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5, exclude_characters="等"),
        min_size=1,
        max_size=8,
    ).filter(_canonical),
)
dates = st.dates(min_value=date(1000, 1, 1), max_value=date(2200, 12, 31))
milestones = st.builds(
    Milestone,
    due=dates,
    raw=text,
    text=text,
    flags=st.lists(st.sampled_from(list(DeadlineFlag)), unique=True, max_size=2),
)


@st.composite
def recurrences(draw: st.DrawFn) -> Recurrence:
    """Any valid recurrence of any frequency the model knows."""
    values = {
        "frequency": draw(
            st.sampled_from(get_args(Recurrence.model_fields["frequency"].annotation))
        ),
        "month": draw(st.none() | st.integers(1, 12)),
        "day": draw(st.none() | st.integers(1, 31)),
        "raw": draw(text),
    }
    try:
        return Recurrence.model_validate(values)
    except ValidationError:
        assume(False)
        raise


@st.composite
def tasks(draw: st.DrawFn, task_id: str) -> PlanTask:
    leads = draw(st.lists(unit_names, unique=True, max_size=3))
    cooperating = [
        unit for unit in draw(st.lists(unit_names, unique=True, max_size=3)) if unit not in leads
    ]
    first = draw(st.integers(0, 10**6))
    return PlanTask(
        id=task_id,
        seq=draw(st.integers(1, 10**6)),
        part=draw(st.none() | st.integers(1, 20)),
        category=draw(st.lists(words, max_size=3)),
        text=draw(words.filter(str.strip)),
        lead_units=leads,
        cooperating_units=cooperating,
        milestones=draw(st.lists(milestones, max_size=4)),
        recurrence=draw(st.none() | recurrences()),
        ongoing=draw(st.booleans()),
        starts=draw(st.none() | dates),
        source=Provenance(
            file=draw(words),
            lines=(first, first + draw(st.integers(0, 50))),
            raw=draw(text),
        ),
        # as every parser has it, no_unit only on a task no unit leads
        flags=[
            flag
            for flag in draw(st.lists(st.sampled_from(list(TaskFlag)), unique=True, max_size=3))
            if not (leads and flag is TaskFlag.NO_UNIT)
        ],
    )


@st.composite
def parsed_plans(draw: st.DrawFn) -> ParsedPlan:
    ids = draw(st.lists(words, min_size=1, max_size=5, unique=True))
    plan_tasks = [draw(tasks(task_id)) for task_id in ids]
    warnings = draw(
        st.lists(
            st.builds(
                ParseWarning,
                line=st.none() | st.integers(0, 10**6),
                code=text.filter(lambda code: code not in RECOMPUTED_WARNINGS),
                message=text,
                task_id=st.none() | st.sampled_from(ids) | words,
            ),
            max_size=6,
        )
    )
    start = draw(st.integers(1990, 2100))
    plan = Plan(
        id=draw(words),
        title=draw(text),
        issuer=draw(st.none() | words),
        document_number=draw(st.none() | words),
        issue_date=draw(st.none() | dates),
        period_start=start,
        period_end=start + draw(st.integers(0, 5)),
        source_file=draw(words),
        format=draw(words),
    )
    return ParsedPlan(plan=plan, tasks=plan_tasks, warnings=warnings)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parsed_plans())
def test_generated_plans_round_trip_exactly(parsed: ParsedPlan) -> None:
    """Any plan comes back equal; the unit warnings parsing adds are the ones it adds to
    any plan, computed again rather than doubled."""
    expected = parsed.model_copy(
        update={"warnings": [*parsed.warnings, *unit_name_warnings(parsed.tasks, DIRECTORY)]}
    )
    assert round_trip(parsed) == expected


# ---------------------------------------------------------------- edits


def _chuzhou() -> ParsedPlan:
    return parse_file(EXAMPLES / "chuzhou-2018-egov-key-tasks.txt", DIRECTORY)


def _edited(parsed: ParsedPlan, edits: dict[tuple[str, str], Any]) -> bytes:
    """The 台账 with cells changed as a coordinator would, saved by another program
    (openpyxl), keyed by (task id, column label)."""
    book = openpyxl.load_workbook(io.BytesIO(write_editable_ledger(parsed)))
    sheet = book[TASK_SHEET]
    columns = {cell.value: cell.column for cell in sheet[1]}
    rows = {sheet.cell(row, columns["编号"]).value: row for row in range(2, sheet.max_row + 1)}
    for (task_id, label), value in edits.items():
        sheet.cell(rows[task_id], columns[label]).value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _task(parsed: ParsedPlan, task_id: str) -> PlanTask:
    return next(task for task in parsed.tasks if task.id == task_id)


def test_a_file_saved_by_another_program_reads_back_unchanged() -> None:
    parsed = _chuzhou()
    assert parse_document("台账.xlsx", _edited(parsed, {}), DIRECTORY) == parsed


def test_edited_lead_units_go_through_the_unit_directory() -> None:
    """An alias becomes its canonical name; "A、B" typed in one line is two units."""
    parsed = _chuzhou()
    data = _edited(parsed, {("3", "牵头单位"): "市发改委", ("4", "牵头单位"): "市财政局、市公安局"})
    back = parse_document("台账.xlsx", data, DIRECTORY)
    assert _task(back, "3").lead_units == ["市发展改革委"]
    assert _task(back, "4").lead_units == ["市财政局", "市公安局"]
    assert "市财政局" not in _task(back, "4").cooperating_units
    untouched = [task for task in parsed.tasks if task.id not in {"3", "4"}]
    assert [task for task in back.tasks if task.id not in {"3", "4"}] == untouched


def test_an_edited_unknown_unit_is_warned_like_any_parsed_one() -> None:
    parsed = _chuzhou()
    back = parse_document("台账.xlsx", _edited(parsed, {("5", "牵头单位"): "市发该委"}), DIRECTORY)
    unknown = [w for w in back.warnings if w.code == "unknown_unit" and w.task_id == "5"]
    assert len(unknown) == 1
    assert "市发该委" in unknown[0].message


def test_edited_dates_read_back_with_the_edit() -> None:
    parsed = _chuzhou()
    task = parsed.tasks[0]
    edits = {
        (task.id, "完成时限"): "2018-06-30 | 6月底前 | 第一阶段\n2018/9/30 | 9月底前 | 第二阶段",
        (task.id, "开始"): "2018-03-01",
    }
    back = _task(parse_document("台账.xlsx", _edited(parsed, edits), DIRECTORY), task.id)
    assert back.milestones == [
        Milestone(due=date(2018, 6, 30), raw="6月底前", text="第一阶段"),
        Milestone(due=date(2018, 9, 30), raw="9月底前", text="第二阶段"),
    ]
    assert back.final_due == date(2018, 9, 30)
    assert back.starts == date(2018, 3, 1)


def test_a_date_typed_alone_and_a_lead_filled_in() -> None:
    """A bare date (as Excel stores a typed date) is a milestone; filling in the lead of the
    task that had none clears its no_unit flag."""
    parsed = _chuzhou()
    orphan = next(task for task in parsed.tasks if TaskFlag.NO_UNIT in task.flags)
    edits = {(orphan.id, "牵头单位"): "市财政局", (orphan.id, "完成时限"): date(2018, 11, 30)}
    back = _task(parse_document("台账.xlsx", _edited(parsed, edits), DIRECTORY), orphan.id)
    assert back.milestones == [Milestone(due=date(2018, 11, 30), raw="2018-11-30")]
    assert back.lead_units == ["市财政局"]
    assert TaskFlag.NO_UNIT not in back.flags
    assert [flag for flag in orphan.flags if flag is not TaskFlag.NO_UNIT] == back.flags


def test_a_group_typed_in_expands_to_its_members() -> None:
    directory = parse_directory(
        '[[unit]]\nname = "甲局"\n[[unit]]\nname = "乙局"\n'
        '[group."各有关局"]\nmembers = ["甲局", "乙局"]\n'
    )
    parsed = _chuzhou()
    data = _edited(parsed, {("2", "配合单位"): "各有关局"})
    back = _task(parse_document("台账.xlsx", data, directory), "2")
    assert back.cooperating_units == ["甲局", "乙局"]
    assert TaskFlag.GROUP_EXPANDED in back.flags


def test_a_deleted_warning_is_gone_and_a_deleted_row_is_no_task() -> None:
    """A coordinator who has dealt with the truncated row deletes its warning; a row
    cleared entirely is no task."""
    parsed = _chuzhou()
    cleared = {("47", label): None for label in ("序号", "编号", "任务", "来源行", "提示")}
    cleared |= {("47", label): None for label in ("分类", "完成时限", "标记", "来源文件", "原文")}
    back = parse_document("台账.xlsx", _edited(parsed, cleared), DIRECTORY)
    assert [task.id for task in back.tasks] == [task.id for task in parsed.tasks[:-1]]
    assert back.warnings == []


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("完成时限", "2018-13-01 | 6月底前 | x", "完成时限: '2018-13-01' is not a date"),
        ("完成时限", "6月底前", "完成时限: '6月底前' is not a date"),
        ("完成时限", "2018-06-30 | a | b | c | d", "完成时限: '2018-06-30 | a | b | c | d' is not"),
        ("完成时限", "2018-06-30 | 6月底前 | x | soon", "完成时限: 'soon' is not a flag"),
        ("序号", "七", "序号: '七' is not a whole number from 1"),
        ("标记", "inferred", "标记: 'inferred' is not a flag"),
        ("长期", "maybe", "长期: 'maybe' is not 是 or blank"),
        ("开始", "next spring", "开始: 'next spring' is not a date"),
        ("周期", "frequency=weekly | 每周", "周期: frequency: Input should be"),
        ("任务", "  ", "任务: the task text is empty"),
    ],
)
@pytest.mark.fault
def test_a_bad_edit_is_one_located_error(column: str, value: str, expected: str) -> None:
    """The error names the sheet, the row (the task's row 8: task 7 under the header) and
    the column, and nothing is read."""
    data = _edited(_chuzhou(), {("7", column): value})
    with pytest.raises(DocumentError) as raised:
        parse_document("台账.xlsx", data, DIRECTORY)
    message = str(raised.value)
    assert message.startswith("台账.xlsx:8: sheet 任务清单 row 8, "), message
    assert expected in message, message
    assert "\n" not in message


@pytest.mark.fault
def test_a_task_id_used_twice_is_refused() -> None:
    with pytest.raises(DocumentError, match="row 9, 编号: task id '7' is already used in row 8"):
        parse_document("台账.xlsx", _edited(_chuzhou(), {("8", "编号"): "7"}), DIRECTORY)


@pytest.mark.fault
def test_every_bad_cell_is_named_at_once() -> None:
    edits = {("7", "完成时限"): "2018-13-01 |  | ", ("9", "序号"): "0"}
    with pytest.raises(DocumentError, match=r"row 8, 完成时限.*; .*row 10, 序号.*\(and 1 more\)"):
        parse_document("台账.xlsx", _edited(_chuzhou(), edits), DIRECTORY)


@pytest.mark.fault
def test_a_bad_plan_field_is_located_on_the_plan_sheet() -> None:
    book = openpyxl.load_workbook(io.BytesIO(write_editable_ledger(_chuzhou())))
    sheet = book["计划信息"]
    row = next(
        r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == "印发日期 issue date"
    )
    sheet.cell(row, 2).value = "2018-02-30"
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(DocumentError, match=rf"sheet 计划信息 row {row}, 印发日期.*not a date"):
        parse_document("台账.xlsx", out.getvalue(), DIRECTORY)


def test_a_plan_no_cell_can_carry_is_refused_before_anything_is_written() -> None:
    parsed = _chuzhou()
    broken = parsed.model_copy(
        update={"tasks": [parsed.tasks[0].model_copy(update={"text": "a\rb"}), *parsed.tasks[1:]]}
    )
    with pytest.raises(EditableLedgerError, match=r"task 1's text holds '\\r'"):
        write_editable_ledger(broken)


def _resaved(data: bytes, change: Any) -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(data))
    change(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.fault
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda book: setattr(book[TASK_SHEET].cell(1, 8), "value", "时限"),
            "完成时限: the column",
        ),
        (lambda book: setattr(book["计划信息"].cell(1, 2), "value", 9), "format version 9"),
        (lambda book: book.remove(book[TASK_SHEET]), "has no sheet 任务清单"),
    ],
    ids=["column", "version", "sheet"],
)
def test_a_damaged_ledger_is_one_located_error(change: Any, expected: str) -> None:
    data = _resaved(write_editable_ledger(_chuzhou()), change)
    with pytest.raises(DocumentError, match=expected):
        parse_document("台账.xlsx", data, DIRECTORY)


def test_a_workbook_that_lost_its_marker_says_so() -> None:
    """Without its 计划信息 marker the task sheet is still recognised, and the error says
    what is missing rather than that no task table was found."""
    data = _resaved(
        write_editable_ledger(_chuzhou()),
        lambda book: setattr(book["计划信息"].cell(1, 1), "value", "计划"),
    )
    with pytest.raises(DocumentError, match="sheet 计划信息 does not start with"):
        parse_document("台账.xlsx", data, DIRECTORY)


def _with_part(data: bytes, part: str, damage: Any) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            target.writestr(item, damage(content) if item.filename == part else content)
    return out.getvalue()


@pytest.mark.fault
@pytest.mark.parametrize(
    ("part", "damage"),
    [
        ("xl/worksheets/sheet1.xml", lambda content: content[: len(content) // 2]),
        ("xl/worksheets/sheet2.xml", lambda content: content[: len(content) // 3]),
        ("xl/sharedStrings.xml", lambda content: b"<sst>" + bytes(range(256)) * 4),
        ("xl/workbook.xml", lambda content: content.replace(b"sheet", b"shee\xff")),
    ],
    ids=["task-sheet", "plan-sheet", "strings", "workbook"],
)
def test_a_damaged_workbook_ends_in_one_document_error(part: str, damage: Any) -> None:
    data = _with_part(write_editable_ledger(_chuzhou()), part, damage)
    with pytest.raises(DocumentError) as raised:
        parse_document("台账.xlsx", data, DIRECTORY)
    assert "\n" not in str(raised.value)
