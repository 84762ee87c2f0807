"""Who is responsible: canonical unit names, their aliases, and named groups of units.

Documents name one department several ways (市发改委, 市发展改革委, 市发展和改革委员会);
the directory maps each alias to one canonical name so that a unit's tasks, refusals and
overdue counts add up in one place. Group names (各县区政府, 市直有关单位) expand to their
members where the document itself lists them (an attachment such as 附件2) or the directory
defines them, and otherwise stay as one named group. The directory is a data file,
``domain/data/units.toml``, that a coordinator can edit; :func:`load_directory` can also
read another file.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from domain.files import read_regular_file
from domain.plan import ParseWarning, PlanTask
from domain.text import normalize_line

# A directory of every unit of a province is well under a megabyte.
MAX_DIRECTORY_BYTES = 8 * 1024 * 1024

_SEPARATORS = "、，；"
# "A等B" after a list of units. B is a group of its own only when it is a qualified group
# phrase ("市信息办等市直有关部门", "…等市政府有关部门", "…等各县区政府"): it ends in
# 部门/单位/政府/机构, says 有关/相关/各/直 and names whose. B that only classifies or
# counts the listed units ("等有关部门", "等有关部门和单位", "等5个部门", "等单位") adds
# nobody: 等 closes the list, as the corpus labels read it. Any other 等 is part of a name
# (市中等职业学校).
_GROUP_PHRASE = re.compile(r"^.*(?:有关|相关|各|直).*(?:部门|单位|政府|机构)$")
_COUNTED_PHRASE = re.compile(
    r"^(?:\d+|[一二三四五六七八九十百两几数]+)?[余多]?[个家]?(?:其他|其它)?(?:有关|相关)?"
    r"(?:部门|单位|机构|方面)(?:和|及|、)?(?:部门|单位|机构)?$"
)
_TRAILING_PARENTHESIS = re.compile(r"（[^（）]*）$")
# A second nameplate of the same body after its name: "市民委（市宗教局）",
# "市政府办公室（市金融办、市外事办）". Its contents are organisation names.
_SECOND_NAMEPLATE = re.compile(
    r"（(?:[^（）、]+?(?:局|委|办|办公室|中心|厅|会|院|处|所|站|队)、?)+）$"
)


@lru_cache(maxsize=4096)
def _canonical_spelling(name: str) -> str:
    """``name`` in the text form the directory is written in (one OpenCC pass per name)."""
    return normalize_line(name)


@dataclass(frozen=True)
class UnitDirectory:
    canonical: frozenset[str]
    aliases: Mapping[str, str]  # alias -> canonical name
    groups: Mapping[str, tuple[str, ...]]  # group name -> members (empty: kept as a name)

    def resolve(self, name: str) -> str:
        """The canonical name of a unit or group; unknown names come back cleaned, unchanged.

        A trailing parenthesis naming a second nameplate of the same body
        ("市发展改革委（市物价局）", "市民委（市宗教局）") is always dropped, whether or not
        the directory knows the name: the body is one unit under its first name, so its
        tasks add up in one place however a document writes it. Any other trailing
        parenthesis ("（筹）") is dropped only when the name before it is known.
        """
        name = name.strip().strip("。").strip()
        resolved = self._resolve_as_written(name)
        if resolved != name or resolved in self.canonical or resolved in self.groups:
            return resolved
        # Typed or pasted by hand (duban token issue --unit, a --units file, a cell no
        # parser normalised): half-width parentheses, Traditional, pinyin after characters.
        spelled = _canonical_spelling(name)
        if spelled != name:
            resolved = self._resolve_as_written(spelled)
            if resolved != spelled or resolved in self.canonical or resolved in self.groups:
                return resolved
        return name

    def _resolve_as_written(self, name: str) -> str:
        if name in self.canonical or name in self.groups:
            return name
        if name in self.aliases:
            return self.aliases[name]
        bare = _TRAILING_PARENTHESIS.sub("", name)
        if bare != name and (bare in self.canonical or bare in self.aliases):
            return self.aliases.get(bare, bare)
        bare = _SECOND_NAMEPLATE.sub("", name)
        if bare and bare != name:
            return self.aliases.get(bare, bare)
        return name

    def is_group(self, name: str) -> bool:
        return self.resolve(name) in self.groups

    def members(
        self, name: str, document_groups: Mapping[str, Iterable[str]] | None = None
    ) -> list[str] | None:
        """The units a group stands for (the document's own list wins), or None if unknown."""
        group = self.resolve(name)
        if document_groups and group in document_groups:
            return [self.resolve(member) for member in document_groups[group]]
        members = self.groups.get(group)
        return [self.resolve(member) for member in members] if members else None


# Characters that mean something to a renderer (HTML, rich console markup) rather than to
# a unit's name. Names are escaped wherever they are shown; these are warned about because
# no department is called that: the cell was mis-read, or the document was made to attack.
# Markup, control characters, and the invisible ones (zero-width, bidirectional overrides)
# that make a name look like another unit's while counting apart from it.
_MARKUP = re.compile(r"[<>&\[\]{}\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def unit_name_warnings(tasks: Sequence[PlanTask], directory: UnitDirectory) -> list[ParseWarning]:
    """One warning per unit name the directory does not know (the first task that names
    it), and per name that holds markup or control characters, so a typo that would split
    a unit's counts in two, or a hostile cell, is looked at before the import."""
    known = [*directory.canonical, *directory.groups, *directory.aliases]
    warnings: list[ParseWarning] = []
    seen: set[str] = set()
    for task in tasks:
        for name in _unit_names(task, seen):
            seen.add(name)
            line = task.source.lines[0]
            if _MARKUP.search(name):
                warnings.append(
                    ParseWarning(
                        line=line,
                        code="unit_name_markup",
                        task_id=task.id,
                        message=f"unit name {name!r} holds markup, control or invisible characters "
                        "(< > & [ ] { }, zero-width or direction marks), which no unit's name "
                        "does: check the document",
                    )
                )
            elif directory.resolve(name) not in directory.canonical | directory.groups.keys():
                nearest = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
                hint = f" (nearest: {'、'.join(nearest)})" if nearest else ""
                warnings.append(
                    ParseWarning(
                        line=line,
                        code="unknown_unit",
                        task_id=task.id,
                        message=f"unit {name} is not in the unit directory{hint}: check the "
                        "name, or add it or an alias to the directory (--units FILE)",
                    )
                )
    return warnings


def _unit_names(task: PlanTask, seen: set[str]) -> list[str]:
    """The task's lead and cooperating units not in ``seen``, in order, each once."""
    if seen.issuperset(task.lead_units) and seen.issuperset(task.cooperating_units):
        return []  # nearly every task of a ledger: its units were named before
    return list(
        dict.fromkeys(
            name for name in (*task.lead_units, *task.cooperating_units) if name not in seen
        )
    )


def split_units(cell: str) -> list[str]:
    """The unit names of a 责任单位 cell or a （…负责） phrase, in order, as one would read them.

    It expects text as :func:`domain.text.normalize_line` gives it (Simplified, pinyin
    gone) but takes either punctuation width itself. In order:

    - names are split on 、，；(and their half-width or small forms) outside parentheses,
      at any depth: 各县（市、区）人民政府 is one name; a parenthesis left open by a cut
      cell does not swallow the names after it;
    - 各 followed by levels only is a collective that may hold a 、: 各区、县级市,
      各县、市、区, 各县、区人民政府 are one name each;
    - "A等B" yields A then the group B when B is a qualified group (市直有关部门), A alone
      when B only classifies or counts the listed units (等有关部门, 等有关部门和单位,
      等5个部门, 等单位) or 等 ends the list, and A then C for 等和C (…等和各省级人民政府);
      other 等 are part of a name (市中等职业学校);
    - 和 / 及 / 以及 / 与 between two complete names lists two (市级各有关部门及各县市区政府),
      and is part of a name otherwise (工业和信息化部, 中央和国家机关工委, 各有关部门和单位);
    - a name written without the level its predecessor has gets it back (prefix elision):
      省工业和信息化厅、科技厅 is 省工业和信息化厅 and 省科技厅, 杭州市发改委、教育局 gives
      杭州市教育局, 省委组织部、宣传部 gives 省委宣传部; never for a name complete on its own
      (各县区政府, 团市委, 中国人民银行XX中心支行, 广东金融监管局, 海关总署, 有关部门).
    """
    return list(_split_units(cell))


# A ledger repeats the same few unit cells over thousands of rows.
@lru_cache(maxsize=8192)
def _split_units(cell: str) -> tuple[str, ...]:
    if _OTHER_PUNCTUATION.search(cell):
        cell = cell.translate(_UNIT_PUNCTUATION)
    names: list[str] = []
    for part in _collectives_joined(_top_level_parts(cell)):
        for piece in _split_etc(part):
            if "和" in piece or "及" in piece or "与" in piece:
                names.extend(_split_conjunctions(piece))
            else:
                names.append(piece)
    return tuple(_elided_prefixes_restored([name.strip() for name in names if name.strip()]))


# Half-width and small forms of the punctuation unit lists use, as full-width.
_UNIT_PUNCTUATION = str.maketrans(
    {"(": "（", ")": "）", ",": "，", ";": "；", "\ufe51": "、", "\uff64": "、", "\u3000": " "}
)
_OTHER_PUNCTUATION = re.compile("[(),;\ufe51\uff64\u3000]")


_SEPARATOR_RUN = re.compile(f"([{_SEPARATORS}])")
_STRUCTURE = re.compile(f"[（）{_SEPARATORS}]")


def _top_level_parts(cell: str) -> list[tuple[str, str]]:
    """(separator before, text) of each piece of ``cell`` between separators outside
    parentheses; an opening parenthesis that is never closed does not count as one."""
    if "（" not in cell:
        pieces = _SEPARATOR_RUN.split(cell)
        parts = [("", pieces[0].strip())]
        parts += [(pieces[i], pieces[i + 1].strip()) for i in range(1, len(pieces), 2)]
        return [(separator, text) for separator, text in parts if text]
    marks = [(found.start(), found.group()) for found in _STRUCTURE.finditer(cell)]
    opening: list[int] = []
    matched: set[int] = set()
    for index, char in marks:
        if char == "（":
            opening.append(index)
        elif char == "）" and opening:
            matched.add(opening.pop())
    cuts: list[int] = []
    depth = 0
    for index, char in marks:
        if char == "（":
            depth += index in matched
        elif char == "）":
            depth = max(depth - 1, 0)
        elif depth == 0:
            cuts.append(index)
    ends = [*cuts, len(cell)]
    parts = [("", cell[: ends[0]])]
    parts += [(cell[cut], cell[cut + 1 : end]) for cut, end in zip(cuts, ends[1:], strict=True)]
    return [(separator, text.strip()) for separator, text in parts if text.strip()]


_LEVEL_WORD = r"(?:县级市|县市区|县区|乡镇|街道|[省市区县乡镇旗])"
# 各 and levels only, so far: the list of levels may go on after a 、 (各区、县级市).
_OPEN_COLLECTIVE = re.compile(rf"^各(?:有关|相关)?(?:{_LEVEL_WORD}|（[^（）]*）|、)+$")
_LEVEL_CONTINUATION = re.compile(rf"^(?:{_LEVEL_WORD}|（[^（）]*）)+(?:人民政府|政府)?$")


def _collectives_joined(parts: list[tuple[str, str]]) -> list[str]:
    if not any(text.startswith("各") for _, text in parts[:-1]):
        return [text for _, text in parts]
    joined: list[str] = []
    for separator, text in parts:
        if (
            separator == "、"
            and joined
            and joined[-1].startswith("各")
            and _OPEN_COLLECTIVE.match(joined[-1])
            and _LEVEL_CONTINUATION.match(text)
        ):
            joined[-1] += separator + text
        else:
            joined.append(text)
    return joined


def _top_level_etc(part: str) -> int:
    """Where the last 等 outside parentheses stands in ``part``, or -1."""
    if "（" not in part:
        return part.rfind("等")
    depth = 0
    found = -1
    for index, char in enumerate(part):
        if char == "（":
            depth += 1
        elif char == "）":
            depth = max(depth - 1, 0)
        elif char == "等" and depth == 0:
            found = index
    return found


# 及其 is "and its" (市教育局及其所属学校): one body with what belongs to it.
_CONJUNCTION = re.compile(r"以及|和|及(?!其)|与")


def _split_etc(part: str) -> list[str]:
    at = _top_level_etc(part)
    if at <= 0:
        return [part]
    unit, rest = part[:at].strip(), part[at + 1 :].strip()
    if not rest:  # "A、B等": 等 closes the list
        return [unit]
    joined = _CONJUNCTION.match(rest)
    if joined is not None:  # "A等和各省级人民政府": 等 closes the list, 和 adds a name
        after = rest[joined.end() :]
        return [unit, after] if _is_complete_name(after) else [part]
    if _COUNTED_PHRASE.fullmatch(rest):
        return [unit]
    if _GROUP_PHRASE.fullmatch(rest):
        return [unit, rest]
    return [part]


# What a department's, a body's or a collective's name ends with (局, 厅, 委员会, 政府 …).
_BODY_SUFFIX = re.compile(
    r"(?:[厅局委办部署院行社联会室处科队站所馆]|中心|政府|部门|单位|机构|小组|党委|公司)$"
)
# A group that names nobody in particular: after a 和 it continues the name before
# (各有关部门和单位, 各级党委和政府).
_BARE_GROUP = re.compile(r"^(?:其他|其它)?(?:有关|相关)?(?:部门|单位|机构|人民政府|政府|党委)$")


def _is_complete_name(text: str) -> bool:
    return len(text) >= 2 and bool(_BODY_SUFFIX.search(text)) and not _BARE_GROUP.match(text)


def _split_conjunctions(piece: str) -> list[str]:
    """和 / 及 / 与 between two complete names lists both; one inside a name stays.

    The name before the conjunction must end like a body (工业 in 工业和信息化部 does not),
    the name after must be one too and not a bare 单位 (各有关部门和单位). A 政府 before
    和 ends a name only in a collective (各县区政府和…): 政府和社会资本合作中心 is one body.
    """
    names: list[str] = []
    start = 0
    for conjunction in _CONJUNCTION.finditer(piece):
        index = conjunction.start()
        if index <= start or piece.count("（", 0, index) != piece.count("）", 0, index):
            continue
        left, right = piece[start:index], piece[conjunction.end() :]
        if (
            _is_complete_name(left)
            and (not left.endswith("政府") or left.startswith("各"))
            and _is_complete_name(right)
        ):
            names.append(left)
            start = conjunction.end()
    names.append(piece[start:])
    return [name for name in names if name]


_LEVEL_CHARACTERS = "省市区县州盟旗"
_LEVEL_CHARACTER = re.compile(f"[{_LEVEL_CHARACTERS}]")
_HAN = r"[\u3400-\u9fff]"
# A character of a place's name: not a level, nor the 全 / 本 / 我 / 该 / 各 of 全市, 本区 ….
_PLACE_CHARACTER = rf"(?:(?![{_LEVEL_CHARACTERS}各全本我该]){_HAN})"
# The level a body's name opens with: 省 / 市 / 区 / 县 alone (not 市场, 市级, 市直, 区域),
# or a place and its level (广东省, 杭州市, 岳麓区, 沛县, 广西壮族自治区), then perhaps a
# district under it (武汉市江岸区) that is not a 开发区, 新区, 园区 … of the city.
_LEVEL_PREFIX = re.compile(
    rf"^(?:[省市区县旗](?![场域级直])|{_PLACE_CHARACTER}{{2,3}}[省市区旗]|{_PLACE_CHARACTER}{{1,3}}县"
    rf"|{_PLACE_CHARACTER}{{2,5}}(?:自治区|自治州|自治县|地区|盟))"
    rf"(?:(?!{_HAN}?(?:开发|经开|高新|新|园|社|城|景|片|辖|港|矿|保税|示范|试验|功能|自贸|郊)区)"
    rf"{_PLACE_CHARACTER}{{2,3}}[区县市])?"
)
# 省委 / 市委 before a party department (组织部, 宣传部): its elided names are 部 too.
_PARTY_COMMITTEE = re.compile(r"^委.*部$")
# Where a name that opens without a level is complete all the same: central bodies and
# their branches, collectives, and a province written without 省 (广东金融监管局,
# 民航广东监管局, 中国证监会广东监管局).
_COMPLETE_OPENING = re.compile(
    r"^(?:各|有关|相关|其他|其它|全国|全省|全市|中国|中共|中华|中央|中科院|中宣部|中组部|中编办|"
    r"国家|国务院|人民|共青团|团|驻|本级|地方|所属|下属|该|我)"
)
_PROVINCE = re.compile(
    "北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|"
    "广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门"
)
# What a name whose level was elided ends with: a department of that government.
_ELIDED_SUFFIX = re.compile(r"(?:[厅局委办部署院社联会室处科队站所馆]|中心)$")


def _level_of(name: str) -> str | None:
    """The level ``name`` opens with (省, 杭州市, 武汉市江岸区), when a body's name follows it."""
    found = _LEVEL_PREFIX.match(name)
    if found is None:
        return None
    body = _TRAILING_PARENTHESIS.sub("", name[found.end() :])  # 市委宣传部（市新闻出版局）
    return found.group() if len(body) >= 2 and _BODY_SUFFIX.search(body) else None


def _is_elided(name: str) -> bool:
    """A department's name written without a level, one a list's first name would give it."""
    return (
        2 <= len(name) <= 16
        and _LEVEL_CHARACTER.search(name) is None
        and _COMPLETE_OPENING.match(name) is None
        and _PROVINCE.search(name) is None
        and _ELIDED_SUFFIX.search(name) is not None
    )


def _elided_prefixes_restored(names: list[str]) -> list[str]:
    if all(_LEVEL_CHARACTER.search(name) for name in names[1:]):  # the usual list: 市A、市B
        return names
    restored: list[str] = []
    level: str | None = None
    party_committee = False
    for name in names:
        own = _level_of(name)
        if own is not None:
            level = own
            party_committee = _PARTY_COMMITTEE.match(name[len(own) :]) is not None
            restored.append(name)
        elif level is not None and _is_elided(name):
            committee = "委" if party_committee and name.endswith("部") else ""
            restored.append(level + committee + name)
        else:
            restored.append(name)
    return restored


def parse_directory(text: str, source: str = "units.toml") -> UnitDirectory:
    data = tomllib.loads(text)
    canonical: set[str] = set()
    aliases: dict[str, str] = {}
    for entry in data.get("unit", []):
        name = str(entry["name"])
        canonical.add(name)
        for alias in entry.get("aliases", []):
            if aliases.get(alias, name) != name:
                raise ValueError(f"{source}: alias {alias} names both {aliases[alias]} and {name}")
            aliases[str(alias)] = name
    groups = {
        str(name): tuple(str(member) for member in group.get("members", []))
        for name, group in data.get("group", {}).items()
    }
    for name, group in data.get("group", {}).items():
        for alias in group.get("aliases", []):
            aliases[str(alias)] = str(name)
    return UnitDirectory(frozenset(canonical), aliases, groups)


def load_directory(path: Path | None = None) -> UnitDirectory:
    """The bundled directory, or the one at ``path``."""
    if path is not None:
        data = read_regular_file(path, MAX_DIRECTORY_BYTES)
        return parse_directory(data.decode("utf-8"), str(path))
    text = resources.files("domain.data").joinpath("units.toml").read_text(encoding="utf-8")
    return parse_directory(text)
