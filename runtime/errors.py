"""Errors meant for a person: each carries one line that says what is wrong and where."""

from __future__ import annotations


class DubanError(Exception):
    """A failure the user can act on; entry points print its message as one line, no traceback."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(DubanError):
    """A setting is missing, malformed or points somewhere that does not answer."""


class PortInUseError(DubanError):
    """A port Duban must listen on is already taken by another process."""


class ServiceStartError(DubanError):
    """An embedded service (PostgreSQL, Temporal, the API) failed to start."""
