"""The unit directory as the API and the token commands see it: the bundled (or configured)
directory's canonical names, and every unit an imported plan names."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from domain.units import UnitDirectory, load_directory
from runtime.errors import DubanError
from store import task_reads
from store.db import Connection


class UnknownUnitError(DubanError):
    """A unit the directory does not know; the message suggests the nearest names."""

    exit_code = 2


@dataclass(frozen=True)
class UnitEntry:
    name: str
    aliases: tuple[str, ...]
    in_directory: bool  # False: named only by an imported plan
    group_members: tuple[str, ...] | None = None


async def unit_entries(
    connection: Connection, directory: UnitDirectory | None = None
) -> list[UnitEntry]:
    directory = directory or load_directory()
    aliases: dict[str, list[str]] = {}
    for alias, name in directory.aliases.items():
        aliases.setdefault(name, []).append(alias)
    entries = {
        name: UnitEntry(name, tuple(sorted(aliases.get(name, []))), True)
        for name in directory.canonical
    }
    for name, members in directory.groups.items():
        entries[name] = UnitEntry(name, tuple(sorted(aliases.get(name, []))), True, members)
    for name in await task_reads.known_units(connection):
        entries.setdefault(name, UnitEntry(name, (), False))
    return sorted(entries.values(), key=lambda entry: entry.name)


async def resolve_unit(
    connection: Connection, name: str, directory: UnitDirectory | None = None
) -> str:
    """The canonical name of a unit the directory or an imported plan knows (aliases
    resolve), or UnknownUnitError naming the closest known names."""
    directory = directory or load_directory()
    wanted = name.strip()
    canonical = directory.resolve(wanted)
    entries = await unit_entries(connection, directory)
    known = {entry.name for entry in entries}
    if canonical in known:
        return canonical
    names = sorted(known | set(directory.aliases))
    nearest = difflib.get_close_matches(wanted, names, n=3, cutoff=0.4)
    hint = f"; did you mean {'、'.join(nearest)}?" if nearest else ""
    raise UnknownUnitError(f"unit {wanted!r} is not in the unit directory{hint}")
