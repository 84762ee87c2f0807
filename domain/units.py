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
from importlib import resources
from pathlib import Path

from domain.files import read_regular_file
from domain.plan import ParseWarning, PlanTask

# A directory of every unit of a province is well under a megabyte.
MAX_DIRECTORY_BYTES = 8 * 1024 * 1024

_SEPARATORS = "、，,；;"
# "A等B" after a list of units. B is a group the listed units belong to only when it is a
# generic group phrase ("市信息办等市直有关部门", "…等有关部门", "…等各县区政府"): it ends
# in 部门/单位/政府/机构 and says 有关/相关/各/直. B merely counting the listed units
# ("市信息办等5个部门", "…等单位") adds nobody and is dropped. Any other 等 is part of a
# name (市中等职业学校).
_ETC = re.compile(r"^(?P<unit>.+?)等(?P<rest>[^等]+)$")
_GROUP_PHRASE = re.compile(r"^.*(?:有关|相关|各|直).*(?:部门|单位|政府|机构)$")
_COUNTED_PHRASE = re.compile(r"^(?:\d+|[一二三四五六七八九十两]+)?[个家]?(?:部门|单位)$")
_TRAILING_PARENTHESIS = re.compile(r"（[^（）]*）$")
# A second nameplate of the same body after its name: "市民委（市宗教局）",
# "市政府办公室（市金融办、市外事办）". Its contents are organisation names.
_SECOND_NAMEPLATE = re.compile(
    r"（(?:[^（）、]+?(?:局|委|办|办公室|中心|厅|会|院|处|所|站|队)、?)+）$"
)


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
        for name in (*task.lead_units, *task.cooperating_units):
            if name in seen:
                continue
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


def split_units(cell: str) -> list[str]:
    """Split a 责任单位 cell on 、，； outside parentheses.

    "A等B" yields A then the group B when B is a group phrase (市直有关部门), A alone when B
    only counts the listed units (等5个部门, 等单位), and stays whole otherwise (市中等职业学校).
    """
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in cell:
        if char in "（(":
            depth += 1
        elif char in "）)":
            depth = max(depth - 1, 0)
        if char in _SEPARATORS and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    units: list[str] = []
    for part in (part.strip() for part in parts):
        if not part:
            continue
        units.extend(_split_etc(part))
    return units


def _split_etc(part: str) -> list[str]:
    etc = _ETC.match(part)
    if etc is None or part.endswith("）"):
        return [part]
    unit, rest = etc["unit"].strip(), etc["rest"].strip()
    if _COUNTED_PHRASE.fullmatch(rest):
        return [unit]
    if _GROUP_PHRASE.fullmatch(rest):
        return [unit, rest]
    return [part]


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
