"""An uploaded plan document read the one way both the API and the board read it: its name
made safe, parsed by ``duban parse``'s readers off the event loop, under the plan id asked.

``POST /api/v1/plans/preview`` and ``POST /api/v1/plans`` (api/plans.py) and the board's
import page (web/imports.py) go through these, then through
:func:`services.plan_import.import_plan`, so a document previews and imports alike
wherever it is uploaded.
"""

from __future__ import annotations

import asyncio
import re

from domain.parsers import parse_document
from domain.plan import ParsedPlan

# What a plan id asked for at upload may look like (the default comes from the file name).
PLAN_ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
PLAN_ID_MAX_LENGTH = 100

# The file name becomes the default plan id and the provenance: no paths, no control bytes.
_SAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def upload_file_name(name: str | None) -> str:
    return _SAFE_NAME.sub("_", name or "upload.txt")[-200:]


async def parse_upload(file_name: str, data: bytes) -> ParsedPlan:
    """The parsed document, or DocumentError saying in one line why it cannot be read."""
    # Parsing is CPU work: keep the event loop serving other requests meanwhile.
    return await asyncio.to_thread(parse_document, file_name, data)


def with_plan_id(parsed: ParsedPlan, plan_id: str | None) -> ParsedPlan:
    """The parsed plan under the plan id the coordinator asked for (None: as parsed)."""
    if not plan_id:
        return parsed
    plan = parsed.plan.model_copy(update={"id": plan_id})
    return parsed.model_copy(update={"plan": plan})
