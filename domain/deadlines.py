"""The deadline grammar: "2018年6月30日前" and its relatives, turned into dates.

Every date is a calendar day in Asia/Shanghai and is inclusive: "6月30日前" means by the end
of 30 June. The phrases understood, and what each yields:

==========================  ==========================================================
``X年M月D日前``              that day
``X年M月底前`` ``X年M月底``   the last day of M  (also 月末)
``X年底前`` ``X年年底前``     31 December X  (also 年末, ``X年内``)
``X年上半年`` / ``下半年``    30 June / 31 December X
``X年第N季度``              the last day of quarter N
``X年M月上旬/中旬/下旬``     the 10th / 20th / last day of M  (also without a year)
``X年M月``                  the last day of M, in a 时限 cell only
``M月D日前`` ``M月底前``      as above, in the plan's year  (flag ``year_from_plan``)
``X年M月前``                strictly "before M": the last day of M-1  (flag ``ambiguous``)
``到X年`` ``X年前``          31 December X
``年内`` ``年底前``           the plan year's 31 December (not "三年内", "半年内": spans)
``一季度`` ``第二季度``        a staged target's quarter end, in the plan's year (not 每季度)
``上半年`` ``下半年``          30 June / 31 December of the plan's year (not 每年上半年)
``力争…``                   the same date, flagged ``target``
``每年M月底前``              yearly recurrence (also ``每年M月D日前``, ``每年年底前``,
                            ``每年第一季度`` its quarter's end, ``每年上半年`` 30 June)
``每半年``                  half-yearly recurrence: 30 June and 31 December
``每季度`` ``每季度末``       quarterly recurrence, due at each quarter's end (also 按季度,
                            一季一通报; ``每季度首月D日前``: day D of its first month)
``每月D日前``               monthly recurrence on day D (the last day of a shorter month)
``一月一通报`` ``每月``       monthly recurrence, due at each month's end (also 每月底前)
``明年6月底前`` ``次年底前``  as above, in the year after the plan's
``二〇一九年底前``            Han-numeral years are read as digits (normalisation)
``持续…`` ``长期…``           ongoing (used when no date is given; in a 时限 cell, always)
``X年起``                   when the work starts (1 January); not a deadline
``X年起N年内``              31 December of the N-th year from X (2012年起5年内: 2016), and
                            the start
``X年M月D日起``             when the work starts (also ``X年M月起``: the 1st, ``M月D日起``
                            in the plan's year; 起实施, 起施行, 开始); not a deadline
``印发之日起30日内``         the issue date plus 30 days (flag ``relative``; also 发布 / 施行
                            之日起, 本通知印发后, and 个工作日 / 周 / 个月 / 年), to be confirmed
``3个月内`` ``5年内``         the same, counted from the issue date (三年内, 半年内 alike); a
                            span after another event ("验收后3个月内") is no deadline
==========================  ==========================================================

Periods follow the Civil Code (民法典 art. 201-203): the issue day itself is not counted,
and a span of months or years ends on the same day of the last month, or on that month's
last day when it has no such day. Without an issue date a relative deadline cannot be
placed: it is listed in ``Deadlines.relative`` and the task keeps the plan's default.

A text with several dated clauses gives several milestones, each carrying its clause.
:func:`parse_deadline` reads exactly one phrase and raises :class:`DeadlineError` for
anything else; :func:`find_deadlines` scans free text and never raises.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from domain.calendar import WorkingCalendar
from domain.plan import DeadlineFlag, Milestone, Recurrence

EARLIEST_YEAR = 1949
LATEST_YEAR = 2100


class DeadlineError(ValueError):
    """The phrase is not a deadline this grammar knows, or names a day that does not exist."""


@dataclass(frozen=True)
class DeadlineContext:
    """What a phrase without a year needs: the plan's year and the end of its period."""

    plan_year: int
    period_end: int | None = None
    issue_date: date | None = None  # what "印发之日起30日内" and "3年内" count from

    @property
    def last_year(self) -> int:
        return self.period_end if self.period_end is not None else self.plan_year


@dataclass
class Deadlines:
    """Everything the grammar found in one task's text."""

    milestones: list[Milestone] = field(default_factory=list)
    recurrence: Recurrence | None = None
    ongoing: bool = False
    starts: date | None = None
    problems: list[str] = field(default_factory=list)
    # relative deadlines ("印发之日起30日内") that could not be placed: no issue date known
    relative: list[str] = field(default_factory=list)


_BEFORE = r"(?:之前|以前|前)?"
_Y = r"(?P<year>\d{4})年"
# "三年内", "半年内", "今后五年内" are spans, not "within this year".
_NOT_A_SPAN = r"(?<![\d一二三四五六七八九十两半几数多])"
_NEXT_YEAR = r"(?:明年|次年|下一年|下年)"
_STARTS = r"(?:起|开始)"
# A count as written: digits, or Han numerals up to 九十九 (两, 半 included).
_COUNT = r"(?P<count>\d{1,3}|[一二两三四五六七八九十]{1,3}|半)"
_SPAN_UNIT = r"(?P<unit>个工作日|工作日|天|日|周|个星期|个月|年)"
_WITHIN = r"(?:内|以内|之内)"
# The documents' own issue: "自本意见印发之日起", "本通知下发后".
_THIS_DOCUMENT = r"(?:本(?:方案|意见|通知|办法|计划|规划|文件)|文件|方案|通知)"
_ISSUED = r"(?:印发|发布|公布|施行|实施|下发|出台)"
# "自本意见印发之日起", "本通知下发后"; "资金下发后" is some other event, not the issue.
_FROM_ISSUE = rf"(?:(?:自|从)?{_THIS_DOCUMENT}?{_ISSUED}之日(?:起|后)|{_THIS_DOCUMENT}{_ISSUED}后)"
_PATTERNS: list[tuple[str, str]] = [
    # Order matters: longer, more specific phrases first, so "2018年6月底前" is never read
    # as "2018年6月前" and "2018年6月30日前" never leaves "6月30日前" behind.
    ("yearly_day", r"每年(?P<month>\d{1,2})月(?P<day>\d{1,2})日" + _BEFORE),
    ("yearly_month_end", r"每年(?P<month>\d{1,2})月(?:底|末|份)" + _BEFORE),
    ("yearly_year_end", r"每年(?:年底|年末|底|末)" + _BEFORE),
    ("yearly_quarter", r"每年(?:第)?(?P<quarter>[一二三四1-4])季度(?:末|底)?" + _BEFORE),
    ("yearly_half", r"每年(?P<half>上半年|下半年)(?:末|底)?" + _BEFORE),
    ("half_yearly", r"每半年(?:度)?(?:末|底)?" + _BEFORE + r"|半年一(?:通报|报告|调度|总结)"),
    (
        "quarterly_day",
        r"每(?:个)?季度(?:首月|第一个月)(?P<day>\d{1,2})日" + _BEFORE,
    ),
    (
        "quarterly",
        r"(?:每(?:个)?季度|按季度?)(?:末|底)?" + _BEFORE + r"|一季一(?:通报|报告|调度|报)",
    ),
    ("monthly_day", r"每(?:个)?月(?P<day>\d{1,2})日" + _BEFORE),
    ("monthly_end", r"每(?:个)?月(?:底|末)" + _BEFORE),
    ("monthly", r"一月一(?:通报|报告|调度)|每月"),
    ("relative", _FROM_ISSUE + r"(?:的)?" + _COUNT + _SPAN_UNIT + _WITHIN),
    # "3个月内", "今后五年内": a span counted from the issue; one after another event
    # ("验收后3个月内", "之日起"), an ordinal (第三年内) or inside a larger number is not.
    ("span", r"(?<![\d起第每])(?<!(?<!今)后)" + _COUNT + _SPAN_UNIT + _WITHIN),
    # "2012年起5年内": the five years 2012-2016, counted from the start the text gives.
    ("starts_span", _Y + _STARTS + r"(?:的)?" + _COUNT + r"年" + _WITHIN),
    ("starts_day", _Y + r"(?P<month>\d{1,2})月(?P<day>\d{1,2})日" + _STARTS),
    ("starts_month", _Y + r"(?P<month>\d{1,2})月" + _STARTS),
    ("starts", _Y + _STARTS),
    ("bare_starts_day", r"(?<![\d年])(?P<month>\d{1,2})月(?P<day>\d{1,2})日" + _STARTS),
    ("bare_starts_month", r"(?<![\d年])(?P<month>\d{1,2})月" + _STARTS),
    ("day", _Y + r"(?P<month>\d{1,2})月(?P<day>\d{1,2})日(?:之前|以前|前)"),
    # A full date without 前 is a deadline only in a dedicated deadline cell; in running
    # text it is usually an event ("2014年6月20日二期项目顺利上线") or a signature date.
    ("date", _Y + r"(?P<month>\d{1,2})月(?P<day>\d{1,2})日"),
    ("next_year_day", _NEXT_YEAR + r"(?P<month>\d{1,2})月(?P<day>\d{1,2})日" + _BEFORE),
    ("next_year_month_end", _NEXT_YEAR + r"(?P<month>\d{1,2})月(?:底|末)" + _BEFORE),
    ("next_year_end", _NEXT_YEAR + r"(?:年底|年末|底|末)" + _BEFORE),
    ("month_end", _Y + r"(?P<month>\d{1,2})月(?:底|末|份)" + _BEFORE),
    ("dekad", _Y + r"(?P<month>\d{1,2})月(?P<dekad>上旬|中旬|下旬)" + _BEFORE),
    ("month_before", _Y + r"(?P<month>\d{1,2})月(?:之前|以前|前)"),
    ("half", _Y + r"(?P<half>上半年|下半年)" + _BEFORE),
    ("quarter", _Y + r"(?:第)?(?P<quarter>[一二三四1-4])季度" + _BEFORE),
    ("year_end", _Y + r"(?:年底|年末|年内|底|末|内)" + _BEFORE),
    # "到2020年" alone; "到2018年底" and "于2018年底前" are read by year_end further on.
    ("by_year", r"(?:到|至|于)" + _Y + r"(?![\d底末内前上下第])"),
    ("year_before", _Y + r"(?:之前|以前|前)"),
    ("bare_day", r"(?<![\d年])(?P<month>\d{1,2})月(?P<day>\d{1,2})日" + _BEFORE),
    ("bare_month_end", r"(?<![\d年])(?P<month>\d{1,2})月(?:底|末)" + _BEFORE),
    ("bare_dekad", r"(?<![\d年])(?P<month>\d{1,2})月(?P<dekad>上旬|中旬|下旬)" + _BEFORE),
    # "2018年6月" alone: a month in a 时限 cell (by its end), an event month in prose.
    ("month", _Y + r"(?P<month>\d{1,2})月(?![\d日底末前上中下份])"),
    ("plan_year_end", r"(?<!\d年)" + _NOT_A_SPAN + r"(?:年内|年底前|年底|年末)"),
    # "一季度完成梳理；二季度完成修订": staged targets, quarters of the plan year.
    ("bare_quarter", r"(?<![\d年每个前])(?:第)?(?P<quarter>[一二三四])季度(?:末|底)?" + _BEFORE),
    ("bare_half", r"(?<![\d年每])(?P<half>上半年|下半年)(?:末|底)?" + _BEFORE),
]


def _namespaced(kind: str, pattern: str) -> str:
    """Prefix each group with its alternative's kind: re forbids one name in two branches."""
    return re.sub(r"\(\?P<(\w+)>", lambda m: f"(?P<{kind}__{m.group(1)}>", pattern)


# What a phrase of the grammar can start with: digits and these. Tried first at each
# character, this one class turns most characters of a text away, instead of the forty
# alternatives each; tests/domain/test_ledger_speed_equivalence.py proves it of them all.
DEADLINE_FIRST_CHARACTERS = "一二三四五六七八九十两半上下于从公出到印发实年按文方施明本次每第自至通"
_DEADLINE = re.compile(
    rf"(?=[\d{DEADLINE_FIRST_CHARACTERS}])(?:"
    + "|".join(f"(?P<{kind}>{_namespaced(kind, pattern)})" for kind, pattern in _PATTERNS)
    + ")"
)
# Every match of _DEADLINE holds one of these characters (年 of a year, 月, 季度, 内 of a
# span) and is at most LONGEST_DEADLINE_PHRASE characters long, so no match starts more
# than that before the first of them: a text without any (half the task texts of a ledger
# whose 时限 cell is empty) is passed over, and the grammar is tried from there on only,
# not at each character. tests/domain/test_ledger_speed_equivalence.py proves both.
DEADLINE_CHARACTERS = "年月季内"
LONGEST_DEADLINE_PHRASE = 19
_DEADLINE_CHARACTER = re.compile(f"[{DEADLINE_CHARACTERS}]")
_RECURRENCES = {
    "yearly_quarter",
    "yearly_half",
    "yearly_day",
    "yearly_month_end",
    "yearly_year_end",
    "half_yearly",
    "quarterly_day",
    "quarterly",
    "monthly_day",
    "monthly_end",
    "monthly",
}
_STARTS_KINDS = {"starts", "starts_day", "starts_month", "bare_starts_day", "bare_starts_month"}
_RELATIVE_KINDS = {"relative", "span"}
_TARGET = re.compile(r"力争|争取")
_ONGOING = re.compile(r"持续|长期|常态化")
_CLAUSE_END = "；。;\n"
_QUARTERS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_DEKAD_DAY = {"上旬": 10, "中旬": 20}


def _group(match: re.Match[str], name: str) -> str:
    """The value of ``name`` inside whichever alternative matched."""
    value = match.group(f"{match.lastgroup}__{name}")
    if value is None:
        raise DeadlineError(f"{match.group(0)}: no {name}")
    return value


def _year(value: str) -> int:
    year = int(value)
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise DeadlineError(f"year {year} is outside {EARLIEST_YEAR}–{LATEST_YEAR}")
    return year


def _day(year: int, month: int, day: int | None) -> date:
    if not 1 <= month <= 12:
        raise DeadlineError(f"month {month} does not exist")
    last = calendar.monthrange(year, month)[1]
    if day is None:
        return date(year, month, last)
    if not 1 <= day <= last:
        raise DeadlineError(f"{year}年{month}月{day}日 does not exist")
    return date(year, month, day)


def _target_flag(match: re.Match[str], clause: str) -> list[DeadlineFlag]:
    """[TARGET] when 力争 / 争取 stands before the phrase in its clause."""
    raw = match.group(0)
    before = clause[: clause.find(raw) if raw in clause else len(clause)]
    return [DeadlineFlag.TARGET] if _TARGET.search(before) else []


def _milestone(match: re.Match[str], context: DeadlineContext, clause: str) -> Milestone:
    """The milestone one matched phrase stands for; DeadlineError if its day cannot exist."""
    kind = match.lastgroup
    raw = match.group(0)
    flags = _target_flag(match, clause)
    if kind in {"day", "date"}:
        due = _day(
            _year(_group(match, "year")), int(_group(match, "month")), int(_group(match, "day"))
        )
    elif kind == "month_end":
        due = _day(_year(_group(match, "year")), int(_group(match, "month")), None)
    elif kind == "dekad":
        dekad = _group(match, "dekad")
        due = _day(_year(_group(match, "year")), int(_group(match, "month")), _DEKAD_DAY.get(dekad))
    elif kind == "bare_dekad":
        dekad = _group(match, "dekad")
        due = _day(context.plan_year, int(_group(match, "month")), _DEKAD_DAY.get(dekad))
        flags.append(DeadlineFlag.YEAR_FROM_PLAN)
    elif kind == "month":
        due = _day(_year(_group(match, "year")), int(_group(match, "month")), None)
    elif kind == "next_year_day":
        due = _day(context.plan_year + 1, int(_group(match, "month")), int(_group(match, "day")))
        flags.append(DeadlineFlag.YEAR_FROM_PLAN)
    elif kind == "next_year_month_end":
        due = _day(context.plan_year + 1, int(_group(match, "month")), None)
        flags.append(DeadlineFlag.YEAR_FROM_PLAN)
    elif kind == "next_year_end":
        due = _day(context.plan_year + 1, 12, None)
        flags.append(DeadlineFlag.YEAR_FROM_PLAN)
    elif kind == "month_before":
        year, month = _year(_group(match, "year")), int(_group(match, "month"))
        _day(year, month, None)  # "2018年13月前" is no date at all
        due = _day(year - 1, 12, None) if month == 1 else _day(year, month - 1, None)
        flags.append(DeadlineFlag.AMBIGUOUS)
    elif kind == "half":
        year = _year(_group(match, "year"))
        due = _day(year, 6 if _group(match, "half") == "上半年" else 12, None)
    elif kind == "quarter":
        due = _day(_year(_group(match, "year")), _QUARTERS[_group(match, "quarter")] * 3, None)
    elif kind == "year_end" or kind in {"by_year", "year_before"}:
        due = _day(_year(_group(match, "year")), 12, None)
    elif kind == "bare_day":
        due = _day(context.plan_year, int(_group(match, "month")), int(_group(match, "day")))
        flags.append(DeadlineFlag.YEAR_FROM_PLAN)
    elif kind == "bare_month_end":
        due = _day(context.plan_year, int(_group(match, "month")), None)
        flags.append(DeadlineFlag.YEAR_FROM_PLAN)
    elif kind == "plan_year_end":
        due = _day(context.plan_year, 12, None)
        flags.append(DeadlineFlag.YEAR_FROM_PLAN)
    elif kind == "bare_half":
        due = _day(context.plan_year, 6 if _group(match, "half") == "上半年" else 12, None)
        flags.append(DeadlineFlag.YEAR_FROM_PLAN)
    elif kind == "bare_quarter":
        due = _day(context.plan_year, _QUARTERS[_group(match, "quarter")] * 3, None)
        flags.append(DeadlineFlag.YEAR_FROM_PLAN)
    else:
        raise DeadlineError(f"{raw}: not a deadline")
    return Milestone(due=due, raw=raw, flags=flags, text=clause)


def _recurrence(match: re.Match[str]) -> Recurrence:
    kind = match.lastgroup
    raw = match.group(0)
    if kind in {"monthly", "monthly_end"}:
        return Recurrence(frequency="monthly", raw=raw)
    if kind == "monthly_day":
        return Recurrence(frequency="monthly", day=_day_of_any_month(match), raw=raw)
    if kind == "quarterly":
        return Recurrence(frequency="quarterly", raw=raw)
    if kind == "quarterly_day":
        return Recurrence(frequency="quarterly", month=1, day=_day_of_any_month(match), raw=raw)
    if kind == "half_yearly":
        return Recurrence(frequency="half-yearly", raw=raw)
    if kind == "yearly_year_end":
        return Recurrence(frequency="yearly", month=12, day=None, raw=raw)
    if kind == "yearly_quarter":
        return Recurrence(
            frequency="yearly", month=_QUARTERS[_group(match, "quarter")] * 3, raw=raw
        )
    if kind == "yearly_half":
        month = 6 if _group(match, "half") == "上半年" else 12
        return Recurrence(frequency="yearly", month=month, raw=raw)
    month = int(_group(match, "month"))
    day = int(_group(match, "day")) if kind == "yearly_day" else None
    _day(2000, month, day)  # a leap year, so 每年2月29日 passes but 每年2月30日 does not
    return Recurrence(frequency="yearly", month=month, day=day, raw=raw)


def _day_of_any_month(match: re.Match[str]) -> int:
    """The day of "每月25日前": a day past a short month's end means that month's last."""
    day = int(_group(match, "day"))
    if not 1 <= day <= 31:
        raise DeadlineError(f"{match.group(0)}: no month has a day {day}")
    return day


def _start(match: re.Match[str], context: DeadlineContext) -> date:
    """The day an "X年M月D日起" phrase says the work starts."""
    kind = match.lastgroup
    if kind == "starts":
        return date(_year(_group(match, "year")), 1, 1)
    year = context.plan_year if kind in {"bare_starts_day", "bare_starts_month"} else None
    year = year if year is not None else _year(_group(match, "year"))
    month = int(_group(match, "month"))
    day = int(_group(match, "day")) if kind in {"starts_day", "bare_starts_day"} else 1
    return _day(year, month, day)


_HAN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8}
_HAN_DIGITS |= {"九": 9}


def _count(text: str) -> int:
    """A count as written: "30", "三", "十五", "二十", "三十六"."""
    if text.isdecimal():
        return int(text)
    tens, _, units = text.rpartition("十")
    if "十" not in text:
        return _HAN_DIGITS[text] if len(text) == 1 else 0
    if len(tens) > 1 or len(units) > 1:
        return 0
    return (_HAN_DIGITS.get(tens, 0) if tens else 1) * 10 + _HAN_DIGITS.get(units, 0)


def _add_months(start: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day (民法典 art. 202)."""
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    if year > LATEST_YEAR:
        return date.max  # out of range: refused by the caller
    return date(year, month + 1, min(start.day, calendar.monthrange(year, month + 1)[1]))


def _relative_due(match: re.Match[str], issued: date) -> date:
    """The last day of a span counted from the issue date, the issue day not counted."""
    try:
        due = _span_end(match, issued)
    except OverflowError:
        due = date.max
    if not EARLIEST_YEAR <= due.year <= LATEST_YEAR:
        raise DeadlineError(
            f"{match.group(0)} from {issued.isoformat()} ends outside {EARLIEST_YEAR}–{LATEST_YEAR}"
        )
    return due


def _span_end(match: re.Match[str], issued: date) -> date:
    raw_count, unit = _group(match, "count"), _group(match, "unit")
    if raw_count == "半":
        if unit == "年":
            return _add_months(issued, 6)
        if unit == "个月":
            return issued + timedelta(days=15)
        raise DeadlineError(f"{match.group(0)}: half a {unit} is no span")
    count = _count(raw_count)
    if count < 1:
        raise DeadlineError(f"{match.group(0)}: no span")
    if unit == "年":
        return _add_months(issued, 12 * count)
    if unit == "个月":
        return _add_months(issued, count)
    if unit in {"周", "个星期"}:
        return issued + timedelta(weeks=count)
    if unit in {"个工作日", "工作日"}:
        return WorkingCalendar().step(issued, count, 1)
    return issued + timedelta(days=count)


def _clause_around(text: str, start: int, end: int) -> str:
    left = max(text.rfind(mark, 0, start) for mark in _CLAUSE_END) + 1
    rights = [position for mark in _CLAUSE_END if (position := text.find(mark, end)) != -1]
    right = min(rights) + 1 if rights else len(text)
    return text[left:right].strip()


def parse_deadline(phrase: str, context: DeadlineContext) -> Milestone:
    """Exactly one deadline phrase (optionally after 力争 and 到/于/在) as a milestone.

    Raises DeadlineError for anything that is not one whole phrase of the grammar, for a
    recurrence or start (which are not deadlines), and for days that do not exist.
    """
    stripped = phrase.strip()
    target = _TARGET.match(stripped)
    body = stripped[target.end() :] if target else stripped
    match = _DEADLINE.fullmatch(body)
    if match is None and body[:1] in {"到", "于", "在", "至"}:
        match = _DEADLINE.fullmatch(body[1:])  # "到2020年前", "于2018年底前"
    rejected = {*_RECURRENCES, *_STARTS_KINDS, *_RELATIVE_KINDS, "starts_span"}
    if match is None or match.lastgroup in rejected:
        raise DeadlineError(f"{phrase!r} is not a deadline phrase")
    milestone = _milestone(match, context, stripped)
    return milestone.model_copy(update={"text": ""})


def find_deadlines(text: str, context: DeadlineContext, *, bare_dates: bool = False) -> Deadlines:
    """Every deadline, recurrence and start in ``text``, in order; never raises.

    ``bare_dates``: the text is a dedicated deadline cell (a 时限 column), so a plain date
    without 前 is a deadline too. Phrases naming impossible days are skipped and described
    in ``problems`` so the parser can turn them into located warnings. A relative deadline
    is placed from ``context.issue_date`` and flagged ``relative``; without an issue date
    it is listed in ``relative`` instead.
    """
    found = Deadlines(ongoing=bool(_ONGOING.search(text)))
    first = _DEADLINE_CHARACTER.search(text)
    if first is None:
        return found
    # Lookbehinds still see the text before ``pos`` (it is not a slice).
    for match in _DEADLINE.finditer(text, max(0, first.start() - LONGEST_DEADLINE_PHRASE + 1)):
        kind = match.lastgroup
        if kind in {"date", "month"} and not bare_dates:
            continue
        try:
            if kind in _RECURRENCES:
                found.recurrence = found.recurrence or _recurrence(match)
            elif kind == "starts_span":
                first_year = _year(_group(match, "year"))
                count = _count(_group(match, "count"))
                if count < 1:
                    raise DeadlineError(f"{match.group(0)}: no span")
                clause = _clause_around(text, *match.span())
                found.milestones.append(
                    Milestone(
                        due=_day(_year(str(first_year + count - 1)), 12, None),
                        raw=match.group(0),
                        flags=_target_flag(match, clause),
                        text=clause,
                    )
                )
                found.starts = found.starts or date(first_year, 1, 1)
            elif kind in _STARTS_KINDS:
                found.starts = found.starts or _start(match, context)
            elif kind in _RELATIVE_KINDS:
                if context.issue_date is None:
                    _relative_due(match, date(2000, 1, 1))  # "零年内" is a problem either way
                    found.relative.append(match.group(0))
                    continue
                clause = _clause_around(text, *match.span())
                milestone = Milestone(
                    due=_relative_due(match, context.issue_date),
                    raw=match.group(0),
                    flags=[DeadlineFlag.RELATIVE, *_target_flag(match, clause)],
                    text=clause,
                )
                found.milestones.append(milestone)
            else:
                clause = _clause_around(text, *match.span())
                found.milestones.append(_milestone(match, context, clause))
        except DeadlineError as error:
            found.problems.append(str(error))
    return found


def implicit_deadline(context: DeadlineContext) -> Milestone:
    """The due date of a task whose text names none: the end of the plan's last year."""
    return Milestone(due=date(context.last_year, 12, 31), raw="", flags=[DeadlineFlag.IMPLICIT])
