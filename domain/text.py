"""Text as the parsers want it: decoded, Simplified, pinyin-free, one punctuation width.

Documents arrive as UTF-8 or GB18030 (GBK) text, in Traditional or Simplified characters,
sometimes with pinyin pasted after characters ("區(qū)"), with full-width and half-width
punctuation mixed. Parsers match one canonical form: full-width Chinese punctuation
（）：，；, ASCII letters and digits, Simplified characters.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from functools import cache

import opencc

from domain.errors import DocumentError

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024

_TONE_VOWELS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü"
# A parenthesised lowercase syllable with a tone mark right after a Han character is a
# pinyin annotation ("區(qū)"); "(市)", "(一)" and "(i-Dongying)" are real text and stay.
_PINYIN = re.compile(
    # A space copied in before the annotation ("單位 (wèi)") goes with it.
    rf"(?<=[\u3400-\u9fff])[ \t\u00a0]*"
    rf"[(（](?=[a-z{_TONE_VOWELS}]*[{_TONE_VOWELS}])[a-z{_TONE_VOWELS}]{{1,7}}[)）]"
    # Where the annotated character was lost in transcoding it became "?" and often took
    # the "(" with it ("程序?qū)"): the "?" stays as the trace of the lost character.
    rf"|(?<=[?？\ufffd])[(（]?(?=[a-z{_TONE_VOWELS}]*[{_TONE_VOWELS}])[a-z{_TONE_VOWELS}]{{1,7}}[)）]"
)
_ONE_WIDTH = {
    **{0xFF10 + i: ord("0") + i for i in range(10)},
    **{0xFF21 + i: ord("A") + i for i in range(26)},
    **{0xFF41 + i: ord("a") + i for i in range(26)},
    0x3000: ord(" "),
    # Small and half-width forms of Chinese punctuation (﹑ ､ ﹐ ﹔ ﹕ ﹙ ﹚ ｡), as some
    # typesetting and web pages write them: read like the full-width ones.
    0xFE51: ord("、"),
    0xFF64: ord("、"),
    0xFE50: ord("，"),
    0xFE54: ord("；"),
    0xFE55: ord("："),
    0xFE59: ord("（"),
    0xFE5A: ord("）"),
    0xFF61: ord("。"),
}
_TO_FULLWIDTH = {"(": "（", ")": "）", ",": "，", ";": "；", ":": "：", "!": "！", "?": "？"}
# The characters unify_punctuation replaces whatever stands beside them, found by one
# regex: str.translate looks every character of the text up, ten times slower on a long
# document. A comma or colon between two digits is part of a number or a time ("1,000",
# "00:00") and stays.
_ONE_FOR_ONE = {
    **{chr(code): chr(target) for code, target in _ONE_WIDTH.items()},
    **{key: value for key, value in _TO_FULLWIDTH.items() if key not in ",:"},
}
_ONE_FOR_ONE_CHARACTER = re.compile("[" + "".join(map(re.escape, _ONE_FOR_ONE)) + "]")
_COMMA = re.compile(r"(?<!\d),|,(?!\d)")
_COLON = re.compile(r"(?<!\d):|:(?!\d)")
_HAN = r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef“”‘’]"
_SPACE_BETWEEN_HAN = re.compile(rf"(?<={_HAN})[ \t\u00a0]+(?={_HAN})")


@cache
def _traditional_to_simplified() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def decode_document(data: bytes, file: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 (with BOM, or without where its zero bytes
    tell), or GB18030 text, or a DocumentError saying what it is."""
    if not data.strip():
        raise DocumentError(file, None, "the file is empty; expected a plan document")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            file,
            None,
            f"the file is {len(data) / 1024 / 1024:.0f} MB; plan documents are at most "
            f"{MAX_DOCUMENT_BYTES // 1024 // 1024} MB",
        )
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):  # Excel's "Unicode text"
        utf16 = _utf16_text(data)
        if utf16 is not None:
            return refuse_control_characters(utf16, file)
    if b"\x00" in data[:8192]:
        utf16 = _utf16_without_bom(data)
        if utf16 is not None:
            return refuse_control_characters(utf16, file)
        raise DocumentError(
            file, None, "this is a binary file; expected text, CSV, XLSX, XLS, DOCX, HTML or PDF"
        )
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return refuse_control_characters(text, file)
    raise DocumentError(file, None, "the text is neither UTF-8 nor GB18030 (GBK)")


# C0 and C1 control characters other than tab and the line breaks (\n \v \f \r): no
# document means them, PostgreSQL cannot store NUL, and a terminal obeys the escapes.
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def control_character_error(file: str, text: str) -> DocumentError | None:
    """The first control character of ``text`` as a located error (line as the parsers count
    lines, column from 1), or None when there is none."""
    found = CONTROL_CHARACTER.search(text)
    if found is None:
        return None
    before = text[: found.start()].splitlines(keepends=True)
    if not before:
        line, column = 1, 1
    elif before[-1].splitlines() != [before[-1]]:  # the text before ends with a line break
        line, column = len(before) + 1, 1
    else:
        line, column = len(before), len(before[-1]) + 1
    return DocumentError(
        file,
        line,
        f"a control character (U+{ord(found.group()):04X}); plan documents are text: "
        "remove it from the document",
        column=column,
    )


def refuse_control_characters(text: str, file: str) -> str:
    error = control_character_error(file, text)
    if error is not None:
        raise error
    return text


_PLAIN_TEXT = re.compile(r"[\s\x20-\x7e\u2000-\u206f\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def _utf16_text(data: bytes) -> str | None:
    """Bytes opening with a UTF-16 BOM, decoded, if they read as text (mostly Chinese,
    ASCII and punctuation); None for other bytes that merely start like a BOM."""
    try:
        text = data.decode("utf-16")
    except UnicodeDecodeError:
        return None
    plain = sum(1 for _ in _PLAIN_TEXT.finditer(text[:8192]))
    return text if plain >= 0.9 * len(text[:8192]) else None


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text saved without a BOM, told by its zero bytes: every ASCII character
    (a digit, a comma, a line break) has a zero high byte, so in little-endian text the
    zeros stand at odd offsets, in big-endian at even ones. Text without any ASCII
    character has no zero byte and cannot be told from GB18030 this way."""
    head = data[:8192]
    even_zeros, odd_zeros = head[0::2].count(0), head[1::2].count(0)
    # Mostly on one side, not all: a character like 一 (U+4E00) has a zero low byte.
    if odd_zeros > 4 * even_zeros:
        encoding = "utf-16-le"
    elif even_zeros > 4 * odd_zeros:
        encoding = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    plain = sum(1 for _ in _PLAIN_TEXT.finditer(text[:8192]))
    return text if plain >= 0.9 * len(text[:8192]) else None


_TONE_VOWEL = re.compile(f"[{_TONE_VOWELS}]")


def strip_pinyin(text: str) -> str:
    # Every annotation holds a tone vowel; most documents hold none, and finding one is
    # faster than trying the annotation's lookbehind at every character.
    return _PINYIN.sub("", text) if _TONE_VOWEL.search(text) else text


def to_simplified(text: str) -> str:
    return str(_traditional_to_simplified().convert(text))


_HAN_DIGITS = {
    "〇": "0",
    "零": "0",
    "一": "1",
    "二": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
_HAN_YEAR = re.compile("[〇零一二三四五六七八九]{4}(?=年)")


# Where _HAN_YEAR would match, found from its 年: a pattern opening with a literal is
# searched for that character alone, one opening with a class tries the class at every
# character (ten times slower over a 100,000-row ledger, whose 一 and 二 are everywhere).
_HAN_YEAR_END = re.compile("年(?<=[〇零一二三四五六七八九]{4}年)")


def han_numeral_years(text: str) -> str:
    """ "二〇一九年" is written 2019年, so the deadline grammar reads one form."""
    if _HAN_YEAR_END.search(text) is None:  # nearly every text: nothing to replace
        return text
    return _HAN_YEAR.sub(lambda m: "".join(_HAN_DIGITS[c] for c in m.group(0)), text)


def unify_punctuation(text: str) -> str:
    """Full-width ASCII letters and digits become ASCII; Chinese punctuation becomes full-width."""
    # The same as translating _ONE_WIDTH and then substituting _HALFWIDTH_PUNCTUATION:
    # each replaced character is judged by its neighbours as written, and no replacement
    # makes or unmakes a digit.
    text = _ONE_FOR_ONE_CHARACTER.sub(lambda match: _ONE_FOR_ONE[match.group(0)], text)
    if "," in text:
        text = _full_width_commas(text)
    return _COLON.sub("：", text) if ":" in text else text


# A comma between two digits, found from the comma (a literal first: see _HAN_YEAR_END).
_DIGIT_COMMA = re.compile(r",(?<=\d,)(?=\d)")
_KEPT_COMMA = "\ue000"  # a private-use character standing in for a comma that stays


def _full_width_commas(text: str) -> str:
    """_COMMA.sub("，", text), without a regex step per comma (a CSV ledger holds 400,000):
    the commas between digits are set aside, every other one replaced at once, and the
    set-aside ones put back."""
    if _KEPT_COMMA in text:
        return _COMMA.sub("，", text)
    if _DIGIT_COMMA.search(text) is None:
        return text.replace(",", "，")
    kept = _DIGIT_COMMA.sub(_KEPT_COMMA, text)
    return kept.replace(",", "，").replace(_KEPT_COMMA, ",")


def normalize_line(line: str) -> str:
    """One line in the canonical form the parsers match against."""
    return _normalized(line).strip()


def normalize_lines(lines: Sequence[str]) -> list[str]:
    """``[normalize_line(line) for line in lines]``, in one pass over the joined text.

    A document's lines (a 100,000-row ledger's cells) are normalised together: each step
    costs a call per line otherwise. The result is the same line for line because no step
    reads or writes across a line break: no pattern, OpenCC phrase or translation matches
    "\n", and lookbehinds see "\n" where a line's start would show nothing, neither of
    which is a Han character or a digit. A line holding "\n" itself (a wrapped cell) is
    normalised alone.
    """
    if not lines:
        return []
    if any("\n" in line for line in lines):
        return [normalize_line(line) for line in lines]
    return [line.strip() for line in _normalized("\n".join(lines)).split("\n")]


def _normalized(text: str) -> str:
    text = han_numeral_years(unify_punctuation(to_simplified(strip_pinyin(text))))
    if " " in text or "\t" in text or "\u00a0" in text:  # finding none is ten times faster
        text = _SPACE_BETWEEN_HAN.sub("", text)
    return text
