"""The Temporal codec server, for operators who hold the payload keys (admins only).

With payload encryption on, Temporal's UI and CLI show ciphertext. They can call a "codec
server" to decode what they display: ``POST <endpoint>/decode`` (and ``/encode``) with
``{"payloads": [...]}`` in protobuf JSON, answered the same way. This is that endpoint, at
``/api/v1/codec``, inside the API so that it shares the tokens, the rate limit and the
audit log: every decode leaves a row naming the token that read the payloads.

Who may call it: an admin token, either as ``Authorization: Bearer dbn_…`` (the Temporal
CLI's ``--codec-auth``) or, for the web UI, which cannot send a header of ours, as a cookie
the browser gets from ``/api/v1/codec/session`` and sends when the UI's codec setting
"Include cross-origin credentials" is on. Browsers may call it only from the origins in
``DUBAN_CODEC_CORS_ORIGINS`` (the Temporal UI's).

Not in the OpenAPI document: it is an operator's tool, not part of the coordinator API.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payloads

from api.auth import authenticate
from api.deps import dependencies_of
from api.problems import Problem
from domain.access import Principal
from runtime.payload_codec import EncryptionCodec, PayloadKeyError
from store import tokens

CODEC_PREFIX = "/api/v1/codec"
SESSION_COOKIE = "duban_codec"
SESSION_SECONDS = 8 * 3600

router = APIRouter(prefix=CODEC_PREFIX, include_in_schema=False)


def _codec(request: Request) -> EncryptionCodec:
    codec = dependencies_of(request).temporal.data_converter.payload_codec
    if not isinstance(codec, EncryptionCodec):
        raise Problem(404, "not_found", "payload encryption is off (DUBAN_PAYLOAD_KEYS unset)")
    return codec


async def _operator(request: Request) -> Principal:
    """The admin behind the request: the bearer token if it is a Duban one, else the
    session cookie. The UI may pass its own (OIDC) access token, which is not ours."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    session = request.cookies.get(SESSION_COOKIE, "")
    if (scheme.lower() != "bearer" or not tokens.looks_like_secret(secret)) and session:
        principal = await _session_principal(request, session)
    else:
        credentials = (
            HTTPAuthorizationCredentials(scheme="Bearer", credentials=secret) if secret else None
        )
        principal = await authenticate(request, credentials)
    if principal.role != "admin":
        raise Problem(403, "forbidden", "only an admin may decode Temporal payloads")
    return principal


def _session_mac(codec: EncryptionCodec, token_id: str, until: int) -> str:
    key = codec.derived_key("duban codec session")
    return hmac.new(key, f"{token_id}.{until}".encode(), hashlib.sha256).hexdigest()


def _session_value(codec: EncryptionCodec, token_id: str, until: int) -> str:
    """``<token id>.<unix expiry>.<HMAC>``: names the admin token without holding its
    secret, so a copied cookie reads payloads for at most the session's hours, and never
    manages tokens or anything else."""
    return f"{token_id}.{until}.{_session_mac(codec, token_id, until)}"


async def _session_principal(request: Request, session: str) -> Principal:
    """The admin a session cookie names, while the cookie verifies and has not run out and
    its token is still active (a revoked token ends its sessions)."""
    codec = _codec(request)
    token_id, _, rest = session.partition(".")
    until_text, _, mac = rest.partition(".")
    if not until_text.isdigit() or not hmac.compare_digest(
        mac, _session_mac(codec, token_id, int(until_text))
    ):
        raise Problem(401, "token_unknown", "the codec session is not one this API signed")
    if int(until_text) <= datetime.now(UTC).timestamp():
        raise Problem(401, "token_expired", "the codec session has expired: sign in again")
    from api.deps import connection  # deps builds on the auth module, as codec does

    async with connection(request) as conn:
        record = await tokens.token_by_id(conn, token_id)
    if record is None:
        raise Problem(401, "token_unknown", "no such token")
    request.state.principal = record.principal
    status = record.status(datetime.now(UTC))
    if status != "active":
        raise Problem(401, f"token_{status}", f"token {record.token_id} is {status}")
    await request.app.state.rate_limiter.check(record.token_id)
    return record.principal


async def _payloads(request: Request) -> Payloads:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        # Also what keeps a cross-site form from posting here with the cookie.
        raise Problem(415, "unsupported_media_type", "expected Content-Type: application/json")
    try:
        body = await request.json()
        return ParseDict(body, Payloads())
    except (ValueError, TypeError, AttributeError, ParseError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise Problem(422, "invalid_payload", f'expected {{"payloads": [...]}}: {reason}') from None


def _answer(payloads: Payloads) -> JSONResponse:
    return JSONResponse(MessageToDict(payloads))


@router.post("/decode")
async def decode(request: Request) -> Response:
    await _operator(request)
    codec = _codec(request)
    payloads = await _payloads(request)
    try:
        decoded = await codec.decode(payloads.payloads)
    except PayloadKeyError as error:
        raise Problem(422, "undecryptable_payload", str(error)) from None
    return _answer(Payloads(payloads=decoded))


@router.post("/encode")
async def encode(request: Request) -> Response:
    await _operator(request)
    codec = _codec(request)
    payloads = await _payloads(request)
    return _answer(Payloads(payloads=await codec.encode(payloads.payloads)))


_SESSION_PAGE = """<!doctype html><meta charset="utf-8"><title>Duban codec</title>
<h1>Decode Temporal payloads in this browser</h1>
<form method="post"><label>Admin token <input name="token" type="password"
autocomplete="off" required></label> <button>Sign in</button></form>
<p>Then, in the Temporal UI's codec server settings, set the endpoint to
<code>{endpoint}</code> and turn on "Include cross-origin credentials".</p>"""


@router.get("/session")
async def session_page(request: Request) -> Response:
    _codec(request)
    endpoint = html.escape(str(request.url.replace(path=CODEC_PREFIX, query="")))
    return HTMLResponse(_SESSION_PAGE.format(endpoint=endpoint))


@router.post("/session")
async def open_session(request: Request, token: Annotated[str, Form(max_length=200)]) -> Any:
    """Check the admin token, then give the browser an HttpOnly cookie scoped to the codec
    paths: a signed session for at most eight hours (and never past the token's own life,
    since every request checks the token again), not the token itself."""
    codec = _codec(request)
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token.strip())
    principal = await authenticate(request, credentials)
    if principal.role != "admin":
        raise Problem(403, "forbidden", "only an admin may decode Temporal payloads")
    until = int(datetime.now(UTC).timestamp()) + SESSION_SECONDS
    response = HTMLResponse(
        "<!doctype html><meta charset='utf-8'><p>Signed in until "
        f"{html.escape(_until(until))} UTC; the Temporal UI can decode payloads now.</p>"
    )
    response.set_cookie(
        SESSION_COOKIE,
        _session_value(codec, principal.token_id, until),
        max_age=SESSION_SECONDS,
        path=CODEC_PREFIX,
        secure=True,
        httponly=True,
        samesite="none",  # the UI calls from another origin
    )
    return response


def _until(until: int) -> str:
    return datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%d %H:%M")


class CodecCors:
    """CORS for the codec paths only, from the configured origins, with credentials (the
    session cookie). The rest of the API answers no cross-origin browser at all."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self.app = app
        self.cors = (
            CORSMiddleware(
                app,
                allow_origins=list(origins),
                allow_methods=["POST"],
                allow_headers=["Content-Type", "X-Namespace", "Authorization"],
                allow_credentials=True,
                max_age=600,
            )
            if origins
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.cors is not None
            and scope["type"] == "http"
            and scope["path"].startswith(CODEC_PREFIX + "/")
        ):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
