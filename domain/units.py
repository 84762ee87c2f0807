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

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

_SEPARATORS = "、，,；;"
# "市公安局、市信息办等市直有关部门": the listed units, then the group they belong to.
_ETC_GROUP = re.compile(r"^(?P<unit>.+?)等(?P<group>[^等]{2,})$")
_TRAILING_ALIAS = re.compile(r"（[^（）]*）$")


@dataclass(frozen=True)
class UnitDirectory:
    canonical: frozenset[str]
    aliases: Mapping[str, str]  # alias -> canonical name
    groups: Mapping[str, tuple[str, ...]]  # group name -> members (empty: kept as a name)

    def resolve(self, name: str) -> str:
        """The canonical name of a unit or group; unknown names come back cleaned, unchanged.

        A trailing parenthesis naming a second nameplate of the same body
        ("市发展改革委（市物价局）") is dropped when the name without it is known.
        """
        name = name.strip().strip("。").strip()
        if name in self.canonical or name in self.groups:
            return name
        if name in self.aliases:
            return self.aliases[name]
        bare = _TRAILING_ALIAS.sub("", name)
        if bare != name and (bare in self.canonical or bare in self.aliases):
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

    def with_groups(self, extra: Mapping[str, Iterable[str]]) -> UnitDirectory:
        """This directory plus groups a document defines (its own 附件 list of units)."""
        groups = {**self.groups, **{name: tuple(units) for name, units in extra.items()}}
        return UnitDirectory(self.canonical, self.aliases, groups)


def split_units(cell: str) -> list[str]:
    """Split a 责任单位 cell on 、，； outside parentheses; "A等B" yields A then group B."""
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
        etc = _ETC_GROUP.match(part)
        if etc and not part.endswith("）"):
            units.extend([etc["unit"].strip(), etc["group"].strip()])
        else:
            units.append(part)
    return units


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
        return parse_directory(path.read_text(encoding="utf-8"), str(path))
    text = resources.files("domain.data").joinpath("units.toml").read_text(encoding="utf-8")
    return parse_directory(text)
