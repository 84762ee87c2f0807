"""The whole reader under hostile input: any bytes end in a ParsedPlan or one located error.

Each test drives ``domain.parsers.parse_document`` (decoding, format detection, the chosen
parser, the general reader's fallback, the unit directory) with generated input: random
bytes, bytes behind the magic numbers of the office formats, text assembled from the
pieces plans are made of (numbering markers, unit fields, parentheses of both widths,
dates, HTML tags), real documents cut at random offsets or with bytes overwritten, and a
document of the full 20 MB. The only exception allowed out is a DocumentError that names
the file and says, on one line, what went wrong.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DocumentError
from domain.parsers import parse_document
from domain.plan import ParsedPlan
from domain.text import MAX_DOCUMENT_BYTES
from domain.units import load_directory

pytestmark = pytest.mark.fault

_TESTS = Path(__file__).resolve().parent.parent
_EXAMPLES = _TESTS.parent / "examples" / "plans"
_REAL_DOCUMENTS = sorted(
    path
    for folder in (_TESTS / "corpus", _TESTS / "unseen", _EXAMPLES, _TESTS / "fixtures" / "inputs")
    if folder.is_dir()
    for path in folder.iterdir()
    if path.suffix.lower() in {".txt", ".csv", ".html", ".docx", ".xlsx", ".pdf", ".doc", ".xls"}
)
_NAMES: tuple[str, ...] = ("计划.txt", "分工.html", "台账.csv", "方案.docx", "台账.xlsx")
_NAMES += ("计划.pdf", "分工.doc", "x")
_MAGIC = (
    b"PK\x03\x04",
    b"%PDF-1.7\n",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"<!DOCTYPE html><html><body><table><tr><td>",
)
_FRAGMENTS = (
    "一、",
    "（一）",
    "(二)",
    "1.",
    "2．",
    "（1）",
    "(2)",
    "①",
    "第一条",
    "附件1",
    "附件：",
    "\n",
    "\r\n",
    "\u3000",
    " ",
    "\t",
    "。",
    "，",
    "；",
    ";",
    "、",
    "（",
    "）",
    "(",
    ")",
    "【",
    "】",
    "[",
    "]",
    "“",
    "”",
    "：",
    ":",
    "|",
    "| 序号 | 重点任务 | 牵头单位 | 配合单位 | 完成时限 |",
    "|---|---|",
    "重点任务\n牵头单位\n配合单位\n完成时限\n",
    "市司法局\n",
    "序号,工作任务,牵头单位,配合单位,完成时限\n",
    ",",
    '"',
    "牵头单位：",
    "责任单位：",
    "配合单位：",
    "完成时限：",
    "牵頭單位：",
    "負責",
    "牵头",
    "配合",
    "会同",
    "按职责分工负责",
    "列第一位者为牵头单位，下同",
    "等",
    "市财政局",
    "市发展改革委",
    "各县（市、区）人民政府",
    "各县(市、区)政府",
    "2024年6月底前",
    "年底前",
    "一季度",
    "四季度",
    "每年3月底前",
    "每季度",
    "持续推进",
    "印发之日起30日内",
    "2024年13月45日",
    "9999年12月底前",
    "推进工作",
    "扫一扫",
    "【字体：大 中 小】",
    "打印本页",
    "索引号：",
    "发文机关：",
    "<p>",
    "</p>",
    "<span>",
    "</span>",
    "<table>",
    "<tr><td>",
    "</td><td>",
    "</table",
    "<br>",
    "<!--",
    "&nbsp;",
    "&#",
    "<script>",
    "\x00",
    "\ufeff",
    "\u200b",
    "\U0002a6a5",
)


def _outcome(file: str, data: bytes) -> ParsedPlan | DocumentError:
    try:
        return parse_document(file, data, _DIRECTORY)
    except DocumentError as error:
        return error


_DIRECTORY = load_directory()


def _assert_parsed_or_located(file: str, data: bytes) -> None:
    outcome = _outcome(file, data)
    if isinstance(outcome, DocumentError):
        assert outcome.file == file
        assert outcome.message.strip()
        assert "\n" not in str(outcome), str(outcome)
        assert str(outcome).startswith(file)
        return
    assert outcome.tasks
    for task in outcome.tasks:
        assert task.text.strip()


# 200 examples a test keep the file under 30 s on a shared machine; a deeper hunt:
# DUBAN_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/domain/test_reader_fuzz.py
_SETTINGS = settings(
    max_examples=int(os.environ.get("DUBAN_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@_SETTINGS
@given(st.binary(max_size=4096), st.sampled_from(_NAMES))
def test_random_bytes_parse_or_are_one_located_error(data: bytes, file: str) -> None:
    _assert_parsed_or_located(file, data)


@_SETTINGS
@given(st.sampled_from(_MAGIC), st.binary(max_size=2048), st.sampled_from(_NAMES))
def test_bytes_behind_a_formats_magic_number_parse_or_are_one_located_error(
    magic: bytes, rest: bytes, file: str
) -> None:
    _assert_parsed_or_located(file, magic + rest)


@_SETTINGS
@given(
    st.lists(st.sampled_from(_FRAGMENTS), max_size=80),
    st.sampled_from(("计划.txt", "分工.html", "台账.csv", "x")),
    st.sampled_from(("utf-8", "gb18030", "utf-16")),
)
def test_text_made_of_plan_fragments_parses_or_is_one_located_error(
    fragments: list[str], file: str, encoding: str
) -> None:
    text = "2024年重点任务分工\n" + "".join(fragments)
    _assert_parsed_or_located(file, text.encode(encoding, errors="ignore"))


@_SETTINGS
@given(st.sampled_from(_REAL_DOCUMENTS), st.floats(min_value=0, max_value=1))
def test_a_real_document_cut_anywhere_parses_or_is_one_located_error(
    path: Path, fraction: float
) -> None:
    data = path.read_bytes()
    _assert_parsed_or_located(path.name, data[: int(len(data) * fraction)])


@_SETTINGS
@given(
    st.sampled_from(_REAL_DOCUMENTS),
    st.lists(
        st.tuples(st.floats(min_value=0, max_value=1), st.binary(min_size=1, max_size=8)),
        min_size=1,
        max_size=6,
    ),
)
def test_a_real_document_with_bytes_overwritten_parses_or_is_one_located_error(
    path: Path, damage: list[tuple[float, bytes]]
) -> None:
    data = bytearray(path.read_bytes())
    for fraction, replacement in damage:
        at = int(len(data) * fraction)
        data[at : at + len(replacement)] = replacement
    _assert_parsed_or_located(path.name, bytes(data))


def test_the_real_documents_are_there_to_cut() -> None:
    suffixes = {path.suffix.lower() for path in _REAL_DOCUMENTS}
    assert {".txt", ".csv", ".html", ".docx", ".xlsx", ".pdf"} <= suffixes


def _plan_of_size(size: int) -> bytes:
    item = (
        "{n}.推进第{n}项重点工作，完成年度目标。"
        "（牵头单位：市发展改革委；配合单位：市财政局；完成时限：2024年6月底前）\n"
    )
    lines = ["2024年重点任务分工\n"]
    total = len(lines[0].encode())
    number = 1
    while True:
        line = item.format(n=number)
        encoded = len(line.encode())
        if total + encoded > size:
            break
        lines.append(line)
        total += encoded
        number += 1
    return "".join(lines).encode()


@pytest.mark.parametrize(
    ("file", "make"),
    [
        ("计划.txt", lambda: _plan_of_size(MAX_DOCUMENT_BYTES)),
        ("计划.txt", lambda: b"\xe6\x8e\xa8" * (MAX_DOCUMENT_BYTES // 3)),
        ("计划.txt", lambda: bytes(range(256)) * (MAX_DOCUMENT_BYTES // 256)),
        ("计划.txt", lambda: b"1." * (MAX_DOCUMENT_BYTES // 2)),
        ("计划.txt", lambda: b" " * (MAX_DOCUMENT_BYTES + 1)),
    ],
    ids=["a-20-MB-plan", "one-character-repeated", "binary-junk", "only-markers", "one-byte-over"],
)
def test_a_20_mb_document_parses_or_is_one_located_error(file: str, make: object) -> None:
    assert callable(make)
    _assert_parsed_or_located(file, make())


def _member_damaged(data: bytes, member: str, junk: bytes) -> bytes:
    """The ZIP package with ``junk`` written into the middle of one member's packed bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(member)
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    at = info.header_offset + 30 + name_length + extra_length + info.compress_size // 2
    return data[:at] + junk + data[at + len(junk) :]


@pytest.mark.parametrize("junk", [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x12\x34\x56\x78"])
@pytest.mark.parametrize(
    "name", ["u04_yibin_shuzijingji_2024_ledger.xlsx", "u03_liuzhou_shipinanquan_2024.docx"]
)
def test_an_office_file_with_a_damaged_member_is_one_located_error(name: str, junk: bytes) -> None:
    """Found by the overwrite test: a deflate stream broken inside xl/workbook.xml raised
    zlib.error out of the editable-台账 detector."""
    data = (_TESTS / "unseen" / name).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [info.filename for info in archive.infolist() if info.compress_size > 8]
    for member in members:
        outcome = _outcome(name, _member_damaged(data, member, junk))
        if isinstance(outcome, DocumentError):
            assert str(outcome).startswith(name)
            assert "\n" not in str(outcome)


def test_a_document_cut_right_after_a_row_number_has_no_task_without_text() -> None:
    """Found by the cut test: the 滁州 table cut after its first row's "1" gave task 1 with
    an empty text (flattened-table's cut-off row kept nothing)."""
    data = (_EXAMPLES / "chuzhou-2018-egov-key-tasks.txt").read_bytes()
    cut = data[: data.index("是否需县市区配合\n1\n".encode()) + len("是否需县市区配合\n1".encode())]
    outcome = _outcome("chuzhou.txt", cut)
    if isinstance(outcome, ParsedPlan):
        assert all(task.text.strip() for task in outcome.tasks)
        assert all(
            w.task_id in {t.id for t in outcome.tasks} for w in outcome.warnings if w.task_id
        )


@pytest.mark.parametrize("date_line", ["2024年13月45日", "发布时间：2024-13-45", "2023年2月29日"])
def test_a_date_line_no_calendar_has_is_no_issue_date(date_line: str) -> None:
    """Found by the fragments test: a signature or 发布时间 date that cannot exist raised
    ValueError out of the issue-date search; it is simply not the plan's issue date."""
    text = f"2024年重点任务分工\n{date_line}\n1.推进工作。（市财政局负责）\n"
    outcome = _outcome("计划.txt", text.encode())
    assert isinstance(outcome, ParsedPlan)
    assert outcome.plan.issue_date is None
