"""Connections to PostgreSQL: one pool per process, errors that name the setting at fault."""

from __future__ import annotations

from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from runtime.errors import ConfigurationError
from runtime.settings import Settings

# A plain connection or one borrowed from a pool: queries read the same on both.
Connection = asyncpg.Connection | PoolConnectionProxy


def describe_dsn(dsn: str) -> str:
    """host:port/database of a DSN, never its password, for messages and logs."""
    parts = urlsplit(dsn)
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    return f"{host}:{port}{parts.path or '/'}"


def _setting_name(settings: Settings | None) -> str:
    if settings is None or not settings.uses_embedded_postgres:
        return "DUBAN_DATABASE_URL"
    return "embedded PostgreSQL; is `duban dev` running?"


async def create_pool(
    dsn: str,
    *,
    settings: Settings | None = None,
    min_size: int = 1,
    max_size: int = 10,
    connect_timeout: float = 10.0,
    setting_name: str | None = None,
) -> asyncpg.Pool:
    """A pool on ``dsn``, or a one-line ConfigurationError naming the setting and address.

    Query parameters of the DSN that asyncpg does not know become server settings, so
    ``?search_path=some_schema`` confines a process to one schema (the tests do this).
    """
    try:
        pool: asyncpg.Pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=connect_timeout,
            server_settings={"application_name": "duban"},
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigurationError(
            f"cannot connect to PostgreSQL at {describe_dsn(dsn)} "
            f"({setting_name or _setting_name(settings)}): "
            f"{reason}"
        ) from None
    return pool


async def database_answers(pool: asyncpg.Pool) -> bool:
    """True when the database runs a trivial query; used by readiness probes."""
    try:
        async with pool.acquire(timeout=2) as connection:
            return bool(await connection.fetchval("SELECT 1", timeout=2))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
