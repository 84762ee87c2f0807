"""Every setting Duban reads, from environment variables prefixed ``DUBAN_``.

Unset means embedded: with no Temporal address or database URL, the processes talk to the
one-machine stack that ``duban dev`` starts under the state directory. Build the settings in
entry points through :func:`get_settings`, never at import time, so tests and commands can
change the environment first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import Field, PostgresDsn, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from runtime.payload_codec import PayloadKey


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
    # TLS is on whenever any of the TLS settings or an API key is set; this turns it on
    # with nothing else (system roots), never off.
    temporal_tls: bool = False
    temporal_tls_ca_cert: Path | None = None
    temporal_tls_client_cert: Path | None = None
    temporal_tls_client_key: Path | None = None
    temporal_tls_server_name: str | None = Field(
        default=None, description="name the frontend's certificate is checked against"
    )
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

    # "id:base64key,..." (first encrypts, all decrypt); unset means payloads in clear.
    payload_keys: SecretStr | None = None
    codec_cors_origins: str = Field(
        default="",
        description="comma-separated origins (the Temporal UI's) allowed to call /codec",
    )

    database_url: PostgresDsn | None = Field(
        default=None,
        description="PostgreSQL DSN; unset means the embedded server under the state directory.",
    )

    migration_database_url: PostgresDsn | None = Field(
        default=None,
        description="`duban migrate` only: the role that owns the schema; DUBAN_DATABASE_URL's "
        "role is then granted DML only",
    )

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_rate_limit: str = Field(
        default="600/minute", description="requests per token and API process, e.g. 20/second"
    )
    api_max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=MAX_UPLOAD_SETTING)
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        description="the board's address as its users reach it (login links point there); "
        "default http://DUBAN_API_HOST:DUBAN_API_PORT. An https address makes the session "
        "cookie Secure",
    )
    web_session_hours: float = Field(
        default=12, gt=0, le=24 * 30, description="how long a board sign-in lasts"
    )

    worker_health_host: str = "127.0.0.1"
    worker_health_port: int = Field(default=8001, ge=0, le=65535, description="0 disables it.")
    worker_max_cached_workflows: int = Field(default=1000, ge=0)
    worker_shutdown_grace_seconds: float = Field(default=30.0, ge=0)

    notify_channels: str = Field(default="log", description="comma-separated: log, webhook")
    notify_webhook_url: str | None = None

    migrate_lock_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how long a migration waits for a table lock before it gives up",
    )
    migrate_statement_timeout_seconds: float = Field(
        default=300.0, ge=0, description="longest one migration statement may run; 0: no limit"
    )

    state_dir: Path = Path(".duban")

    dev_load_examples: bool = Field(
        default=True, description="duban dev imports the example plans once it is up."
    )
    dev_demo: bool = Field(
        default=True,
        description="duban dev re-dates the example plans to today and plays part of them "
        "forward (some done, some in progress, a few overdue); false imports them as written.",
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

    @field_validator("payload_keys")
    @classmethod
    def _payload_keys(cls, value: SecretStr | None) -> SecretStr | None:
        from runtime.payload_codec import parse_payload_keys

        if value is not None:
            parse_payload_keys(value.get_secret_value())  # a ValueError names the key id
        return value

    @field_validator("codec_cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in filter(None, (part.strip() for part in value.split(","))):
            if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
                raise ValueError(f"{origin!r}: expected an origin such as https://temporal-ui:8080")
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

    def secret_values(self) -> list[str]:
        """Every secret these settings hold, as it could appear in a message: the database
        password (as written and decoded), the Temporal API key, the webhook URL's path and
        query (they often carry a token), and any other field named like a secret."""
        values: list[str] = []
        for dsn in (self.database_url, self.migration_database_url):
            for host in dsn.hosts() if dsn is not None else []:
                password = host.get("password")
                if password:
                    values += [password, unquote(password)]
        if self.payload_keys is not None:
            # Each key on its own too: a message may quote one key of the list.
            for item in self.payload_keys.get_secret_value().split(","):
                values.append(item.partition(":")[2].strip())
        if self.notify_webhook_url:
            # Its path and query: the host stays readable, so a line still says where.
            parts = urlsplit(self.notify_webhook_url)
            values.append(urlunsplit(("", "", parts.path, parts.query, parts.fragment)))
        for name in type(self).model_fields:
            if _SECRET_FIELD.search(name):
                value = getattr(self, name)
                if isinstance(value, SecretStr):
                    value = value.get_secret_value()
                if isinstance(value, str) and value:
                    values.append(value)
        return [value for value in values if value and value != "/"]

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """A repr (and str) that can be logged: secrets replaced, the rest as it is."""
        for name, value in super().__repr_args__():
            if name in ("database_url", "migration_database_url") and value is not None:
                yield name, _without_password(str(value))
            elif name == "notify_webhook_url" and value:
                parts = urlsplit(str(value))
                yield name, f"{parts.scheme}://{parts.netloc}/[redacted]"
            elif name is not None and _SECRET_FIELD.search(name) and isinstance(value, str):
                yield name, "[redacted]"
            else:
                yield name, value

    @property
    def payload_key_list(self) -> list[PayloadKey]:
        from runtime.payload_codec import parse_payload_keys

        if self.payload_keys is None:
            return []
        return parse_payload_keys(self.payload_keys.get_secret_value())

    @property
    def codec_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.codec_cors_origins.split(",") if o.strip()]

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
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

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


# Settings whose value is a secret by name: an API key, a codec key, a token, a password.
_SECRET_FIELD = re.compile(r"(?:^|_)(?:key|keys|token|secret|password)(?:$|_)")


def _without_password(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":[redacted]@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


EMBEDDED_POSTGRES_USER = "postgres"
EMBEDDED_POSTGRES_DATABASE = "duban"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
