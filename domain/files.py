"""Reading a file a user names, bounded: at most ``limit`` bytes, and only a regular file.

A size from ``stat`` is only a claim: ``/dev/zero`` says 0 bytes and never ends, a FIFO
has no size and blocks until someone writes to it. So the file is opened without waiting
(``O_NONBLOCK``), refused unless it is a regular file, and read up to one byte past the
limit, which is how an oversized file is recognised without reading all of it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from domain.errors import DocumentError

_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


def too_large(file: str, size: int | None, limit: int) -> DocumentError:
    shown = f"{size / 1024 / 1024:.0f} MB" if size is not None else "over the limit"
    return DocumentError(
        file,
        None,
        f"the file is {shown}; plan documents are at most {limit // 1024 // 1024} MB",
    )


def read_regular_file(path: Path, limit: int, *, name: str | None = None) -> bytes:
    """The bytes of the regular file at ``path``, or a one-line DocumentError naming it.

    ``name`` is how the error names the file (the file name alone for a plan document).
    """
    shown = name or str(path)
    try:
        # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; it
        # changes nothing for a regular file.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise DocumentError(shown, None, f"cannot read the file: {error.strerror}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "a special file")
            raise DocumentError(
                shown, None, f"not a regular file but {kind}; save the document to a file first"
            )
        size = os.fstat(descriptor).st_size
        if size > limit:
            raise too_large(shown, size, limit)
        with os.fdopen(descriptor, "rb", closefd=False) as file:
            data = file.read(limit + 1)
    except OSError as error:
        raise DocumentError(shown, None, f"cannot read the file: {error.strerror}") from None
    finally:
        os.close(descriptor)
    if len(data) > limit:  # it grew while being read, or its size was not the truth
        raise too_large(shown, None, limit)
    return data
