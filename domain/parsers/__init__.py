"""One entry point for every plan format: read bytes, detect the format, parse.

Formats are detected by content, not by file name alone: each parser scores the document
and the most certain one reads it. Adding a format means adding a module with a ``PARSER``
and listing it in ``_PARSERS``.
"""

from __future__ import annotations

import contextlib
import gc
import re
import threading
import zipfile
import zlib
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path, PurePath

from domain.errors import DocumentError
from domain.files import read_regular_file
from domain.parsers.common import Parser, SourceDocument
from domain.parsers.html import html_document, looks_like_html
from domain.parsers.pdf import is_pdf, pdf_text
from domain.parsers.word97 import is_word97, word97_as_docx
from domain.parsers.xls import OLE2_MAGIC, is_xls, xls_sheets
from domain.plan import ParsedPlan, ParseWarning, PlanTask
from domain.text import CONTROL_CHARACTER, MAX_DOCUMENT_BYTES, decode_document
from domain.units import UnitDirectory, load_directory, unit_name_warnings


def _parsers() -> list[Parser]:
    from domain.parsers import (
        column_lines,
        docx_table,
        editable_ledger,
        general,
        html_table,
        ledger,
        pdf_table,
    )

    return [
        column_lines.PARSER,
        docx_table.PARSER,
        editable_ledger.PARSER,
        html_table.PARSER,
        ledger.PARSER,
        pdf_table.PARSER,
        general.PARSER,  # last: among equals a family or table reader is read first
    ]


def read_document(file: str, data: bytes) -> SourceDocument:
    """Bytes as a SourceDocument, recognised by content: office files (XLSX, DOCX, XLS) stay
    binary, a PDF brings its text layer as lines, a Word 97-2003 / WPS file is converted to
    DOCX where LibreOffice is installed, and anything else must be text."""
    if len(data) > MAX_DOCUMENT_BYTES:
        decode_document(data, file)  # raises the size error with its message
    if data[:4] == b"PK\x03\x04":
        _check_package(file, data)
        return SourceDocument(file=file, data=data)
    if is_pdf(data):
        return SourceDocument.from_text(file, pdf_text(file, data), data)
    if data[:8] == OLE2_MAGIC:
        return _ole2_document(file, data)
    text = decode_document(data, file)
    if looks_like_html(file, text):
        return html_document(file, data, text)
    return SourceDocument.from_text(file, text, data)


# What an office package may unpack to: far above any real plan's XML, far below what a
# ZIP bomb of 20 MB would take from the machine.
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
_UNPACK_CHUNK = 1024 * 1024


def _check_package(file: str, data: bytes) -> None:
    """An XLSX/DOCX package read through once, every member to its CRC: a damaged one is
    refused here, in one located line, instead of failing in whichever parser reads the
    broken member first (zlib, openpyxl and python-docx each fail their own way)."""
    unpacked = 0
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    while chunk := member.read(_UNPACK_CHUNK):
                        unpacked += len(chunk)
                        if unpacked > MAX_UNPACKED_BYTES:
                            raise DocumentError(
                                file,
                                None,
                                "the ZIP (XLSX/DOCX) package unpacks to more than "
                                f"{MAX_UNPACKED_BYTES // 1024 // 1024} MB: not a plan",
                            )
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        if isinstance(error, DocumentError):
            raise
        raise DocumentError(file, None, "a damaged ZIP (XLSX/DOCX) file") from None
    except (NotImplementedError, RuntimeError):  # a member packed by an unknown method, or
        # encrypted with a ZIP password (Office itself never does either)
        raise DocumentError(
            file, None, "a ZIP (XLSX/DOCX) file packed in a way Office does not write"
        ) from None


_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


def _ole2_document(file: str, data: bytes) -> SourceDocument:
    """An old Office (OLE2) file: an XLS workbook as it is, a Word 97-2003 or WPS document
    converted to .docx where LibreOffice is installed, anything else refused."""
    suffix = PurePath(file).suffix.lower()
    if _ENCRYPTED_PACKAGE in data:  # Office's password protection wraps XLSX/DOCX in OLE2
        raise DocumentError(
            file,
            None,
            "the document is encrypted (it asks for a password); save an unprotected copy",
        )
    if is_xls(data) or suffix in (".xls", ".et"):
        document = SourceDocument(file=file, data=data)
        xls_sheets(document, limit=1)  # a damaged workbook is named here, not "no format"
        return document
    if is_word97(data):
        return SourceDocument(file=file, data=word97_as_docx(file, data))
    if suffix in (".doc", ".wps"):
        raise DocumentError(
            file, None, "a damaged Word 97-2003 / WPS file (it has no document stream)"
        )
    raise DocumentError(
        file,
        None,
        "an old Microsoft Office (OLE2) file that is neither an Excel workbook nor a Word "
        "document; expected text, CSV, XLSX, XLS, DOCX, HTML or PDF",
    )


def detect_parser(document: SourceDocument) -> Parser:
    """The parser scoring the document highest (the first listed among equals).

    A parser that declares the most it can score (``max_score``: the general reader, whose
    scoring reads the whole text; a number, or a method giving it for the document) is
    scored after the others, and not at all when one of them already scored above that,
    or as much and is listed before it: it could not win.
    """
    parsers = list(enumerate(_parsers()))
    capped = [(index, parser) for index, parser in parsers if hasattr(parser, "max_score")]
    scored: list[tuple[int, int, Parser]] = []
    for index, parser in [*(pair for pair in parsers if pair not in capped), *capped]:
        ceiling = getattr(parser, "max_score", None)
        if callable(ceiling):
            ceiling = ceiling(document)
        if ceiling is not None and any(
            score > ceiling or (score == ceiling and earlier < index)
            for score, earlier, _ in scored
        ):
            continue
        scored.append((parser.score(document), index, parser))
    scored.sort(key=lambda entry: (-entry[0], entry[1]))
    best_score, _, best = scored[0]
    if best_score <= 0:
        from domain.parsers.general import diagnosis

        raise DocumentError(document.file, None, f"no task list recognised: {diagnosis(document)}")
    return best


def parse_document(file: str, data: bytes, directory: UnitDirectory | None = None) -> ParsedPlan:
    """Parse a plan document of any supported format, or raise a located DocumentError."""
    with collection_paused():
        return _parse_document(file, data, directory)


_pause_lock = threading.Lock()
_pauses = 0
_collecting_before = False


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a document is parsed, back as it was after.

    A 100,000-row ledger makes a million objects that all live on (tasks, their lists),
    and the collector would walk them again and again as they pile up: a third of the
    parse. Parsing makes no reference cycles worth collecting meanwhile; reference
    counting frees everything else as usual. Nested and concurrent parses (threads) share
    one pause: the collector comes back when the last one ends, if it was on before, with
    what was made meanwhile in its oldest generation (see :func:`_into_oldest_generation`).
    """
    global _pauses, _collecting_before
    with _pause_lock:
        if _pauses == 0:
            _collecting_before = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _collecting_before:
                _into_oldest_generation()
                gc.enable()


def _into_oldest_generation() -> None:
    """Every object the collector tracks moved into its oldest generation, as gc.unfreeze
    documents: the million objects of a 100,000-row ledger, all alive, would otherwise
    fill the youngest generation, and its collection and the next one's would walk all of
    them, a tenth of the parse. The oldest generation is walked by full collections only,
    which see them as they see every long-lived object. Done only when nothing else is
    frozen (a server may freeze what it shares with forked workers): unfreezing it too
    is not for a parser to do."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def _parse_document(file: str, data: bytes, directory: UnitDirectory | None) -> ParsedPlan:
    document = read_document(file, data)
    parser = detect_parser(document)
    # What the parser reads of the document, the rest let go while it parses (a CSV
    # ledger's normalised lines, 20 MB for 100,000 rows): rebinding drops the full one.
    narrowed = getattr(parser, "what_it_reads", None)
    if narrowed is not None:
        document = narrowed(document)
    directory = directory or load_directory()
    parsed = _without_blank_tasks(_parse_with(parser, document, directory))
    if not parsed.tasks:
        raise DocumentError(file, None, f"read as {parser.format}, but it holds no task")
    _refuse_control_characters(parsed)
    unit_warnings = unit_name_warnings(parsed.tasks, directory)
    if unit_warnings:
        parsed = parsed.model_copy(update={"warnings": [*parsed.warnings, *unit_warnings]})
    return parsed


def _without_blank_tasks(parsed: ParsedPlan) -> ParsedPlan:
    """A task with no text at all (a document cut right after an item's number) is nothing
    a unit could be asked to do: left out, and named in one warning instead of its own."""
    blank = [task for task in parsed.tasks if not task.text or task.text.isspace()]
    if not blank:
        return parsed
    ids = {task.id for task in blank}
    warnings = [warning for warning in parsed.warnings if warning.task_id not in ids]
    warnings += [
        ParseWarning(
            line=task.source.lines[0],
            code="empty_task",
            message=f"task {task.id} has no text (the document stops right after its "
            "number): left out",
        )
        for task in blank
    ]
    tasks = [task for task in parsed.tasks if task.id not in ids]
    return parsed.model_copy(update={"tasks": tasks, "warnings": warnings})


def _parse_with(parser: Parser, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan:
    """The chosen parser's reading; when a family parser claims a text document and then
    finds it is not of its family, the general reader's, if it can read it."""
    from domain.parsers import general

    try:
        return parser.parse(document, directory)
    except DocumentError as refusal:
        if parser is general.PARSER:
            raise
        if document.raw_lines and not document.lines:  # narrowed: read again, whole
            document = read_document(document.file, document.data)
        if not general.PARSER.score(document):
            raise
        try:
            return general.PARSER.parse(document, directory)
        except DocumentError:
            raise refusal from None


def _task_strings(task: PlanTask) -> list[str]:
    strings = [task.text, *task.lead_units, *task.cooperating_units, *task.category]
    strings += [part for milestone in task.milestones for part in (milestone.raw, milestone.text)]
    if task.recurrence is not None:
        strings.append(task.recurrence.raw)
    return strings


def _chunk_strings(tasks: list[PlanTask]) -> list[str]:
    """The :func:`_task_strings` of ``tasks``, gathered field by field, one list for all of
    them instead of one per task; the unit names, headings and deadline phrases that the
    tasks repeat (a ledger's few dozen) once each."""
    repeated = {unit for task in tasks for unit in task.lead_units}
    repeated.update([unit for task in tasks for unit in task.cooperating_units])
    repeated.update([heading for task in tasks for heading in task.category])
    repeated.update(
        [
            part
            for task in tasks
            for milestone in task.milestones
            for part in (milestone.raw, milestone.text)
        ]
    )
    repeated.update([task.recurrence.raw for task in tasks if task.recurrence is not None])
    return [*(task.text for task in tasks), *repeated]


_TASKS_SEARCHED_AT_ONCE = 1000


def _refuse_control_characters(parsed: ParsedPlan) -> None:
    """Text documents are checked as they are decoded; cells of an office file (XLSX, DOCX)
    are checked here, as read, so no control character reaches PostgreSQL or a terminal."""
    plan = parsed.plan
    # One search over a thousand tasks' strings at a time first: a clean plan (nearly all)
    # is done in a few searches, without joining a 100,000-row ledger's text into one more
    # copy of it, and only a plan holding one is searched task by task for where.
    tasks = parsed.tasks
    strings = [plan.title, plan.issuer or "", plan.document_number or ""]
    for start in range(0, max(len(tasks), 1), _TASKS_SEARCHED_AT_ONCE):  # the title alone too
        strings += _chunk_strings(tasks[start : start + _TASKS_SEARCHED_AT_ONCE])
        if CONTROL_CHARACTER.search("\n".join(strings)):
            break
        strings = []
    else:
        return
    for value in (plan.title, plan.issuer or "", plan.document_number or ""):
        found = CONTROL_CHARACTER.search(value)
        if found:
            raise DocumentError(
                plan.source_file, None, f"the plan's title or issuer holds {_named(found)}"
            )
    for task in parsed.tasks:
        for value in _task_strings(task):
            found = CONTROL_CHARACTER.search(value)
            if found:
                raise DocumentError(
                    task.source.file,
                    task.source.lines[0],
                    f"task {task.id} holds {_named(found)} after "
                    f"{value[: found.start()][-20:]!r}; remove it from the document",
                )


def _named(found: re.Match[str]) -> str:
    return f"a control character (U+{ord(found.group()):04X})"


def parse_file(path: Path, directory: UnitDirectory | None = None) -> ParsedPlan:
    """Parse the file at ``path``; its name (not its full path) is the provenance file."""
    data = read_regular_file(path, MAX_DOCUMENT_BYTES, name=path.name)
    return parse_document(path.name, data, directory)
