"""One entry point for every plan format: read bytes, detect the format, parse.

Formats are detected by content, not by file name alone: each parser scores the document
and the most certain one reads it. Adding a format means adding a module with a ``PARSER``
and listing it in ``_PARSERS``.
"""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

from domain.errors import DocumentError
from domain.parsers.common import Parser, SourceDocument
from domain.plan import ParsedPlan
from domain.text import MAX_DOCUMENT_BYTES, decode_document
from domain.units import UnitDirectory, load_directory


def _parsers() -> list[Parser]:
    from domain.parsers import (
        attachment_task_list,
        docx_table,
        flattened_table,
        inline_units,
        ledger,
        pipe_table,
        staged_boxes,
    )

    return [
        attachment_task_list.PARSER,
        docx_table.PARSER,
        flattened_table.PARSER,
        inline_units.PARSER,
        ledger.PARSER,
        pipe_table.PARSER,
        staged_boxes.PARSER,
    ]


def read_document(file: str, data: bytes) -> SourceDocument:
    """Bytes as a SourceDocument: office files stay binary, anything else must be text."""
    if len(data) > MAX_DOCUMENT_BYTES:
        decode_document(data, file)  # raises the size error with its message
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(BytesIO(data)) as archive:
                archive.namelist()
        except zipfile.BadZipFile:
            raise DocumentError(file, None, "a damaged ZIP (XLSX/DOCX) file") from None
        return SourceDocument(file=file, data=data)
    return SourceDocument.from_text(file, decode_document(data, file), data)


def detect_parser(document: SourceDocument) -> Parser:
    scored = sorted(
        ((parser.score(document), parser) for parser in _parsers()),
        key=lambda pair: pair[0],
        reverse=True,
    )
    best_score, best = scored[0]
    if best_score <= 0:
        formats = ", ".join(sorted(parser.format for parser in _parsers()))
        raise DocumentError(
            document.file,
            None,
            f"no task table or task list recognised; expected one of these formats: {formats}",
        )
    return best


def parse_document(file: str, data: bytes, directory: UnitDirectory | None = None) -> ParsedPlan:
    """Parse a plan document of any supported format, or raise a located DocumentError."""
    document = read_document(file, data)
    parser = detect_parser(document)
    parsed = parser.parse(document, directory or load_directory())
    if not parsed.tasks:
        raise DocumentError(file, None, f"read as {parser.format}, but it holds no task")
    return parsed


def parse_file(path: Path, directory: UnitDirectory | None = None) -> ParsedPlan:
    """Parse the file at ``path``; its name (not its full path) is the provenance file."""
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentError(
                path.name,
                None,
                f"the file is {size / 1024 / 1024:.0f} MB; plan documents are at most "
                f"{MAX_DOCUMENT_BYTES // 1024 // 1024} MB",
            )
        data = path.read_bytes()
    except OSError as error:
        raise DocumentError(str(path), None, f"cannot read the file: {error.strerror}") from None
    return parse_document(path.name, data, directory)
