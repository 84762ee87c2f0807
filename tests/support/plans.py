"""Plan documents made in tests: small ledgers whose deadlines lie in the future."""

from __future__ import annotations

import uuid
from pathlib import Path

EXAMPLE_PLANS = Path(__file__).resolve().parents[2] / "examples" / "plans"


def future_ledger(year: int = 2030, *, rows: int = 3) -> bytes:
    """A CSV ledger (台账) of ``rows`` tasks due in ``year``: a lead and cooperating units."""
    units = [
        ("市数据资源局", "市公安局、市市场监管局"),
        ("市政务服务中心", "市数据资源局"),
        ("市信息办", ""),
    ]
    lines = ["序号,工作任务,牵头单位,配合单位,完成时限"]
    for seq in range(1, rows + 1):
        lead, cooperating = units[(seq - 1) % len(units)]
        lines.append(f"{seq},推进第{seq}项政务信息化工作,{lead},{cooperating},{year}年12月31日前")
    return ("\n".join(lines) + "\n").encode()


def unique_name(file_name: str) -> str:
    """The file name with a random tag, so the plan id (from the file name) is new: the dev
    server is shared by the whole session, and a plan id another test used has workflows
    there already."""
    stem, dot, suffix = file_name.rpartition(".")
    return f"{stem}-{uuid.uuid4().hex[:8]}{dot}{suffix}"
