"""Office files are zips whose writers stamp the current time on every member; rewriting
them with a fixed stamp makes a notice's bytes (and so its digest) depend on its content only."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Mapping

FIXED_STAMP = (1980, 1, 1, 0, 0, 0)


def fixed_zip(data: bytes, rewrite: Mapping[str, Callable[[bytes], bytes]] | None = None) -> bytes:
    """The zip again with fixed stamps; ``rewrite`` maps a member to a change of its bytes."""
    rewrite = rewrite or {}
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            info = zipfile.ZipInfo(member.filename, FIXED_STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            content = source.read(member)
            if member.filename in rewrite:
                content = rewrite[member.filename](content)
            target.writestr(info, content)
    return out.getvalue()
