"""No secret in a log line and no log line without a bound, whatever the exception says.

The services' own formatter renders into a buffer, so what is asserted is what an operator
would read.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from runtime.log import MAX_RECORD_BYTES, configure_logging, redact_text
from runtime.settings import LogFormat, Settings

PASSWORD = "Hyg1ene-Pa55word"  # noqa: S105 (a test value, searched for in the logs)
DSN = f"postgresql://duban_app:{PASSWORD}@db.internal:5432/duban?sslmode=verify-full"
API_KEY = "tmprl-api-key-0123456789abcdef"
WEBHOOK = "https://hooks.example.org/services/T0001/B0002/webhooksecretpath42"


@pytest.fixture
def rendered(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """Everything the root logger renders, with the secrets of ``Settings`` registered."""
    settings: Settings = getattr(request, "param", Settings())
    configure_logging(LogFormat.JSON, "INFO", secrets=settings.secret_values())
    buffer = io.StringIO()
    root = logging.getLogger()
    copy = logging.StreamHandler(buffer)
    copy.setFormatter(root.handlers[0].formatter)
    root.addHandler(copy)
    try:
        yield buffer
    finally:
        root.removeHandler(copy)
        configure_logging(LogFormat.JSON, "INFO")  # the session's pipeline again


def _records(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def _fail_connecting(dsn: str) -> None:
    try:
        raise OSError(f"could not connect to {dsn}: connection refused")
    except OSError as cause:
        raise RuntimeError(f"pool for {dsn!r} gave up") from cause


def test_a_dsn_password_in_nested_exception_text_is_redacted(rendered: io.StringIO) -> None:
    """Any DSN (configured or not) in an exception, its cause, the event or a field keeps
    its user and host and loses its password."""
    log = structlog.stdlib.get_logger("test.hygiene")
    try:
        _fail_connecting(DSN)
    except RuntimeError:
        log.exception("recording failed", dsn=DSN, nested={"urls": [DSN, f"password={PASSWORD}"]})
    logging.getLogger("test.stdlib").warning("retrying %s", DSN)
    text = rendered.getvalue()
    assert "RuntimeError" in text  # the traceback was logged
    assert "OSError" in text  # and its cause
    assert PASSWORD not in text
    assert "duban_app:[redacted]@db.internal" in text
    assert len(_records(rendered)) == 2


@pytest.mark.parametrize(
    "rendered",
    [
        Settings(
            database_url=DSN,
            temporal_api_key=API_KEY,
            notify_webhook_url=WEBHOOK,
        )
    ],
    indirect=True,
)
def test_configured_secrets_are_redacted_wherever_they_appear(rendered: io.StringIO) -> None:
    """A Temporal API key or a webhook URL has no shape to recognise: the configured values
    themselves are taken out, in the event, fields and exception text."""
    log = structlog.stdlib.get_logger("test.hygiene")
    unshaped = "no-shape-at-all"
    log.warning("delivery failed", url=WEBHOOK, key=API_KEY, password=unshaped)
    try:
        raise ValueError(f"HTTP 404 for url '{WEBHOOK}' (api key {API_KEY}, {PASSWORD})")
    except ValueError:
        logging.getLogger("test.stdlib").exception("webhook %s down", WEBHOOK)
    text = rendered.getvalue()
    for secret in (API_KEY, "webhooksecretpath42", "/services/T0001", PASSWORD, "no-shape"):
        assert secret not in text
    assert "hooks.example.org" in text  # where it went is still said


def test_a_huge_error_is_one_bounded_record_marked_truncated(rendered: io.StringIO) -> None:
    """A 200 KB exception message behind a deep traceback stays one JSON record of at most
    MAX_RECORD_BYTES, that says it was cut."""

    def deep(n: int) -> None:
        if n == 0:
            raise RuntimeError("行" * 70_000)
        deep(n - 1)

    log = structlog.stdlib.get_logger("test.hygiene")
    try:
        deep(200)
    except RuntimeError:
        log.exception("activity failed", task_text="任务" * 10_000)
    lines = [line for line in rendered.getvalue().splitlines() if line.strip()]
    assert len(lines) == 1
    assert len(lines[0].encode()) <= MAX_RECORD_BYTES
    record = json.loads(lines[0])
    assert record["truncated"] is True
    assert record["event"] == "activity failed"
    assert "RuntimeError" in json.dumps(record, ensure_ascii=False)


def test_settings_repr_shows_no_secret() -> None:
    settings = Settings(
        database_url=DSN,
        temporal_api_key=API_KEY,
        notify_webhook_url=WEBHOOK,
    )
    shown = repr(settings) + str(settings)
    for secret in (PASSWORD, API_KEY, "webhooksecretpath42"):
        assert secret not in shown
    assert "db.internal" in shown


def test_redact_text_keeps_what_is_not_secret() -> None:
    assert redact_text("postgresql://postgres@127.0.0.1:5433/duban") == (
        "postgresql://postgres@127.0.0.1:5433/duban"
    )
    assert redact_text(f"host=db user=app password={PASSWORD} dbname=duban") == (
        "host=db user=app password=[redacted] dbname=duban"
    )
    assert PASSWORD not in redact_text(f"postgres://app:{PASSWORD}@db/duban")
