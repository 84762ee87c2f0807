"""The unit directory: aliases resolve to one name, groups expand where they are defined."""

from __future__ import annotations

import pytest

from domain.units import load_directory, parse_directory, split_units


def test_aliases_resolve_to_one_canonical_name() -> None:
    """Every spelling of a department counts for the same unit."""
    directory = load_directory()
    names = {"市发改委", "市发展改革委", "市发展和改革委员会", "市发展改革委（市物价局）"}
    assert {directory.resolve(name) for name in names} == {"市发展改革委"}
    people = {"市人社局", "市人力资源社会保障局", "市人力资源和社会保障局"}
    assert {directory.resolve(name) for name in people} == {"市人力资源社会保障局"}


def test_unknown_units_pass_through_unchanged() -> None:
    """A unit the directory does not know keeps its name (it is not guessed at)."""
    assert load_directory().resolve("市无线电管理处") == "市无线电管理处"


def test_split_keeps_parentheses_and_reads_etc_groups() -> None:
    """Separators inside parentheses do not split; "A等B" yields A and the group B."""
    assert split_units("市政府办公室（市金融办、市外事办）、市教育局") == [
        "市政府办公室（市金融办、市外事办）",
        "市教育局",
    ]
    assert split_units("市公安局、市信息办等市直有关部门") == [
        "市公安局",
        "市信息办",
        "市直有关部门",
    ]


def test_groups_expand_from_the_document_first() -> None:
    """A document's own member list (附件2) wins; an undefined group stays a name."""
    directory = load_directory()
    members = directory.members("市直有关部门", {"市直有关单位": ["市信访局", "市发改委"]})
    assert members == ["市信访局", "市发展改革委"]
    assert directory.members("各县区政府") is None
    assert directory.is_group("各县、区人民政府")


def test_directory_file_refuses_an_alias_for_two_units() -> None:
    """One alias naming two units would merge their records; the file is rejected."""
    text = """
[[unit]]
name = "市甲局"
aliases = ["甲"]
[[unit]]
name = "市乙局"
aliases = ["甲"]
"""
    with pytest.raises(ValueError, match="甲"):
        parse_directory(text, "bad.toml")
