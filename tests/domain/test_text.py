"""Normalisation and decoding: what every parser relies on."""

from __future__ import annotations

import pytest

from domain.errors import DocumentError
from domain.text import MAX_DOCUMENT_BYTES, decode_document, normalize_line


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("各縣(市)、區(qū)人民政府", "各县（市）、区人民政府"),
        ("市經(jīng)濟技術(shù)開發(fā)區(qū)管委會", "市经济技术开发区管委会"),
        ("覆盖(i-Dongying)工程", "覆盖（i-Dongying）工程"),
        ("主 要 任 务 及 时 限 要 求", "主要任务及时限要求"),
        ("分别牵头负责 ,各县区政府", "分别牵头负责，各县区政府"),
        ("１２３４５热线", "12345热线"),
        ("1,000元 00:00", "1,000元 00:00"),
        ("(牵头部门:市公安局)", "（牵头部门：市公安局）"),
        # role words and unit names in Traditional, with and without pinyin
        (
            "(市政府辦公室牽頭,市級各有關部門按職責分工負責)",
            "（市政府办公室牵头，市级各有关部门按职责分工负责）",
        ),
        ("牽(qiān)頭(tóu)單(dān)位(wèi):區(qū)衛(wèi)健局", "牵头单位：区卫健局"),
        ("責任單位：各縣（市、區（qū））人民政府", "责任单位：各县（市、区）人民政府"),
        ("協(xié)同單位 (wèi)：市財政局", "协同单位：市财政局"),
        # small and half-width forms of Chinese punctuation
        ("市教育局﹑市体育局､市民政局", "市教育局、市体育局、市民政局"),
        ("各县﹙市﹚﹐市直各部门﹔", "各县（市），市直各部门；"),
    ],
)
def test_normalize_line(raw: str, normalised: str) -> None:
    """Pinyin goes, real parentheses stay, Traditional becomes Simplified, widths unify."""
    assert normalize_line(raw) == normalised


def test_gb18030_and_bom_are_decoded() -> None:
    """GBK/GB18030 files and UTF-8 with a BOM read as the same text."""
    text = "滁州市2018年电子政务重点工作计划"
    assert decode_document(text.encode("gb18030"), "plan.txt") == text
    assert decode_document("\ufeff".encode() + text.encode(), "plan.txt") == text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"\xff\xfe\xfa\xfb" * 4, "neither UTF-8 nor GB18030"),
        (b"x" * (MAX_DOCUMENT_BYTES + 1), "at most"),
    ],
)
def test_unreadable_input_is_a_located_error(data: bytes, message: str) -> None:
    """Empty, binary, undecodable and oversized files each say what is wrong, by file."""
    with pytest.raises(DocumentError, match=message) as raised:
        decode_document(data, "upload.txt")
    assert str(raised.value).startswith("upload.txt: ")


@pytest.mark.parametrize(
    ("text", "line", "column", "code"),
    [
        ("x\n" * 5000 + "1,建设\x00平台\n", 5001, 5, "U+0000"),  # past the first 8 KiB
        ("\x1b[31m红色", 1, 1, "U+001B"),
        ("一\r\n二\r\n\x7f", 3, 1, "U+007F"),
        ("甲\x0c乙\x01", 2, 2, "U+0001"),  # a form feed is a line break, as parsers count
        ("a\u0085b", 1, 2, "U+0085"),
    ],
)
def test_a_control_character_is_refused_at_its_line_and_column(
    text: str, line: int, column: int, code: str
) -> None:
    """Anywhere in the document, not only in the first 8 KiB the binary check reads."""
    with pytest.raises(DocumentError) as raised:
        decode_document(text.encode("utf-8"), "plan.txt")
    assert (raised.value.line, raised.value.column) == (line, column)
    assert str(raised.value).startswith(f"plan.txt:{line}:{column}: ")
    assert code in str(raised.value)


def test_tabs_and_line_breaks_are_text() -> None:
    assert decode_document("甲\t乙\r\n丙\x0b丁\x0c戊\n".encode(), "plan.txt")
