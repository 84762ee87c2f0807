"""Office files are zips whose writers stamp the current time on every member; rewriting
them with a fixed stamp makes a notice's bytes (and so its digest) depend on its content only.
Also the escaping of the text that the renderers write into those files' XML themselves."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Mapping

FIXED_STAMP = (1980, 1, 1, 0, 0, 0)
# Deflate level for the 台账 and the 公文: their big XML is markup repeated row after row,
# which level 3 shrinks to within a fifth of level 6's size in about half its time
# (100,000 tasks: XLSX 7.2 MB instead of 6.2 MB, half a second less).
FAST_DEFLATE = 3
# Characters XML 1.0 cannot carry (a task text pasted from anywhere may hold them), and with
# them the three that need escaping, so that one search over a row tells it needs no care.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
NEEDS_XML_CARE = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def xml_text(text: str) -> str:
    """``text`` as XML element content: escaped, the characters XML cannot carry dropped."""
    return _NOT_XML.sub("", text).translate(_XML_ESCAPES)


def fixed_zip(
    data: bytes,
    rewrite: Mapping[str, Callable[[bytes], bytes]] | None = None,
    *,
    compresslevel: int | None = None,
) -> bytes:
    """The zip again with fixed stamps; ``rewrite`` maps a member to a change of its bytes."""
    rewrite = rewrite or {}
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as target:
        for member in source.infolist():
            info = zipfile.ZipInfo(member.filename, FIXED_STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            content = source.read(member)
            if member.filename in rewrite:
                content = rewrite[member.filename](content)
            target.writestr(info, content, compresslevel=compresslevel)
    return out.getvalue()
