"""Unit fields: who leads and who cooperates, as plan documents write it.

A unit field is a phrase made only of unit names and role words, wherever it stands: a
field list （牵头单位：X；配合单位：Y；完成时限：Z） / [牵头单位：X；责任单位：Y], separate
牵头单位： / 责任单位： lines, or a verb phrase （A、B负责） / （X牵头，Y配合） /
（X牵头，Y按职责分工负责） / （X会同有关部门负责） / a 责任单位 cell saying the same. Roles:
牵头 / 主办 lead, 配合 / 参与 / 协办 / 协助 cooperate; 负责 / 指导 units lead unless someone
牵头 (then they cooperate), and 落实 units cooperate with those who lead or guide. 牵头单位
beside 责任单位 makes the 责任单位 cooperating; 责任单位 alone leads.

A document may state that the first unit of each list leads (列第一位者为牵头单位，下同):
:data:`FIRST_LEADS` finds that rule; the phrase then says whether it was a list the rule
applies to (``responsible_only``): a bare 负责 list, or 责任单位 with no 牵头 / 配合 beside it.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from domain.units import split_units

# Unit fields: the labels of a field list and the role each gives its units.
# 科室 / 处室: a bureau's own offices, in a bureau's plan ("牵头科室：…；配合科室：…").
_LEAD_LABELS = (
    "牵头单位|牵头部门|牵头责任单位|牵头科室|牵头处室|主办单位|主办部门|主办科室|主办|牵头"
)
_COOPERATING_LABELS = (
    "配合单位|配合部门|配合科室|配合处室|协办单位|协办部门|协办科室|协办|协同单位|协同部门|"
    "参与单位|参与部门|协助单位"
)
_RESPONSIBLE_LABELS = "责任单位|责任部门|责任科室|责任处室|承办单位|承办部门|实施单位|落实单位"
_DEADLINE_LABELS = "完成时限|完成时间|时限要求|时间要求|时间节点|办结时限|时限"
_FIELD_LABEL = re.compile(
    rf"(?P<label>{_LEAD_LABELS}|{_COOPERATING_LABELS}|{_RESPONSIBLE_LABELS}|{_DEADLINE_LABELS})"
    r"\s*[：:]"
)
FIELD_LINE = re.compile(
    rf"^(?:{_LEAD_LABELS}|{_COOPERATING_LABELS}|{_RESPONSIBLE_LABELS}|"
    rf"{_DEADLINE_LABELS})\s*[：:]"
)

# A document's own rule that the first unit of a list leads ("列第一位者为牵头单位，下同").
FIRST_LEADS = re.compile(
    r"(?:第一位|第一个|首位|排名第一)(?:者|的)?(?:部门|单位)?(?:为|是)(?:牵头|主办)(?:单位|部门)"
)
_CONVENTION_SENTENCE = re.compile(
    r"[，。；]?(?:[^，。；]*(?:第一(?:位|个)|首位)[^，。；]*(?:牵头|主办)[^，。；]*)(?:[，。；]?下同)?"
)
# "A、B负责，A为牵头单位": the phrase names its lead itself.
_NAMED_LEAD = re.compile(r"^(?P<names>.+?)(?:为|是)(?:牵头|主办)(?:单位|部门)$")

# Role verbs closing a clause of a unit phrase, with their rank: the highest rank present
# leads, the rest cooperate.
# Ranks: implementing (落实) units lead only when nobody leads, guides or is responsible;
# cooperating (配合, 参与) units never lead.
_LEAD_RANK, _RESPONSIBLE_RANK, _IMPLEMENTING_RANK, _COOPERATING_RANK = 3, 2, 1, 0
_VERBS: list[tuple[str, int]] = [
    ("牵头负责", _LEAD_RANK),
    ("牵头落实", _LEAD_RANK),
    ("牵头", _LEAD_RANK),
    ("主办", _LEAD_RANK),
    ("按职责分工负责", _RESPONSIBLE_RANK),
    ("按职责分工落实", _IMPLEMENTING_RANK),
    ("按职责负责", _RESPONSIBLE_RANK),
    ("分别负责", _RESPONSIBLE_RANK),
    ("共同负责", _RESPONSIBLE_RANK),
    ("负责落实", _IMPLEMENTING_RANK),
    ("结合实际落实", _IMPLEMENTING_RANK),
    ("抓好落实", _IMPLEMENTING_RANK),
    ("具体落实", _IMPLEMENTING_RANK),
    ("落实", _IMPLEMENTING_RANK),
    ("负责", _RESPONSIBLE_RANK),
    ("指导", _RESPONSIBLE_RANK),
    ("配合", _COOPERATING_RANK),
    ("参与", _COOPERATING_RANK),
    ("协办", _COOPERATING_RANK),
    ("协助", _COOPERATING_RANK),
    ("协同", _COOPERATING_RANK),
]
_VERB = re.compile("(?P<verb>" + "|".join(verb for verb, _ in _VERBS) + r")$")
_RANKS = dict(_VERBS)
_TOGETHER_WITH = re.compile(r"^(?P<leads>.+?)会同(?P<others>.+)$")
# A clause of a role phrase that is its time limit ("X牵头，Y配合，2025年11月底前完成",
# "…，持续推进"): not a name list but the phrase's deadline, read as a 完成时限 field's.
_DEADLINE_CLAUSE = re.compile(
    r"^(?:于|在|力争|争取)?(?:\d{4}年)?(?:\d{1,2}月(?:\d{1,2}日)?|年底|年末|年内|上半年|下半年|"
    r"(?:第)?[一二三四1-4]季度)?(?:底|末)?(?:之前|以前|前)?(?:全面|基本)?(?:完成|实现|办结|完工)?$"
    r"|^(?:持续|长期|常态化)(?:推进|开展|坚持|实施)$"
)
# "责任单位：市教育局（牵头），市财政局": the marked unit of a responsible list leads.
_MARKED_LEAD = re.compile(r"\s*[（(](?:牵头|主办)(?:单位|部门)?[）)]$")
_DATE_WORD = re.compile(r"\d{4}年|\d{1,2}月|年底|年末|年内|半年|季度|持续|长期|常态化")
# What a unit's name never holds: words of a sentence.
_NOT_A_NAME = re.compile(
    r"[把了的]|要[求把做]|应当|应该|需要|必须|进一步|确保|通过|按照|根据|以下|之日|不再"
)
_MAX_NAME = 30
_BY_OR_ETC = re.compile(r"^由|等$")
_LIST_BREAK = re.compile(r"[，；]")
_SENTENCE_BREAK = re.compile(r"[。；]")
# Words without which a text says nothing about roles: a quick way past most parentheses.
_ROLE_WORDS = re.compile(
    r"牵头|负责|配合|参与|指导|落实|协办|协助|协同|主办|会同|单位|部门|科室|处室|时限|时间"
)
# How the name of an office, a body or a group of them ends.
_OFFICE_NAME = re.compile(
    r"(?:局|委|办|厅|部|院|会|政府|中心|单位|部门|科|处|室|队|所|站|社|行|署|组|公司|集团|"
    r"街道|镇|乡|馆|团|联|协|府|支队|分局|监管局|总局|委员会|办公室)$"
)
# A unit parenthesis or bracket (one level of nested parentheses inside: 各街办（新区）).
BRACKETED = re.compile(
    r"（(?P<paren>(?:[^（）]|（[^（）]*）)+)）|\[(?P<square>[^\[\]]+)\]|【(?P<lenticular>[^【】]+)】"
)


@dataclass
class UnitField:
    """One unit field found in the text: who leads, who cooperates, and any 时限 value."""

    start: int
    end: int
    leads: list[str]
    cooperating: list[str]
    deadline: str = ""
    # The units were one 负责 list whose order the document's convention may decide.
    responsible_only: bool = False
    # The units were a bare list without role words: the first leads, by inference.
    bare_list: bool = False


# ---------------------------------------------------------------- unit phrases


def _names(text: str) -> list[str] | None:
    """The unit names of one clause's name list as written, or None if it is not one."""
    text = text.strip("，、；。 ")
    text = _BY_OR_ETC.sub("", text)
    # "A、B等和各省级人民政府": 等 closes the first list, 和 joins a second group.
    text = text.replace("等和", "，")
    if not text:
        return None
    parts = [part for part in _LIST_BREAK.split(text) if part.strip()]
    for part in parts:
        for name in part.split("、"):
            if len(name) > _MAX_NAME or _NOT_A_NAME.search(name):
                return None
    return [part.strip() for part in parts]


def parse_unit_phrase(text: str) -> UnitField | None:
    """A unit phrase ("A、B负责", "X牵头，Y配合", "牵头单位：X；责任单位：Y") as roles, or None.

    Only a phrase made entirely of unit names and role words is one: a parenthesis that
    explains something ("（市、区）", "（试行）") or any sentence is not.
    """
    text = text.strip().strip("。；，").strip()
    if not text or len(text) > 600 or not _ROLE_WORDS.search(text):
        return None
    if _FIELD_LABEL.search(text):
        return _field_list(text)
    return _marked_leads(text) or _verb_phrase(text)


_LEAD_VERB_AFTER_LABEL = re.compile(r"(?:分别|共同)?(?:牵头|负责)$")


def _field_list(text: str) -> UnitField | None:
    # The document's own rule may ride in the first item's field, after its units.
    text = _CONVENTION_SENTENCE.sub("", text) if FIRST_LEADS.search(text) else text
    labels = list(_FIELD_LABEL.finditer(text))
    if not labels or text[: labels[0].start()].strip("，；。 "):
        return None  # no label left once the rule is read: "牵头单位：列第一位者为牵头单位"
    leads: list[str] = []
    cooperating: list[str] = []
    responsible: list[str] = []
    deadline: list[str] = []
    for index, label in enumerate(labels):
        end = labels[index + 1].start() if index + 1 < len(labels) else len(text)
        value = text[label.end() : end].strip("，；。 ")
        name = label["label"]
        if re.fullmatch(_LEAD_LABELS, name):
            # "牵头部门：市直相关部门分别牵头": the label already says they lead.
            value = _LEAD_VERB_AFTER_LABEL.sub("", value)
        if re.fullmatch(_DEADLINE_LABELS, name):
            deadline.append(value)
        elif value and re.fullmatch(_LEAD_LABELS, name):
            leads.append(value)
        elif value and re.fullmatch(_COOPERATING_LABELS, name):
            cooperating.append(value)
        elif value:
            responsible.append(value)
    marked = _marked_leads("，".join(responsible)) if not leads else None
    if marked is not None:
        leads, responsible = marked.leads, marked.cooperating
    responsible_only = not leads and not cooperating and bool(responsible)
    if leads:
        cooperating = [*responsible, *cooperating]
    else:
        leads = responsible
    if not leads and not cooperating and not deadline:
        return None
    # 责任单位 alone is a list a document's first-leads rule orders, as a 负责 list is.
    return UnitField(
        0, 0, leads, cooperating, "；".join(deadline), responsible_only=responsible_only
    )


def _marked_leads(text: str) -> UnitField | None:
    """A list whose lead is marked after its name ("市教育局（牵头），市财政局"): the marked
    units lead, the others cooperate; None when no name is marked."""
    names = split_units(text)
    if not any(_MARKED_LEAD.search(name) for name in names):
        return None
    leads = [_MARKED_LEAD.sub("", name) for name in names if _MARKED_LEAD.search(name)]
    others = [name for name in names if not _MARKED_LEAD.search(name)]
    if any(_names(name) is None for name in [*leads, *others]):
        return None
    return UnitField(0, 0, leads, others)


def _verb_phrase(text: str) -> UnitField | None:
    # The document's own rule rides in the first item's parenthesis: not a clause.
    text = _CONVENTION_SENTENCE.sub("", text) if FIRST_LEADS.search(text) else text
    sentences = [s for s in _SENTENCE_BREAK.split(text) if s.strip()]
    if not sentences:
        return None
    ranked: list[tuple[int, str]] = []  # (rank, names as written)
    pending: list[str] = []
    named_leads: list[str] = []
    deadlines: list[str] = []  # the phrase's own time limit, as a 时限 field would hold it
    for sentence_index, sentence in enumerate(sentences):
        clauses = [c for c in sentence.split("，") if c.strip()]
        sentence_ranked: list[tuple[int, str]] = []
        ok = True
        for clause in clauses:
            clause = clause.strip()
            if _DATE_WORD.search(clause) and _DEADLINE_CLAUSE.match(clause):
                deadlines.append(clause)
                continue
            named = _NAMED_LEAD.match(clause)
            if named is not None and _names(named["names"]) is not None:
                named_leads.append(named["names"])
                continue
            verb = _VERB.search(clause)
            if verb is None:
                if _names(clause) is None:
                    ok = False
                    break
                pending.append(clause)
                continue
            names_text = clause[: verb.start()]
            together = _TOGETHER_WITH.match(names_text)
            rank = _RANKS[verb["verb"]]
            if together is not None:
                leads_names = _names("，".join([*pending, together["leads"]]))
                others = _names(together["others"])
                if leads_names is None or others is None:
                    ok = False
                    break
                sentence_ranked.append((_LEAD_RANK, "，".join(leads_names)))
                sentence_ranked.append((_COOPERATING_RANK, "，".join(others)))
                pending = []
                continue
            names = _names("，".join([*pending, names_text]))
            if names is None:
                ok = False
                break
            sentence_ranked.append((rank, "，".join(names)))
            pending = []
        if not ok or pending:
            if sentence_index == 0:
                return None
            break  # a closing remark after the phrase ("以下均需…，不再列出")
        ranked.extend(sentence_ranked)
    if not ranked:
        return None
    deadline = "；".join(deadlines)
    if named_leads:
        return UnitField(0, 0, named_leads, [names for _, names in ranked], deadline)
    top = max((rank for rank, _ in ranked if rank > _COOPERATING_RANK), default=None)
    leads = [names for rank, names in ranked if rank == top]
    cooperating = [names for rank, names in ranked if rank != top]
    return UnitField(0, 0, leads, cooperating, deadline, responsible_only=top == _RESPONSIBLE_RANK)


def _bare_names(content: str) -> UnitField | None:
    """A parenthesis closing an item that lists offices and nothing else ("（市民政局、市残联）"):
    the usual reading of a bare list, the first leads and the rest cooperate (inferred)."""
    names = _names(content)
    if names is None or _VERB.search(content.strip("。 ")):
        return None
    parts = [name.strip() for part in names for name in part.split("、") if name.strip()]
    if not parts or not all(len(name) >= 3 and _OFFICE_NAME.search(name) for name in parts):
        return None
    return UnitField(0, 0, ["，".join(names)], [], bare_list=True)


class _Covered:
    """The spans of the fields found so far, indexed by start: a line is checked against them
    in log time, not against every field (a block of a 20 MB plan holds thousands)."""

    def __init__(self, fields: Sequence[UnitField]) -> None:
        spans = sorted((f.start, f.end) for f in fields)
        self._starts = [start for start, _ in spans]
        self._reach = list(itertools.accumulate((end for _, end in spans), max))

    def covers(self, offset: int) -> bool:
        """Some field holds ``offset`` (start <= offset < end)."""
        index = bisect.bisect_right(self._starts, offset) - 1
        return index >= 0 and self._reach[index] > offset

    def starts_within(self, low: int, high: int) -> bool:
        """Some field starts in [low, high)."""
        return bisect.bisect_left(self._starts, low) < bisect.bisect_left(self._starts, high)


def find_unit_fields(text: str) -> list[UnitField]:
    """Every unit field in ``text`` (an item and its lines): parentheses and brackets whose
    content is a unit phrase, and lines that are 牵头单位： / 责任单位： / 完成时限： fields."""
    found: list[UnitField] = []
    for match in BRACKETED.finditer(text):
        content = match["paren"] or match["square"] or match["lenticular"] or ""
        phrase = parse_unit_phrase(content)
        at_line_end = match.end() == len(text) or text[match.end()] == "\n"
        if phrase is None and at_line_end and match["paren"]:
            phrase = _bare_names(content)
        if phrase is not None and (phrase.leads or phrase.cooperating):
            phrase.start, phrase.end = match.start(), match.end()
            found.append(phrase)
    bracketed = _Covered(found)
    offset = 0
    run: list[tuple[int, int]] = []  # consecutive field lines form one field
    for line in [*text.split("\n"), ""]:
        start, end = offset, offset + len(line)
        offset = end + 1
        inside = bracketed.covers(start)
        if line.strip() and FIELD_LINE.match(line.strip()) and not inside:
            run.append((start, end))
            continue
        if run and text[run[-1][0] : run[-1][1]].rstrip().endswith(("、", "，")):
            run.append((start, end))  # a unit list wrapped onto the next line
            continue
        if run:
            phrase = parse_unit_phrase(_joined(text, run))
            if phrase is not None:
                phrase.start, phrase.end = run[0][0], run[-1][1]
                found.append(phrase)
            run = []
    found.extend(_closing_sentences(text, found))
    return sorted(found, key=lambda f: f.start)


def _joined(text: str, run: list[tuple[int, int]]) -> str:
    """Field lines as one field list; a wrapped line continues the value above it."""
    joined = ""
    for start, end in run:
        line = text[start:end].strip()
        joined += line if not joined or joined.endswith(("、", "，")) else "；" + line
    return joined


def _closing_sentences(text: str, found: list[UnitField]) -> list[UnitField]:
    """A line's last sentence when it is a unit phrase without brackets ("…建立台账。市商务局
    牵头，市财政局配合。"): only names that end like an office's (局, 委, 办, 部门 …) count,
    so a sentence of the task ("各地要加强协调配合") never does."""
    phrases: list[UnitField] = []
    covered = _Covered(found)
    offset = 0
    for line in text.split("\n"):
        line_start, offset = offset, offset + len(line) + 1
        body = line.rstrip("。； ")
        cut = max(body.rfind("。"), body.rfind("；"))
        start = line_start + cut + 1
        if covered.covers(start) or covered.starts_within(start, line_start + len(line)):
            continue
        sentence = body[cut + 1 :]
        if FIELD_LINE.match(sentence) or not _VERB.search(sentence):
            continue
        phrase = _verb_phrase(sentence)
        if phrase is None or not all(
            _OFFICE_NAME.search(name.strip())
            for names in (*phrase.leads, *phrase.cooperating)
            for part in re.split(r"[，、]", names)
            if (name := part.strip())
        ):
            continue
        phrase.start, phrase.end = start, line_start + len(line)
        phrases.append(phrase)
    return phrases
