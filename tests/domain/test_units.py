"""The unit directory: aliases resolve to one name, groups expand where they are defined."""

from __future__ import annotations

import pytest

from domain.parsers import parse_document, parse_file
from domain.units import load_directory, parse_directory, split_units
from tests.support.golden import EXAMPLES


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


@pytest.mark.parametrize(
    ("cell", "units"),
    [
        ("市中等职业学校", ["市中等职业学校"]),
        ("市教育局、市中等职业学校", ["市教育局", "市中等职业学校"]),
        ("市信息办等5个部门", ["市信息办"]),
        ("市公安局、市信息办等五个部门", ["市公安局", "市信息办"]),
        ("市财政局、市审计局等单位", ["市财政局", "市审计局"]),
        ("市网信办等有关部门", ["市网信办"]),
        ("市公安局等相关单位", ["市公安局"]),
        ("市公安局等有关部门和单位", ["市公安局"]),
        ("市信息办等市政府有关部门", ["市信息办", "市政府有关部门"]),
    ],
)
def test_etc_splits_only_before_a_group_phrase(cell: str, units: list[str]) -> None:
    """ "A等B" gives group B only for a qualified 有关/相关/各/直…部门/单位; 等有关部门 or a
    count adds nobody."""
    assert split_units(cell) == units


@pytest.mark.parametrize(
    "name",
    ["市民委（市宗教局）", "市政府办公室（市金融办、市外事办）", "市人防办（市地震局）"],
)
def test_second_nameplate_is_dropped_known_or_not(name: str) -> None:
    """The name before a trailing second-nameplate parenthesis is the canonical one, always."""
    assert load_directory().resolve(name) == name.split("（")[0]


def test_parentheses_that_are_not_a_second_nameplate_stay() -> None:
    """A parenthesis inside a name, or one naming no organisation after an unknown name, stays."""
    directory = load_directory()
    assert directory.resolve("各县（市）区信息中心") == "各县（市）区信息中心"
    assert directory.resolve("市大数据中心（筹）") == "市大数据中心（筹）"
    assert directory.resolve("市财政局（筹）") == "市财政局"  # a known name: the same unit


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


def _ledger(*rows: tuple[str, str]) -> bytes:
    lines = ["序号,工作任务,牵头单位,配合单位,完成时限"]
    lines += [
        f"{n},推进第{n}项工作,{lead},{co},2030年12月31日前" for n, (lead, co) in enumerate(rows, 1)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_a_unit_the_directory_does_not_know_is_warned_about_once_at_its_first_task() -> None:
    """A typo (市发改局 for 市发改委) would count a unit's tasks in two places: warned, with
    the nearest names; aliases and groups of the directory are known and pass."""
    parsed = parse_document(
        "plan.csv",
        _ledger(("市发改委", "市发改局"), ("市发改局", "各县区政府"), ("市公安局", "市政府办")),
    )
    unknown = [w for w in parsed.warnings if w.code == "unknown_unit"]
    assert len(unknown) == 1
    assert (unknown[0].line, unknown[0].task_id) == (2, "1")
    assert "市发改局" in unknown[0].message
    assert "nearest: 市发改委" in unknown[0].message


def test_a_unit_name_with_markup_is_warned_about() -> None:
    parsed = parse_document("plan.csv", _ledger(("[bold]局[/bold]", "市公安局&amp;")))
    assert [(w.code, w.line, w.task_id) for w in parsed.warnings] == [
        ("unit_name_markup", 2, "1"),
        ("unit_name_markup", 2, "1"),
    ]
    assert "'[bold]局[/bold]'" in parsed.warnings[0].message


def test_the_reference_plans_name_only_units_the_directory_knows() -> None:
    """The bundled directory lists every unit of the five reference plans, so their
    goldens (and their warnings) stay as they were checked."""
    for path in sorted(EXAMPLES.glob("*.txt")):
        parsed = parse_file(path)
        assert [w for w in parsed.warnings if w.code in ("unknown_unit", "unit_name_markup")] == []


def test_a_unit_name_with_invisible_characters_is_warned_about() -> None:
    """A zero-width space or a direction override makes a name look like a known unit's
    while it counts apart from it."""
    parsed = parse_document("plan.csv", _ledger(("市信息\u200b局", "市公安\u202e局")))
    assert [w.code for w in parsed.warnings] == ["unit_name_markup", "unit_name_markup"]
