"""Bounded input: a per-token rate limit, upload and body sizes, page sizes, bad cursors."""

from __future__ import annotations

from collections.abc import AsyncIterator

from temporalio.testing import WorkflowEnvironment

from api.app import ApiLimits
from tests.support.api import ApiStack, serve_api


async def test_over_the_rate_limit_is_429_per_token(
    dev_server_env: WorkflowEnvironment, database_url: str, task_queue: str
) -> None:
    """The fourth request in a minute of a 3/minute token is refused with Retry-After;
    another token is not held back by it."""
    limits = ApiLimits(rate_limit="3/minute")
    async with serve_api(
        dev_server_env.client, database_url, task_queue, limits=limits, worker=False
    ) as stack:
        busy, other = await stack.token("coordinator"), await stack.token("coordinator")
        statuses = [(await stack.get("/api/v1/me", busy)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = await stack.get("/api/v1/me", busy)
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert (await stack.get("/api/v1/me", other)).status_code == 200


async def test_uploads_and_bodies_over_their_limits_are_413(
    dev_server_env: WorkflowEnvironment, database_url: str, task_queue: str
) -> None:
    """A document over DUBAN_API_MAX_UPLOAD_BYTES and a JSON body over 64 KiB are refused
    before they are read whole; nothing is stored."""
    limits = ApiLimits(max_upload_bytes=100 * 1024)
    async with serve_api(
        dev_server_env.client, database_url, task_queue, limits=limits, worker=False
    ) as stack:
        coordinator = await stack.token("coordinator")
        big = await stack.upload(coordinator, "big.csv", b"x" * (300 * 1024))
        assert (big.status_code, big.json()["code"]) == (413, "payload_too_large")
        body = {"reason": "长" * 40_000}
        huge = await stack.post("/api/v1/tasks/p/1/cancel", coordinator, body)
        assert (huge.status_code, huge.json()["code"]) == (413, "payload_too_large")
        assert await stack.pool.fetchval("SELECT count(*) FROM plans") == 0


async def test_pages_and_cursors_are_checked(api_stack: ApiStack) -> None:
    """A page over 200 and a cursor the API did not hand out are clear 4xx problems."""
    coordinator = await api_stack.token("coordinator")
    too_many = await api_stack.get("/api/v1/tasks", coordinator, limit=5000)
    assert (too_many.status_code, too_many.json()["code"]) == (422, "invalid_payload")
    forged = await api_stack.get("/api/v1/tasks", coordinator, cursor="not-a-cursor")
    assert (forged.status_code, forged.json()["code"]) == (400, "invalid_cursor")


async def test_bad_documents_are_located_problems(api_stack: ApiStack) -> None:
    """Empty, binary and unreadable uploads answer 422 document_error naming the file."""
    coordinator = await api_stack.token("coordinator")
    for name, data in (
        ("empty.txt", b""),
        ("binary.txt", bytes(range(256)) * 8),
        ("notes.txt", "会议纪要\n今天天气很好。\n".encode()),
    ):
        preview = await api_stack.upload(coordinator, name, data, path="/api/v1/plans/preview")
        assert preview.status_code == 422, preview.text
        problem = preview.json()
        assert problem["code"] == "document_error"
        assert problem["detail"].startswith(name)
    assert await api_stack.pool.fetchval("SELECT count(*) FROM plans") == 0


async def test_a_chunked_body_over_the_limit_is_413(api_stack: ApiStack) -> None:
    """Without a Content-Length the body is counted as it arrives, and refused at 64 KiB."""
    coordinator = await api_stack.token("coordinator")

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"reason": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    response = await api_stack.http.post(
        "/api/v1/tasks/p/1/cancel",
        content=chunks(),
        headers={
            "Authorization": f"Bearer {coordinator}",
            "Idempotency-Key": "chunked",
            "Content-Type": "application/json",
        },
    )
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")


async def test_a_flood_without_tokens_is_cut_off_and_not_stored(
    dev_server_env: WorkflowEnvironment, database_url: str, task_queue: str
) -> None:
    """Unauthenticated requests count against their client's limit too; past it they are
    429s that leave no audit row each, so nobody can fill the append-only log for free."""
    limits = ApiLimits(rate_limit="5/minute")
    async with serve_api(
        dev_server_env.client, database_url, task_queue, limits=limits, worker=False
    ) as stack:
        statuses = [
            (await stack.post("/api/v1/tasks/p/1/accept", None)).status_code for _ in range(8)
        ]
        assert statuses == [401] * 5 + [429] * 3
        assert await stack.pool.fetchval("SELECT count(*) FROM audit_log") == 5
