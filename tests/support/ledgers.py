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
