"""One structlog pipeline for every process: JSON in services, readable lines on a terminal.

Context travels through ``structlog.contextvars`` (request id, unit, task id, bound where they
are known) and, inside a Temporal activity, the workflow id, activity type and attempt are
added to every line. Standard-library loggers (temporalio's, asyncpg's, uvicorn's) are
rendered through the same pipeline, so an operator greps one format.

No secret reaches a line: tracebacks carry no frame locals, every DSN's password, token
secret and ``password=`` value is replaced by ``[redacted]``, and so is every secret the
settings hold (:meth:`Settings.secret_values`). A record is at most ``MAX_RECORD_BYTES``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger
from temporalio import activity

from runtime.settings import LogFormat


def add_temporal_activity_context(
    _logger: WrappedLogger, _method: str, event_dict: EventDict
) -> EventDict:
    """Bind the running activity's workflow id, type and attempt, so a retry is visible."""
    if activity.in_activity():
        info = activity.info()
        event_dict.setdefault("workflow_id", info.workflow_id)
        event_dict.setdefault("activity_type", info.activity_type)
        event_dict.setdefault("attempt", info.attempt)
    return event_dict


def drop_color_message(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """uvicorn attaches an ANSI-coloured copy of each message; the event already says it."""
    event_dict.pop("color_message", None)
    return event_dict


# An API token's secret (store/tokens.py): whatever logs it, only its id is kept.
_TOKEN_SECRET = re.compile(r"dbn_([a-z0-9]{10})_[A-Za-z0-9_-]+")
# The password of any URL with user info (postgresql://user:password@host/…), configured
# or not: the user and the host stay, so the line still says where it tried to go.
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@\"']*:)[^\s@/?#\"']+@")
# key=value DSNs (libpq "password=…") and query parameters (?password=…, &api_key=…).
_KEYWORD_SECRET = re.compile(
    r"(?i)\b(password|passwd|pwd|api_key|apikey|access_token|secret)(\s*=\s*)"
    r"(?:'[^']*'|\"[^\"]*\"|[^\s&;,'\"]+)"
)
REDACTED = "[redacted]"
# What one log record may take, traceback included: an outage that fails every activity
# must not write megabytes a second. A longer record is cut and says so ("truncated").
MAX_RECORD_BYTES = 8 * 1024
# A traceback keeps its outermost and innermost frames; the middle of a deep one says little.
_MAX_FRAMES = 20

# The configured secrets themselves (a Temporal API key, a webhook URL's path, a DSN's
# password), for values that have no shape a pattern could recognise. Longest first, so a
# secret that contains another is taken out whole.
_configured_secrets: tuple[str, ...] = ()


def register_secrets(values: Iterable[str]) -> None:
    """Take these values out of every log line from now on (with their JSON-escaped
    forms, since a rendered line escapes quotes and backslashes)."""
    global _configured_secrets
    forms = set()
    for value in values:
        if len(value) >= 4:  # shorter would take ordinary words out of every line
            forms.add(value)
            forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    _configured_secrets = tuple(sorted(forms, key=len, reverse=True))


def redact_text(text: str) -> str:
    """``text`` without token secrets, URL and keyword passwords, or configured secrets."""
    for secret in _configured_secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "dbn_" in text:
        text = _TOKEN_SECRET.sub(r"dbn_\1_" + REDACTED, text)
    if "://" in text:
        text = _URL_PASSWORD.sub(r"\1" + REDACTED + "@", text)
    if "=" in text:
        text = _KEYWORD_SECRET.sub(r"\1\2" + REDACTED, text)
    return text


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    if isinstance(value, BaseException):  # an exception passed as a field, not exc_info
        return redact_text(repr(value))
    return value


# A field whose name says it is a secret is redacted whatever its value looks like.
_SECRET_KEY = re.compile(r"(?i)(?:^|_)(?:password|passwd|secret|api_key|apikey|authorization)$")


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The one place secrets are taken out of log lines, tracebacks included."""
    return {
        key: REDACTED if _SECRET_KEY.search(key) and value else _redacted(value)
        for key, value in event_dict.items()
    }


def _cut(text: str, max_bytes: int) -> str:
    """``text`` in at most ``max_bytes`` of UTF-8, marked where it was cut."""
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    kept = encoded[: max(max_bytes - 48, 0)].decode(errors="ignore")
    return f"{kept}… [truncated {len(text) - len(kept)} characters]"


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str).encode())


def _trimmed_exception(value: Any) -> Any:
    """A traceback as data, shortened: each message to 1 KB, each stack to its two outer
    and four inner frames, a chain to four exceptions."""
    if not isinstance(value, list):
        return value
    stacks: list[Any] = []
    for stack in value[:4]:
        if isinstance(stack, dict):
            stack = dict(stack)
            if isinstance(stack.get("exc_value"), str):
                stack["exc_value"] = _cut(stack["exc_value"], 1024)
            frames = stack.get("frames")
            if isinstance(frames, list) and len(frames) > 6:
                stack["frames"] = [*frames[:2], {"omitted_frames": len(frames) - 6}, *frames[-4:]]
        stacks.append(stack)
    return stacks


# What a record keeps whole when it has to be cut: what happened, when, where.
_CORE_FIELDS = frozenset({"event", "level", "logger", "timestamp", "truncated"})
_FIELD_BYTES = 2 * 1024


def bound_json_record(line: str) -> str:
    """A rendered JSON record cut to MAX_RECORD_BYTES, still one JSON object, so a log
    pipeline parses it: the traceback is shortened first, then every long field is cut to
    2 KB, then whatever is still largest; ``"truncated": true`` says so."""
    if len(line.encode()) <= MAX_RECORD_BYTES:
        return line
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        return json.dumps({"event": _cut(line, MAX_RECORD_BYTES // 2), "truncated": True})
    record["truncated"] = True
    if "exception" in record:
        record["exception"] = _trimmed_exception(record["exception"])
    for key in list(record):
        if _size(record) <= MAX_RECORD_BYTES:
            break
        if key not in _CORE_FIELDS and _size(record[key]) > _FIELD_BYTES:
            record[key] = _cut(_as_text(record[key]), _FIELD_BYTES)
    for key in sorted(record, key=lambda name: _size(record[name]), reverse=True):
        excess = _size(record) - MAX_RECORD_BYTES
        if excess <= 0:
            break
        text = _as_text(record[key])
        record[key] = _cut(text, max(len(text.encode()) - excess - 64, 0))
    return json.dumps(record, ensure_ascii=False, default=str)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


class _SafeFormatter(structlog.stdlib.ProcessorFormatter):
    """The pipeline's formatter, with a last pass over the rendered line: configured secrets
    out (in the form the renderer escaped them to) and the record bounded in size."""

    def __init__(self, *args: Any, as_json: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        line = redact_text(super().format(record))
        if self._as_json:
            return bound_json_record(line)
        return _cut(line, MAX_RECORD_BYTES)


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_temporal_activity_context,
        drop_color_message,
    ]


def resolve_log_format(log_format: LogFormat) -> LogFormat:
    """AUTO becomes console on a terminal and JSON anywhere else."""
    if log_format is LogFormat.AUTO:
        return LogFormat.CONSOLE if sys.stderr.isatty() else LogFormat.JSON
    return log_format


def _renderer(log_format: LogFormat) -> Processor:
    if resolve_log_format(log_format) is LogFormat.CONSOLE:
        # Locals off: a frame's locals hold request headers, DSNs and activity inputs.
        return structlog.dev.ConsoleRenderer(
            exception_formatter=structlog.dev.RichTracebackFormatter(
                show_locals=False, max_frames=_MAX_FRAMES
            )
        )
    return structlog.processors.JSONRenderer(ensure_ascii=False)


_configured_format = LogFormat.JSON


def current_log_format() -> LogFormat:
    """The format configure_logging settled on (never AUTO), for child processes to share."""
    return _configured_format


def configure_logging(
    log_format: LogFormat = LogFormat.AUTO, level: str = "INFO", secrets: Iterable[str] = ()
) -> None:
    """Route structlog and the standard library through one renderer on stderr, with
    ``secrets`` (the settings' secret values) taken out of every line."""
    global _configured_format
    _configured_format = resolve_log_format(log_format)
    register_secrets(secrets)
    shared = _shared_processors()
    tracebacks: list[Processor] = []
    renderer = _renderer(log_format)
    if isinstance(renderer, structlog.processors.JSONRenderer):
        # Tracebacks as data, without each frame's locals (headers, DSNs, inputs).
        tracebacks = [
            structlog.processors.ExceptionRenderer(
                ExceptionDictTransformer(show_locals=False, max_frames=_MAX_FRAMES)
            )
        ]

    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = _SafeFormatter(
        as_json=_configured_format is LogFormat.JSON,
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *tracebacks,
            redact_secrets,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Per-request lines from our own HTTP client (readiness polling) are noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # uvicorn installs its own handlers; send its records through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True


def get_logger(name: str, **context: Any) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger.bind(**context) if context else logger
