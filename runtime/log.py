"""One structlog pipeline for every process: JSON in services, readable lines on a terminal.

Context travels through ``structlog.contextvars`` (request id, unit, task id, bound where they
are known) and, inside a Temporal activity, the workflow id, activity type and attempt are
added to every line. Standard-library loggers (temporalio's, asyncpg's, uvicorn's) are
rendered through the same pipeline, so an operator greps one format.
"""

from __future__ import annotations

import logging
import re
import sys
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


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return _TOKEN_SECRET.sub(r"dbn_\1_[redacted]", value) if "dbn_" in value else value
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The one place secrets are taken out of log lines, tracebacks included."""
    return {key: _redacted(value) for key, value in event_dict.items()}


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
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False)
        )
    return structlog.processors.JSONRenderer(ensure_ascii=False)


_configured_format = LogFormat.JSON


def current_log_format() -> LogFormat:
    """The format configure_logging settled on (never AUTO), for child processes to share."""
    return _configured_format


def configure_logging(log_format: LogFormat = LogFormat.AUTO, level: str = "INFO") -> None:
    """Route structlog and the standard library through one renderer on stderr."""
    global _configured_format
    _configured_format = resolve_log_format(log_format)
    shared = _shared_processors()
    tracebacks: list[Processor] = []
    renderer = _renderer(log_format)
    if isinstance(renderer, structlog.processors.JSONRenderer):
        # Tracebacks as data, without each frame's locals (headers, DSNs, inputs).
        tracebacks = [
            structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
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
    formatter = structlog.stdlib.ProcessorFormatter(
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
