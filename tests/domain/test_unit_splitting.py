"""Unit lists split the way offices write them (责任单位 cells and （…负责） phrases).

The table uses names written for these tests, in the shapes the corpus shows, since Duban
is judged on documents nobody here has seen; the corpus check at the end proves the
labelled unit strings come out of the corpus's own phrases.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.parsers import parse_document
from domain.text import normalize_line
from domain.units import load_directory, split_units
from tests.domain.corpus_unit_phrases import CORPUS_UNIT_PHRASES

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.mark.parametrize(
    ("cell", "units"),
    [
        # separators of either width, stray spaces, empty pieces
        ("市交通局、市林业局", ["市交通局", "市林业局"]),
        ("市交通局,市林业局", ["市交通局", "市林业局"]),
        ("市交通局，市林业局；市水务局", ["市交通局", "市林业局", "市水务局"]),
        ("市交通局;市林业局", ["市交通局", "市林业局"]),
        ("市交通局\ufe51市林业局\uff64市水务局", ["市交通局", "市林业局", "市水务局"]),
        (" 市交通局 、 市林业局 、", ["市交通局", "市林业局"]),
        # parentheses: a separator inside never splits, whatever the width or depth
        ("各乡(镇、街道)人民政府、市民政局", ["各乡（镇、街道）人民政府", "市民政局"]),
        ("各乡（镇、街道）人民政府，市民政局", ["各乡（镇、街道）人民政府", "市民政局"]),
        ("各县（市、区（园区））政府、市档案馆", ["各县（市、区（园区））政府", "市档案馆"]),
        (
            "市民政局（市老龄办、市慈善总会）、市残联",
            ["市民政局（市老龄办、市慈善总会）", "市残联"],
        ),
        # a parenthesis left open (a cell cut short) does not swallow the rest
        ("市民政局（市老龄办、市残联", ["市民政局（市老龄办", "市残联"]),
        # 各 + levels joined by 、 is one collective
        ("各区、县级市", ["各区、县级市"]),
        ("各有关区、县级市", ["各有关区、县级市"]),
        ("市民政局，各县、市、区", ["市民政局", "各县、市、区"]),
        ("各县、区人民政府、市林业局", ["各县、区人民政府", "市林业局"]),
        ("各乡镇、各街道", ["各乡镇", "各街道"]),
        # prefix elision: later names drop the level the first one has
        ("省教育厅、财政厅、人力资源社会保障厅", ["省教育厅", "省财政厅", "省人力资源社会保障厅"]),
        ("市发展改革委、教育局", ["市发展改革委", "市教育局"]),
        ("区住建局、城管局、各街道办事处", ["区住建局", "区城管局", "各街道办事处"]),
        ("县农业农村局、水利局，林业局", ["县农业农村局", "县水利局", "县林业局"]),
        ("湖南省教育厅、财政厅", ["湖南省教育厅", "湖南省财政厅"]),
        ("成都市经信局、科技局", ["成都市经信局", "成都市科技局"]),
        ("武汉市江岸区民政局、卫健局", ["武汉市江岸区民政局", "武汉市江岸区卫健局"]),
        ("省市场监管局、药监局", ["省市场监管局", "省药监局"]),
        ("市城市管理局、园林局", ["市城市管理局", "市园林局"]),
        ("城市管理局、园林局", ["城市管理局", "园林局"]),
        ("沛县财政局、教育局", ["沛县财政局", "沛县教育局"]),
        ("省委组织部、宣传部", ["省委组织部", "省委宣传部"]),
        ("省委宣传部、文化厅、体育局", ["省委宣传部", "省文化厅", "省体育局"]),
        ("市卫健委、疾控中心", ["市卫健委", "市疾控中心"]),
        ("县委办、政府办", ["县委办", "县政府办"]),
        ("省委宣传部（省新闻出版局）、网信办", ["省委宣传部（省新闻出版局）", "省网信办"]),
        ("省人社厅、税务局，医保局", ["省人社厅", "省税务局", "省医保局"]),
        # ... but never before a name complete on its own
        ("市公安局、团市委", ["市公安局", "团市委"]),
        ("省财政厅、国家税务总局湖南省税务局", ["省财政厅", "国家税务总局湖南省税务局"]),
        ("省发展改革委、中国人民银行长沙中心支行", ["省发展改革委", "中国人民银行长沙中心支行"]),
        ("市商务局、各县区政府", ["市商务局", "各县区政府"]),
        ("省科技厅，江西金融监管局", ["省科技厅", "江西金融监管局"]),
        ("市民政局、有关部门", ["市民政局", "有关部门"]),
        ("市民政局、长沙海关", ["市民政局", "长沙海关"]),
        ("省交通运输厅、民航江苏监管局", ["省交通运输厅", "民航江苏监管局"]),
        ("省科技厅、中科院合肥物质科学研究院", ["省科技厅", "中科院合肥物质科学研究院"]),
        ("市电信公司、移动公司", ["市电信公司", "移动公司"]),
        ("市财政局、人行中心支行", ["市财政局", "人行中心支行"]),
        (
            "市财政局、行政审批制度改革工作领导小组办公室",
            ["市财政局", "行政审批制度改革工作领导小组办公室"],
        ),
        ("市民政局、成都市政府", ["市民政局", "成都市政府"]),
        ("市场监管总局、海关总署", ["市场监管总局", "海关总署"]),
        ("交通运输部、水利局", ["交通运输部", "水利局"]),
        ("国家发展改革委、能源局", ["国家发展改革委", "能源局"]),
        # 和 / 及 / 与 inside a name stay; between two complete names they list two
        ("中央和国家机关工委、文化和旅游部", ["中央和国家机关工委", "文化和旅游部"]),
        ("市自然资源和规划局", ["市自然资源和规划局"]),
        ("市自然资源与规划局", ["市自然资源与规划局"]),
        ("市住房和城乡建设局、市商务和投资促进局", ["市住房和城乡建设局", "市商务和投资促进局"]),
        ("各有关部门和单位", ["各有关部门和单位"]),
        ("各级党委和政府", ["各级党委和政府"]),
        ("市直各部门和各县区政府", ["市直各部门", "各县区政府"]),
        ("市委和市政府", ["市委", "市政府"]),
        ("市教育局及其下属单位", ["市教育局及其下属单位"]),
        ("市公安局、和平区政府", ["市公安局", "和平区政府"]),
        ("市卫健委和市医保局", ["市卫健委", "市医保局"]),
        ("市级各有关部门及各县区政府", ["市级各有关部门", "各县区政府"]),
        ("省教育厅以及省体育局", ["省教育厅", "省体育局"]),
        ("市公安局与市司法局", ["市公安局", "市司法局"]),
        ("省财政厅和税务局", ["省财政厅", "省税务局"]),
        ("市政府和社会资本合作中心", ["市政府和社会资本合作中心"]),
        # 等 closes a list; 等和 joins the group after it
        ("市教育局、市体育局等", ["市教育局", "市体育局"]),
        ("市教育局等和各县区人民政府", ["市教育局", "各县区人民政府"]),
        ("水利部、林草局等和各有关省级人民政府", ["水利部", "林草局", "各有关省级人民政府"]),
        ("市教育局等5个单位", ["市教育局"]),
        ("市教育局、市民政局等十余个部门", ["市教育局", "市民政局"]),
        ("市教育局、市体育局等有关部门", ["市教育局", "市体育局"]),
        ("市教育局等相关部门和单位", ["市教育局"]),
        ("市教育局等各县区政府", ["市教育局", "各县区政府"]),
        ("市教育局、市民政局等部门", ["市教育局", "市民政局"]),
        ("市教育局等市直有关部门", ["市教育局", "市直有关部门"]),
        ("市中等专业学校、市教育局", ["市中等专业学校", "市教育局"]),
        ("市政府办公室（市外事办、市侨办等）", ["市政府办公室（市外事办、市侨办等）"]),
        ("", []),
    ],
)
def test_split_units(cell: str, units: list[str]) -> None:
    assert split_units(cell) == units


@pytest.mark.parametrize(
    ("raw", "units"),
    [
        ("市級各有關部門及各縣市區政府", ["市级各有关部门", "各县市区政府"]),
        ("省農業農村廳、商務廳", ["省农业农村厅", "省商务厅"]),
        ("區(qū)衛(wèi)健局、各縣(市、區(qū))人民政府", ["区卫健局", "各县（市、区）人民政府"]),
        ("市財(cái)政局，市審(shěn)計局", ["市财政局", "市审计局"]),
    ],
)
def test_traditional_and_pinyin_units_split_after_normalising(raw: str, units: list[str]) -> None:
    """Traditional names, with or without pinyin after characters, split like Simplified."""
    assert split_units(normalize_line(raw)) == units


def test_resolve_reads_either_width_and_traditional() -> None:
    directory = load_directory()
    assert directory.resolve("市发展改革委(市物价局)") == "市发展改革委"
    assert directory.resolve("市發改委") == "市发展改革委"
    assert directory.resolve("各縣(市、區(qū))政府") == "各县（市、区）政府"


def test_a_ledger_reads_elided_and_joined_names_through_its_columns() -> None:
    """The parsers split their unit cells with split_units: a 台账 row gets the names back."""
    ledger = (
        "序号,工作任务,牵头单位,配合单位,完成时限\n"
        '1,推进第1项工作,省教育厅,"省财政厅、人社厅等和各市人民政府",2030年12月31日前\n'
        '2,推进第2项工作,"市卫健委和市医保局","市民政局，各区、县级市",2030年12月31日前\n'
    ).encode()
    tasks = parse_document("plan.csv", ledger).tasks
    assert [(task.lead_units, task.cooperating_units) for task in tasks] == [
        (["省教育厅"], ["省财政厅", "省人社厅", "各市人民政府"]),
        (["市卫健委", "市医保局"], ["市民政局", "各区、县级市"]),
    ]


# ---------------------------------------------------------------- properties

# Characters a generated name is built of: none is a separator, a level, a conjunction,
# 等, or a character a department's name ends with, so each name is complete as written
# and a 和 inside it never stands between two complete names.
_CORE = "交通运输林业水务文旅体育卫健医保统计审档案气象人防信访粮食畜牧渔农机经商外侨"
_SUFFIXES = ["局", "厅", "委", "办", "中心", "管理处", "服务中心"]
_LEVELS = ["省", "市", "区", "县", "湖南省", "长沙市", "岳麓区", "浏阳县"]
_SEPARATORS = ["、", "，", ",", "；", ";", "\ufe51", "\uff64"]

_core = st.text(alphabet=_CORE, min_size=1, max_size=5)
# 工业和信息化厅, 自然资源与规划局: a 和 / 及 / 与 inside a name, between two plain words.
_inner_conjunction = st.one_of(
    st.just(""), st.builds(lambda word, core: word + core, st.sampled_from("和及与"), _core)
)
_body = st.builds(
    lambda core, inner, suffix: core + inner + suffix,
    _core,
    _inner_conjunction,
    st.sampled_from(_SUFFIXES),
)
_name = st.builds(lambda level, body: level + body, st.sampled_from(_LEVELS), _body)
_spaces = st.sampled_from(["", " ", "  "])


@given(
    names=st.lists(_name, min_size=1, max_size=8),
    separators=st.lists(
        st.tuples(_spaces, st.sampled_from(_SEPARATORS), _spaces), min_size=7, max_size=7
    ),
)
def test_joined_names_split_back(names: list[str], separators: list[tuple[str, str, str]]) -> None:
    """Complete names joined with any separator of either width come back as they were."""
    cell = names[0]
    for name, (before, separator, after) in zip(names[1:], separators, strict=False):
        cell += before + separator + after + name
    assert split_units(cell) == names


@given(
    level=st.sampled_from(_LEVELS),
    bodies=st.lists(_body, min_size=1, max_size=6),
    separator=st.sampled_from(_SEPARATORS),
)
def test_elided_prefixes_come_back(level: str, bodies: list[str], separator: str) -> None:
    """省X厅、Y厅、Z局: every body after the first gets the first one's level back."""
    cell = level + separator.join(bodies)
    assert split_units(cell) == [level + body for body in bodies]


# How split_units writes punctuation back: full-width, one ideographic comma.
_CANONICAL = str.maketrans(
    {"(": "（", ")": "）", ",": "，", ";": "；", "\ufe51": "、", "\uff64": "、"}
)


@given(
    names=st.lists(_name, min_size=0, max_size=5),
    inner=st.lists(_name, min_size=2, max_size=3),
    separator=st.sampled_from(_SEPARATORS),
    wide=st.booleans(),
)
def test_separators_inside_parentheses_never_split(
    names: list[str], inner: list[str], separator: str, wide: bool
) -> None:
    """各县（A、B）政府 is one unit, whichever separator and parenthesis width it uses."""
    opening, closing = ("（", "）") if wide else ("(", ")")
    grouped = f"各县{opening}{separator.join(inner)}{closing}政府"
    cell = separator.join([*names, grouped])
    assert split_units(cell) == [*names, grouped.translate(_CANONICAL)]


# ---------------------------------------------------------------- the corpus


def _document_text(stem: str) -> str:
    path = next(CORPUS.glob(f"{stem}.*[!n]"))  # the document, not its labels (.json)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return text


def _labels(stem: str) -> dict[str, dict[str, object]]:
    data = json.loads((CORPUS / f"{stem}.labels.json").read_text(encoding="utf-8"))
    return {str(task["seq"]): task for task in data["tasks"]}


def _expected(task: dict[str, object], role: str) -> list[str]:
    """The labelled unit strings, as a reader that restores elided prefixes gives them."""
    lists = {"lead": ["lead_units"], "cooperating": ["cooperating_units"]}
    keys = lists.get(role, ["lead_units", "cooperating_units"])
    restored = task.get("normalized_units") or {}
    assert isinstance(restored, dict)
    units = [unit for key in keys for unit in task[key]]  # type: ignore[attr-defined]
    return [normalize_line(restored.get(unit, unit)) for unit in units]


@pytest.mark.parametrize(
    ("stem", "seq", "role", "phrase"),
    CORPUS_UNIT_PHRASES,
    ids=[f"{stem[:2]}-{seq}-{role}" for stem, seq, role, _ in CORPUS_UNIT_PHRASES],
)
def test_corpus_phrases_give_the_labelled_units(
    stem: str, seq: str, role: str, phrase: str
) -> None:
    assert phrase in _document_text(stem), "the phrase is not the document's own text"
    assert split_units(normalize_line(phrase)) == _expected(_labels(stem)[seq], role)


def test_every_labelled_unit_list_has_its_phrase() -> None:
    """The table covers each labelled lead and cooperating list of every corpus document."""
    covered = {(stem, seq, role) for stem, seq, role, _ in CORPUS_UNIT_PHRASES}
    missing = []
    for labels in sorted(CORPUS.glob("*.labels.json")):
        stem = labels.name.removesuffix(".labels.json")
        for seq, task in _labels(stem).items():
            for role, key in (("lead", "lead_units"), ("cooperating", "cooperating_units")):
                if task[key] and not {(stem, seq, role), (stem, seq, "all")} & covered:
                    missing.append((stem, seq, role))
    assert missing == []


@pytest.mark.fault
@given(
    cell=st.text(
        alphabet=st.one_of(
            st.sampled_from("市省区县各等和及与以（）()、，,；;﹑ 局厅委办部政府有关单位"),
            st.characters(codec="utf-8"),
        ),
        max_size=40,
    )
)
def test_any_cell_splits_into_clean_names(cell: str) -> None:
    """Whatever a cell holds (stray parentheses, runs of separators, a lone 等 or 和), the
    result is a list of names, none empty, none with spaces around it."""
    names = split_units(cell)
    assert all(name and name == name.strip() for name in names)
    assert all("," not in name and ";" not in name for name in names)
