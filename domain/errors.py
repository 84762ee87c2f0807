"""The one error a document can cause: located, and phrased for the coordinator."""

from __future__ import annotations


class DocumentError(ValueError):
    """A document Duban cannot read as a plan: says which file, which line, what was expected.

    Raised by decoding, format detection and every parser; the command line prints
    ``str(error)`` as one line and exits non-zero, and nothing is written anywhere.
    """

    def __init__(
        self, file: str, line: int | None, message: str, *, column: int | None = None
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        location = f"{file}:{line}" if line is not None else file
        if line is not None and column is not None:
            location += f":{column}"
        super().__init__(f"{location}: {message}")
