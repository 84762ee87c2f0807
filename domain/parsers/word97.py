"""Word 97-2003 (.doc) and WPS (.wps) documents: converted by LibreOffice, or refused.

Both are OLE2 compound files with a ``WordDocument`` stream, a binary format no kept
Python library reads. Where LibreOffice (``soffice``) is installed on the machine, the file
is converted to .docx in a private temporary directory (its own LibreOffice profile there
too, so nothing is shared with a user's), with a time limit, and read as a Word document;
otherwise the coordinator is asked for a .docx, which Word and WPS both save.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path, PurePath

from domain.errors import DocumentError
from domain.text import MAX_DOCUMENT_BYTES

CONVERSION_SECONDS = 120
_WORD_STREAM = "WordDocument".encode("utf-16-le")


def is_word97(data: bytes) -> bool:
    return _WORD_STREAM in data


def _kind(file: str) -> str:
    if PurePath(file).suffix.lower() == ".wps":
        return "a WPS document (.wps)"
    return "a Word 97-2003 document (.doc)"


def _ask_for_docx(file: str, why: str) -> DocumentError:
    return DocumentError(
        file,
        None,
        f"{_kind(file)}, {why}; open it in Word or WPS and save it as .docx "
        "(文件 → 另存为 → Word 文档 .docx), then send that",
    )


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def word97_as_docx(file: str, data: bytes) -> bytes:
    """The document converted to .docx by LibreOffice, or a DocumentError asking for one."""
    program = soffice()
    if program is None:
        return _refuse(file, "which Duban cannot read (LibreOffice is not installed here)")
    with tempfile.TemporaryDirectory(prefix="duban-convert-") as scratch:
        folder = Path(scratch)
        source = folder / f"document{PurePath(file).suffix.lower() or '.doc'}"
        source.write_bytes(data)
        out = folder / "out"
        command = [
            program,
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            "docx:MS Word 2007 XML",
            "--outdir",
            str(out),
            str(source),
        ]
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": scratch,
            "LANG": "C.UTF-8",
            # A document may link an image by URL: where LibreOffice takes its proxy from
            # these, the fetch goes to loopback's discard port and brings nothing.
            **dict.fromkeys(("http_proxy", "https_proxy", "ftp_proxy"), "http://127.0.0.1:9"),
        }
        with subprocess.Popen(  # noqa: S603 - a fixed program and arguments, no shell
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=environment,
            cwd=scratch,
            start_new_session=True,  # its helper processes end with it on a time-out
        ) as process:
            try:
                process.wait(timeout=CONVERSION_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return _refuse(
                    file, f"which LibreOffice did not convert within {CONVERSION_SECONDS} s"
                )
        converted = out / "document.docx"
        if not converted.is_file() or converted.stat().st_size > MAX_DOCUMENT_BYTES:
            return _refuse(file, "which LibreOffice could not convert (a damaged file?)")
        return converted.read_bytes()


def _refuse(file: str, why: str) -> bytes:
    raise _ask_for_docx(file, why)
