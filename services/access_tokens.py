"""Issuing and revoking API tokens: the rules ``duban token`` and the admin API share.

A unit token names a unit the directory (or an imported plan) knows, under its canonical
name, so an alias never becomes a second identity. A coordinator token covers the plans it
names, or every plan. Expiry is mandatory and bounded.
"""

from __future__ import annotations

import re
from datetime import timedelta

from domain.access import Role
from domain.lifecycle import CONTROL_CHARACTERS
from runtime.errors import DubanError
from services.units import resolve_unit
from store import tokens
from store.db import Connection

DEFAULT_EXPIRY = timedelta(days=90)
MAX_EXPIRY = timedelta(days=3650)
_EXPIRY = re.compile(r"^(?P<count>\d{1,5})(?P<unit>[hdw])$")
_PLAN_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")
_UNIT_SPANS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


class TokenRequestError(DubanError):
    exit_code = 2


def parse_expiry(text: str) -> timedelta:
    """``90d``, ``12h`` or ``2w``; at least an hour, at most ten years."""
    match = _EXPIRY.fullmatch(text.strip())
    if match is None:
        raise TokenRequestError(f"--expires {text!r}: expected hours, days or weeks, e.g. 90d")
    span = int(match["count"]) * _UNIT_SPANS[match["unit"]]
    if not timedelta(hours=1) <= span <= MAX_EXPIRY:
        raise TokenRequestError(f"--expires {text!r}: between 1h and {MAX_EXPIRY.days}d")
    return span


async def issue(
    connection: Connection,
    *,
    role: Role,
    expires_in: timedelta = DEFAULT_EXPIRY,
    unit: str | None = None,
    plans: tuple[str, ...] | None = None,
    name: str | None = None,
) -> tokens.IssuedToken:
    unit = (unit or "").strip() or None
    if role == "unit":
        if not unit:
            raise TokenRequestError("a unit token needs --unit (the unit it acts for)")
        unit = await resolve_unit(connection, unit)
    elif unit:
        raise TokenRequestError(f"--unit is only for unit tokens, not {role} tokens")
    if plans is not None and role != "coordinator":
        raise TokenRequestError("--plan is only for coordinator tokens")
    if plans is not None:
        # An empty list must not widen to every plan: only leaving --plan out does that.
        plans = tuple(dict.fromkeys(plan.strip() for plan in plans))
        if not plans or any(not _PLAN_ID.fullmatch(plan) for plan in plans):
            raise TokenRequestError(
                "--plan needs plan ids (1 to 100 letters, digits, '.', '_' or '-'); "
                "leave --plan out for a coordinator of every plan"
            )
    if not timedelta(hours=1) <= expires_in <= MAX_EXPIRY:
        raise TokenRequestError(f"a token expires between 1 hour and {MAX_EXPIRY.days} days")
    label = (name or unit or role).strip()
    if not label or len(label) > 200 or CONTROL_CHARACTERS.search(label):
        raise TokenRequestError("a token name is 1 to 200 printable characters")
    return await tokens.issue_token(
        connection, role=role, name=label, expires_in=expires_in, unit=unit, plans=plans
    )
