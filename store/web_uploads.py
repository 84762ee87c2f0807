"""Plan documents staged by the board's import page (0013_web_uploads).

The preview stages the uploaded bytes here, and the 台账 download and the commit (确认导入)
read them back by the upload's random id, so what is imported is exactly what was
previewed, and the browser sends the document once. An upload belongs to the token that
made it: another token asking for its id finds nothing. Uploads older than a day are
ignored, and pruned when the next one is staged.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from store.db import Connection

UPLOAD_LIFETIME = timedelta(days=1)


@dataclass(frozen=True)
class StagedUpload:
    upload_id: str
    token_id: str
    file_name: str
    plan_id: str | None
    content: bytes
    sha256: str
    created_at: datetime


async def stage_upload(
    connection: Connection, token_id: str, file_name: str, content: bytes, plan_id: str | None
) -> str:
    """Keep ``content`` for this token and answer its new upload id."""
    upload_id = secrets.token_urlsafe(18)
    await connection.execute(
        "DELETE FROM web_uploads WHERE created_at < now() - $1::interval", UPLOAD_LIFETIME
    )
    await connection.execute(
        "INSERT INTO web_uploads (upload_id, token_id, file_name, plan_id, content, sha256)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        upload_id,
        token_id,
        file_name,
        plan_id,
        content,
        hashlib.sha256(content).hexdigest(),
    )
    return upload_id


async def find_upload(connection: Connection, upload_id: str, token_id: str) -> StagedUpload | None:
    """This token's upload under ``upload_id`` while it is fresh; None otherwise (unknown,
    stale, or another token's)."""
    if len(upload_id) > 100:
        return None
    row = await connection.fetchrow(
        "SELECT upload_id, token_id, file_name, plan_id, content, sha256, created_at"
        " FROM web_uploads"
        " WHERE upload_id = $1 AND token_id = $2 AND created_at >= now() - $3::interval",
        upload_id,
        token_id,
        UPLOAD_LIFETIME,
    )
    return StagedUpload(**dict(row)) if row is not None else None
