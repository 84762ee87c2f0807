"""Generated ledgers (台账) of any size, for parser tests and the ingestion benchmark.

The rows cycle through the shapes real ledgers hold: aliases that resolve to one unit, a
unit list with a cooperating column, an empty cooperating cell, and deadlines written as
phrases, ISO dates and month-only dates, so a large ledger exercises every per-row path.
"""

from __future__ import annotations

import csv
from pathlib import Path

LEDGER_TITLE = "2018年政务信息化重点工作任务台账"
LEDGER_HEADER = ("序号", "工作任务", "牵头单位", "配合单位", "完成时限")

_LEADS = ("市发改委", "市大数据管理局", "市人社局", "市公安局", "市财政局", "市经信委")
_COOPERATING = ("市财政局、市审计局", "", "市政府各部门", "市编办", "市公安局、市人社局")
_DEADLINES = ("2018年6月底前", "2018-09-30", "年底前", "2018年3月15日前", "2018.11", "每年1月底前")


def ledger_rows(rows: int) -> list[tuple[str, ...]]:
    """``rows`` data rows, numbered from 1, in the ledger's column order."""
    return [
        (
            str(number),
            f"推进第{number}项政务信息系统整合共享工作，完成数据接入和共享交换。",
            _LEADS[number % len(_LEADS)],
            _COOPERATING[number % len(_COOPERATING)],
            _DEADLINES[number % len(_DEADLINES)],
        )
        for number in range(1, rows + 1)
    ]


def write_ledger_csv(path: Path, rows: int, *, encoding: str = "utf-8") -> Path:
    """Write a CSV ledger: a title row, the header row, then ``rows`` task rows."""
    with path.open("w", encoding=encoding, newline="") as file:
        writer = csv.writer(file)
        writer.writerow([LEDGER_TITLE, "", "", "", ""])
        writer.writerow(LEDGER_HEADER)
        writer.writerows(ledger_rows(rows))
    return path


# ---------------------------------------------------------------- a ledger as offices keep it

REALISTIC_TITLE = "2025年全市重点工作任务台账"
REALISTIC_HEADER = ("序号", "任务名称", "牵头单位", "配合单位", "完成时限")

_VERBS = ("推进", "加快", "完善", "深化", "实施", "健全", "开展", "落实", "建设", "优化", "强化")
_SUBJECTS = (
    "政务信息系统整合共享",
    "公共数据资源开发利用",
    "营商环境综合改革",
    "重点产业链协同创新",
    "城乡供水一体化工程",
    "老旧小区改造",
    "义务教育优质均衡发展",
    "基层医疗卫生服务能力提升",
    "农村人居环境整治",
    "安全生产专项整治三年行动",
    "“一网通办”政务服务",
    "数字乡村试点",
    "新型基础设施建设",
    "生态环境突出问题整改",
)
_CLAUSES = (
    "，完成数据接入和共享交换。",
    "，建立健全工作机制。",
    "，确保按期完成年度目标。",
    "，2025年6月底前完成方案编制。",
    "，形成一批可复制可推广的经验。",
    "。",
    "，力争年底前全面完成。",
    "，每季度报送进展情况。",
    "（含续建项目）。",
)
# Leads as cells hold them: directory names, their aliases, units the directory does not
# know (a real ledger names many), groups, and role phrases.
_REALISTIC_LEADS = (
    "市发改委",
    "市发展改革委",
    "市大数据管理局",
    "市人社局",
    "市公安局",
    "市财政局",
    "市经信委",
    "市住建委",
    "市卫计委",
    "市教育局",
    "市生态环境局",
    "市农业农村局",
    "市应急管理局",
    "市政务服务中心",
    "市自然资源和规划局",
    "市交通运输局",
    "市水务局",
    "市市场监管局",
    "市发改委、市财政局",
    "市教育局、市人社局分别牵头",
    "市住建委牵头，市财政局配合",
    "各县（市、区）政府",
    "市直有关部门",
)
_REALISTIC_COOPERATING = (
    "",
    "",
    "市财政局",
    "市财政局、市审计局",
    "市政府各部门",
    "市编办",
    "市公安局、市人社局、市财政局",
    "各县区政府",
    "市直有关单位",
    "市自然资源和规划局、市生态环境局、市住建委、市交通运输局",
    "市经信委，市大数据管理局",
    "市卫计委、市医保局",
    "各县（市、区）政府，市直有关部门按职责分工负责",
)
_REALISTIC_DEADLINES = (
    "2025年12月底前",
    "2025年12月",
    "2025年6月底前",
    "2025-09-30",
    "2025/3/31",
    "2025.11",
    "年底前",
    "6月底前",
    "2025年3月15日前",
    "2025年上半年",
    "2025年第三季度",
    "持续推进",
    "长期坚持",
    "每季度",
    "每年1月底前",
    "每月25日前",
    "2025年6月底前完成方案，12月底前全面完成",
    "2025年7月1日起实施",
    "2026年6月30日",
    "",
)


def realistic_ledger_rows(rows: int, *, seed: int = 11) -> list[tuple[str, ...]]:
    """``rows`` task rows in :data:`REALISTIC_HEADER` order, drawn (reproducibly) from the
    variety real ledgers hold: every text its own, leads as aliases, unknown units, groups,
    分别牵头 and role phrases, cooperating lists of none to four units, deadlines as
    phrases, dates in three spellings, months, quarters, recurrences, "持续推进" and blanks."""
    import random

    draw = random.Random(seed)  # noqa: S311 - reproducible test data, no secret
    return [
        (
            str(number),
            f"{draw.choice(_VERBS)}{draw.choice(_SUBJECTS)}第{number}项工作{draw.choice(_CLAUSES)}",
            draw.choice(_REALISTIC_LEADS),
            draw.choice(_REALISTIC_COOPERATING),
            draw.choice(_REALISTIC_DEADLINES),
        )
        for number in range(1, rows + 1)
    ]


def realistic_ledger_csv(rows: int, *, seed: int = 11) -> bytes:
    """A CSV ledger of :func:`realistic_ledger_rows` under a title row and the header row."""
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([REALISTIC_TITLE, "", "", "", ""])
    writer.writerow(REALISTIC_HEADER)
    writer.writerows(realistic_ledger_rows(rows, seed=seed))
    return buffer.getvalue().encode("utf-8")
