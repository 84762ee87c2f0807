"""Pinyin left behind by characters lost in transcoding (nantong): stripped, with a trace."""

from __future__ import annotations

import pytest

from domain.text import normalize_line


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        # the annotated character was lost as "?" and took its "(" with it
        ("按必要程序?qū)徍", "按必要程序？徍"),
        ("匯總?cè)姓?wù)信息", "汇总？姓？信息"),
        ("程序?(shěn)核", "程序？核"),
        # a real question mark before real parentheses is left alone
        ("是否完成?(是)", "是否完成？（是）"),
        ("what? (yes)", "what？（yes）"),
    ],
)
def test_pinyin_after_a_lost_character_is_stripped(raw: str, normalised: str) -> None:
    """Pinyin left behind by a character lost in transcoding ("?qū)") does not survive."""
    assert normalize_line(raw) == normalised
