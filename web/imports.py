"""(placeholder: filled in by the imports part of issue #12)"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
