"""Excel 97-2003 workbooks (.xls), read with calamine (python-calamine, a Rust reader).

An ``.xls`` is an OLE2 compound file holding a ``Workbook`` (or, from Excel 5, ``Book``)
stream. Its sheets come out as the ledger reads an XLSX sheet: row N is the sheet's row N
from 1, dates as dates, whole numbers without ".0", and a cell merged down over several
rows holds its value in each of them (cells merged across columns are not spread
sideways), so an ``.xls`` and the ``.xlsx`` Excel saves from it read the same.
"""

from __future__ import annotations

from io import BytesIO

import python_calamine

from domain.parsers.common import SourceDocument
from domain.parsers.ledger import GridRow, cell_value_text

OLE2_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
# OLE2 directory entries name their streams in UTF-16LE.
_WORKBOOK_STREAMS = ("Workbook".encode("utf-16-le"), "Book\x00".encode("utf-16-le"))
_WORD_STREAM = "WordDocument".encode("utf-16-le")


def is_xls(data: bytes) -> bool:
    """An OLE2 file naming a workbook stream (and no Word stream: a .doc may embed a sheet)."""
    return (
        data[:8] == OLE2_MAGIC
        and any(name in data for name in _WORKBOOK_STREAMS)
        and _WORD_STREAM not in data
    )


def xls_sheets(
    document: SourceDocument, limit: int | None = None
) -> list[tuple[str, list[GridRow]]]:
    """Every sheet (name, rows), or only its first ``limit`` rows; a DocumentError for a
    workbook calamine cannot read."""
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(BytesIO(document.data))
    except python_calamine.PasswordError:
        raise document.error(
            None, "the XLS workbook is encrypted (it asks for a password); save an unprotected copy"
        ) from None
    except Exception as error:  # a damaged file fails in many ways inside calamine
        raise document.error(None, f"not a readable XLS workbook ({error})") from None
    try:
        return [(name, _sheet_rows(workbook, name, limit)) for name in workbook.sheet_names]
    except Exception as error:  # a damaged sheet stream
        raise document.error(None, f"not a readable XLS workbook ({error})") from None
    finally:
        workbook.close()


def _sheet_rows(
    workbook: python_calamine.CalamineWorkbook, name: str, limit: int | None
) -> list[GridRow]:
    sheet = workbook.get_sheet_by_name(name)
    # skip_empty_area=False: the rows start at the sheet's row 1, so numbers are row numbers
    values = [list(row) for row in sheet.to_python(skip_empty_area=False, nrows=limit)]
    for (top, column), (bottom, _) in sheet.merged_cell_ranges or ():
        if top >= len(values) or column >= len(values[top]):
            continue
        value = values[top][column]
        for below in range(top + 1, min(bottom + 1, len(values))):
            if column < len(values[below]):
                values[below][column] = value
    return [
        GridRow(number, number, tuple(cell_value_text(value) for value in row))
        for number, row in enumerate(values, start=1)
    ]
