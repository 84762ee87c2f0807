"""Every setting Duban reads, from environment variables prefixed ``DUBAN_``.

Unset means embedded: with no Temporal address or database URL, the processes talk to the
one-machine stack that ``duban dev`` starts under the state directory. Build the settings in
entry points through :func:`get_settings`, never at import time, so tests and commands can
change the environment first.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, PostgresDsn, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogFormat(StrEnum):
    AUTO = "auto"  # console on a terminal, JSON otherwise
    JSON = "json"
    CONSOLE = "console"


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


MAX_UPLOAD_SETTING = 50 * 1024 * 1024  # the largest DUBAN_API_MAX_UPLOAD_BYTES allowed


class Settings(BaseSettings):
    # An empty variable counts as unset, so a blank secret in a manifest means "not used".
    model_config = SettingsConfigDict(
        env_prefix="DUBAN_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    temporal_address: str | None = Field(
        default=None,
        description="Temporal frontend host:port; unset means the embedded dev server.",
    )
    temporal_namespace: str = "default"
    temporal_task_queue: str = "duban"
    temporal_tls: bool = False
    temporal_tls_ca_cert: Path | None = None
    temporal_tls_client_cert: Path | None = None
    temporal_tls_client_key: Path | None = None
    temporal_api_key: SecretStr | None = None
    temporal_update_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="How long a caller waits for a worker to apply an update (an action, a "
        "revision, a withdrawal) before it says no worker runs.",
    )

    import_give_up_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long an import waits on a Temporal that stopped answering before it "
        "stops in one line; the rows are kept and the same import run again finishes it.",
    )

    database_url: PostgresDsn | None = Field(
        default=None,
        description="PostgreSQL DSN; unset means the embedded server under the state directory.",
    )

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_rate_limit: str = Field(
        default="600/minute", description="requests per token and API process, e.g. 20/second"
    )
    api_max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=MAX_UPLOAD_SETTING)

    worker_health_host: str = "127.0.0.1"
    worker_health_port: int = Field(default=8001, ge=0, le=65535, description="0 disables it.")
    worker_max_cached_workflows: int = Field(default=1000, ge=0)
    worker_shutdown_grace_seconds: float = Field(default=30.0, ge=0)

    notify_channels: str = Field(default="log", description="comma-separated: log, webhook")
    notify_webhook_url: str | None = None

    state_dir: Path = Path(".duban")

    dev_load_examples: bool = Field(
        default=True, description="duban dev imports the example plans once it is up."
    )

    embedded_temporal_port: int = Field(default=7233, ge=1, le=65535)
    embedded_temporal_ui_port: int = Field(default=8233, ge=1, le=65535)
    embedded_postgres_port: int = Field(default=5433, ge=1, le=65535)

    log_format: LogFormat = LogFormat.AUTO
    log_level: LogLevel = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("temporal_address")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+:\d{1,5}", value):
            raise ValueError("expected host:port, e.g. temporal.internal:7233")
        return value

    @field_validator("api_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse  # only this setting needs it

        try:
            parse(value)
        except ValueError:
            raise ValueError("expected a rate such as 600/minute or 20/second") from None
        return value

    @field_validator("notify_channels")
    @classmethod
    def _known_channels(cls, value: str) -> str:
        unknown = {name.strip() for name in value.split(",")} - {"log", "webhook", ""}
        if unknown:
            raise ValueError(f"unknown channel {', '.join(sorted(unknown))}; use log, webhook")
        return value

    @property
    def channel_names(self) -> list[str]:
        return [name.strip() for name in self.notify_channels.split(",") if name.strip()]

    @property
    def uses_embedded_temporal(self) -> bool:
        return self.temporal_address is None

    @property
    def uses_embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.embedded_temporal_port}"

    @property
    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return str(self.database_url)
        return (
            f"postgresql://{EMBEDDED_POSTGRES_USER}@127.0.0.1:"
            f"{self.embedded_postgres_port}/{EMBEDDED_POSTGRES_DATABASE}"
        )

    @property
    def state_path(self) -> Path:
        return self.state_dir.expanduser().resolve()


EMBEDDED_POSTGRES_USER = "postgres"
EMBEDDED_POSTGRES_DATABASE = "duban"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
