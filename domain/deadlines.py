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
``力争…``                   the same date, flagged ``target``
``每年M月底前``              yearly recurrence (also ``每年M月D日前``, ``每年年底前``)
``明年6月底前`` ``次年底前``  as above, in the year after the plan's
``二〇一九年底前``            Han-numeral years are read as digits (normalisation)
``一月一通报`` ``每月``       monthly recurrence
``持续…`` ``长期…``           ongoing (used when no date is given)
``X年起``                   when the work starts; not a deadline
==========================  ==========================================================

A text with several dated clauses gives several milestones, each carrying its clause.
:func:`parse_deadline` reads exactly one phrase and raises :class:`DeadlineError` for
anything else; :func:`find_deadlines` scans free text and never raises.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date

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


_BEFORE = r"(?:之前|以前|前)?"
_Y = r"(?P<year>\d{4})年"
# "三年内", "半年内", "今后五年内" are spans, not "within this year".
_NOT_A_SPAN = r"(?<![\d一二三四五六七八九十两半几数多])"
_NEXT_YEAR = r"(?:明年|次年|下一年|下年)"
_PATTERNS: list[tuple[str, str]] = [
    # Order matters: longer, more specific phrases first, so "2018年6月底前" is never read
    # as "2018年6月前" and "2018年6月30日前" never leaves "6月30日前" behind.
    ("yearly_day", r"每年(?P<month>\d{1,2})月(?P<day>\d{1,2})日" + _BEFORE),
    ("yearly_month_end", r"每年(?P<month>\d{1,2})月(?:底|末|份)" + _BEFORE),
    ("yearly_year_end", r"每年(?:年底|年末|底|末)" + _BEFORE),
    ("monthly", r"一月一(?:通报|报告|调度)|每月"),
    ("starts", _Y + r"(?:起|开始)"),
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
]


def _namespaced(kind: str, pattern: str) -> str:
    """Prefix each group with its alternative's kind: re forbids one name in two branches."""
    return re.sub(r"\(\?P<(\w+)>", lambda m: f"(?P<{kind}__{m.group(1)}>", pattern)


_DEADLINE = re.compile(
    "|".join(f"(?P<{kind}>{_namespaced(kind, pattern)})" for kind, pattern in _PATTERNS)
)
_RECURRENCES = {"yearly_day", "yearly_month_end", "yearly_year_end", "monthly"}
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


def _milestone(match: re.Match[str], context: DeadlineContext, clause: str) -> Milestone:
    """The milestone one matched phrase stands for; DeadlineError if its day cannot exist."""
    kind = match.lastgroup
    raw = match.group(0)
    flags: list[DeadlineFlag] = []
    if _TARGET.search(clause[: clause.find(raw) if raw in clause else len(clause)]):
        flags.append(DeadlineFlag.TARGET)
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
    else:
        raise DeadlineError(f"{raw}: not a deadline")
    return Milestone(due=due, raw=raw, flags=flags, text=clause)


def _recurrence(match: re.Match[str]) -> Recurrence:
    kind = match.lastgroup
    raw = match.group(0)
    if kind == "monthly":
        return Recurrence(frequency="monthly", raw=raw)
    if kind == "yearly_year_end":
        return Recurrence(frequency="yearly", month=12, day=None, raw=raw)
    month = int(_group(match, "month"))
    day = int(_group(match, "day")) if kind == "yearly_day" else None
    _day(2000, month, day)  # a leap year, so 每年2月29日 passes but 每年2月30日 does not
    return Recurrence(frequency="yearly", month=month, day=day, raw=raw)


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
    if match is None or match.lastgroup in {*_RECURRENCES, "starts"}:
        raise DeadlineError(f"{phrase!r} is not a deadline phrase")
    milestone = _milestone(match, context, stripped)
    return milestone.model_copy(update={"text": ""})


def find_deadlines(text: str, context: DeadlineContext, *, bare_dates: bool = False) -> Deadlines:
    """Every deadline, recurrence and start in ``text``, in order; never raises.

    ``bare_dates``: the text is a dedicated deadline cell (a 时限 column), so a plain date
    without 前 is a deadline too. Phrases naming impossible days are skipped and described
    in ``problems`` so the parser can turn them into located warnings.
    """
    found = Deadlines(ongoing=bool(_ONGOING.search(text)))
    for match in _DEADLINE.finditer(text):
        kind = match.lastgroup
        if kind in {"date", "month"} and not bare_dates:
            continue
        try:
            if kind in _RECURRENCES:
                found.recurrence = found.recurrence or _recurrence(match)
            elif kind == "starts":
                found.starts = found.starts or date(_year(_group(match, "year")), 1, 1)
            else:
                clause = _clause_around(text, *match.span())
                found.milestones.append(_milestone(match, context, clause))
        except DeadlineError as error:
            found.problems.append(str(error))
    return found


def implicit_deadline(context: DeadlineContext) -> Milestone:
    """The due date of a task whose text names none: the end of the plan's last year."""
    return Milestone(due=date(context.last_year, 12, 31), raw="", flags=[DeadlineFlag.IMPLICIT])
