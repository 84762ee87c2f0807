"""Payload encryption: with DUBAN_PAYLOAD_KEYS, Temporal holds no task text and no unit.

Checked where an attacker with Temporal's database or UI would look: the raw bytes of the
workflow's history and its description (search attributes), fetched through the service
API with no data converter in between. The same run without keys shows the text there, so
the search would find it. Rotation and unknown keys are checked on the codec itself.
"""

from __future__ import annotations

import base64
import json
import uuid

import asyncpg
import pytest
from google.protobuf.json_format import MessageToDict
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import services.tasks
from cli.main import load_settings
from domain.access import ActionKind
from runtime.errors import ConfigurationError
from runtime.payload_codec import (
    EncryptionCodec,
    PayloadKey,
    PayloadKeyError,
    data_converter,
    parse_payload_keys,
)
from runtime.settings import Settings, get_settings
from runtime.temporal import connect_temporal
from store.tokens import revoke_token
from tests.support.api import serve_api
from tests.support.lifecycle import (
    COOPERATING,
    LEAD,
    make_task,
    running_worker,
    settle,
    start_task,
    unit,
)
from workflows.task import TaskWorkflow
from workflows.task_contract import Accept, ReportProgress, Submit

TASK_TEXT = "梳理电子证照目录"  # make_task's text
PROGRESS_TEXT = "目录梳理过半"
SECRETS = [TASK_TEXT, PROGRESS_TEXT, LEAD, *COOPERATING]


def new_key(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(uuid.uuid4().bytes * 2).decode()}"


async def raw_history(client: Client, workflow_id: str) -> bytes:
    """Every history event's bytes as the server stores and serves them."""
    chunks, token = [], b""
    while True:
        page = await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id),
                next_page_token=token,
            )
        )
        chunks.append(page.history.SerializeToString())
        token = page.next_page_token
        if not token:
            return b"".join(chunks)


async def raw_description(client: Client, workflow_id: str) -> bytes:
    """What the UI's list shows: search attributes, memo, pending activities."""
    described = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    return bytes(described.SerializeToString())


async def indexed_attributes(client: Client, workflow_id: str) -> set[str]:
    """The search attributes the workflow upserted (indexed in clear, never encrypted)."""
    names: set[str] = set()
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            attributes = event.upsert_workflow_search_attributes_event_attributes
            names.update(attributes.search_attributes.indexed_fields)
    return names


async def run_task(client: Client, db_pool: asyncpg.Pool, task_queue: str) -> str:
    """Start a task with search attributes, accept it, report progress: its workflow id."""
    async with running_worker(client, db_pool, task_queue):
        handle = await start_task(client, task_queue, make_task(), search_attributes=True)
        await handle.execute_update(TaskWorkflow.accept, Accept(actor=unit(LEAD)))
        await handle.execute_update(
            TaskWorkflow.report_progress,
            ReportProgress(actor=unit(LEAD), percent=50, text=PROGRESS_TEXT),
        )
        snapshot = await settle(handle, db_pool)
    assert snapshot.state.task.text == TASK_TEXT  # the worker and this client decrypt
    return handle.id


def found(secrets: list[str], data: bytes) -> list[str]:
    return [secret for secret in secrets if secret.encode() in data]


async def test_history_holds_no_task_text_or_unit_under_encryption(
    dev_server_env: WorkflowEnvironment,
    dev_server_address: str,
    db_pool: asyncpg.Pool,
    task_queue: str,
) -> None:
    settings = Settings(
        temporal_address=dev_server_address,
        temporal_task_queue=task_queue,
        payload_keys=new_key("k1"),
    )
    encrypting = await connect_temporal(settings)
    workflow_id = await run_task(encrypting, db_pool, task_queue)

    plain = dev_server_env.client  # no codec: the bytes a Temporal operator sees
    assert found(SECRETS, await raw_history(plain, workflow_id)) == []
    assert found(SECRETS, await raw_description(plain, workflow_id)) == []
    # Indexed in clear by nature, so the unit is not indexed; the rest still is.
    indexed = await indexed_attributes(plain, workflow_id)
    assert "DubanStage" in indexed
    assert "DubanLeadUnit" not in indexed
    # The projection in PostgreSQL is Duban's own, in clear.
    row = await db_pool.fetchrow(
        "SELECT detail FROM task_events WHERE workflow_id = $1 AND kind = 'progress'",
        workflow_id,
    )
    assert row is not None
    assert PROGRESS_TEXT in row["detail"]


async def test_without_keys_the_history_shows_the_text(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """The control: the search above finds plaintext where there is some."""
    client = dev_server_env.client
    workflow_id = await run_task(client, db_pool, task_queue)
    assert found(SECRETS, await raw_history(client, workflow_id)) == SECRETS
    assert "DubanLeadUnit" in await indexed_attributes(client, workflow_id)


def test_dev_and_unset_keys_mean_no_encryption() -> None:
    assert Settings().payload_key_list == []
    assert data_converter(Settings().payload_key_list) is pydantic_data_converter


def _payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_rotation_old_payloads_decode_after_a_new_key_goes_first() -> None:
    old, new = parse_payload_keys(new_key("2026-06")), parse_payload_keys(new_key("2026-12"))
    [sealed_old] = await EncryptionCodec(old).encode([_payload(TASK_TEXT)])
    rotated = EncryptionCodec([*new, *old])
    [sealed_new] = await rotated.encode([_payload(TASK_TEXT)])
    assert sealed_new.metadata["encryption-key-id"] == b"2026-12"
    assert TASK_TEXT.encode() not in sealed_old.data + sealed_new.data
    decoded = await rotated.decode([sealed_old, sealed_new])
    assert [json.loads(payload.data) for payload in decoded] == [TASK_TEXT, TASK_TEXT]
    # Payloads written before encryption was turned on still read.
    assert await rotated.decode([_payload("明文")]) == [_payload("明文")]


async def test_unknown_key_id_fails_clearly() -> None:
    [sealed] = await EncryptionCodec(parse_payload_keys(new_key("retired"))).encode(
        [_payload(TASK_TEXT)]
    )
    current = EncryptionCodec(parse_payload_keys(new_key("current")))
    with pytest.raises(PayloadKeyError, match=r"key id 'retired'.*holds current\)$"):
        await current.decode([sealed])


async def test_altered_or_relabelled_payload_is_refused() -> None:
    keys = [*parse_payload_keys(new_key("a")), *parse_payload_keys(new_key("b"))]
    codec = EncryptionCodec(keys)
    [sealed] = await codec.encode([_payload(TASK_TEXT)])
    flipped = Payload(
        metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    )
    relabelled = Payload(metadata={**sealed.metadata, "encryption-key-id": b"b"}, data=sealed.data)
    for bad in (flipped, relabelled):
        with pytest.raises(PayloadKeyError, match="does not decrypt"):
            await codec.decode([bad])


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("k1", "expected id:base64key"),
        ("k1:not-base64!", "not base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "5 bytes, expected 32"),
        (f"{new_key('k1')},{new_key('k1')}", "listed twice"),
    ],
)
def test_bad_key_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, value: str, complaint: str
) -> None:
    monkeypatch.setenv("DUBAN_PAYLOAD_KEYS", value)
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError) as raised:
            load_settings()
    finally:
        get_settings.cache_clear()
    message = raised.value.message
    assert message.startswith("DUBAN_PAYLOAD_KEYS:")
    assert complaint in message
    assert "\n" not in message
    secret_part = value.split(",")[0].partition(":")[2]
    assert not secret_part or secret_part not in message


# ---------------------------------------------------------------- the codec endpoint

UI_ORIGIN = "http://temporal-ui.test:8080"


async def test_codec_endpoint_decodes_for_an_admin_only(
    dev_server_address: str, database_url: str, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    keys = f"{new_key('new')},{new_key('old')}"
    settings = Settings(temporal_address=dev_server_address, payload_keys=keys)
    encrypting = await connect_temporal(settings)
    workflow_id = await run_task(encrypting, db_pool, task_queue)
    first_page = await encrypting.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(
            namespace=encrypting.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    started = first_page.history.events[0].workflow_execution_started_event_attributes
    body = MessageToDict(Payloads(payloads=started.input.payloads))
    assert TASK_TEXT.encode() not in base64.b64decode(body["payloads"][0]["data"])

    async with serve_api(
        encrypting, database_url, task_queue, worker=False, codec_origins=(UI_ORIGIN,)
    ) as stack:
        admin = await stack.token("admin")
        coordinator = await stack.token("coordinator")
        decode = "/api/v1/codec/decode"

        answer = await stack.http.post(decode, json=body, headers=_bearer(admin))
        assert answer.status_code == 200, answer.text
        [decoded] = answer.json()["payloads"]
        assert TASK_TEXT in base64.b64decode(decoded["data"]).decode()
        assert base64.b64decode(decoded["metadata"]["encoding"]) == b"json/plain"

        # Encode then decode round-trips, under the first key.
        sealed = await stack.http.post(
            "/api/v1/codec/encode", json={"payloads": [decoded]}, headers=_bearer(admin)
        )
        [resealed] = sealed.json()["payloads"]
        assert base64.b64decode(resealed["metadata"]["encryption-key-id"]) == b"new"

        refused = await stack.http.post(decode, json=body, headers=_bearer(coordinator))
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
        anonymous = await stack.http.post(decode, json=body)
        assert (anonymous.status_code, anonymous.json()["code"]) == (401, "token_missing")

        foreign = await EncryptionCodec(parse_payload_keys(new_key("gone"))).encode(
            [_payload(TASK_TEXT)]
        )
        unknown = await stack.http.post(
            decode, json=MessageToDict(Payloads(payloads=foreign)), headers=_bearer(admin)
        )
        assert unknown.status_code == 422
        assert unknown.json()["code"] == "undecryptable_payload"
        assert "key id 'gone'" in unknown.json()["detail"]

        garbage = await stack.http.post(decode, json={"payloads": "x"}, headers=_bearer(admin))
        assert (garbage.status_code, garbage.json()["code"]) == (422, "invalid_payload")

        # Each decode is on record with the token that read the payloads.
        audited = await db_pool.fetch(
            "SELECT token_id, status FROM audit_log WHERE route = $1 ORDER BY id", decode
        )
        assert [row["status"] for row in audited] == [200, 403, 401, 422, 422]
        assert audited[0]["token_id"] == admin.split("_")[1]


async def test_codec_endpoint_serves_the_temporal_ui_by_cookie_and_cors(
    dev_server_address: str, database_url: str, task_queue: str
) -> None:
    settings = Settings(temporal_address=dev_server_address, payload_keys=new_key("ui"))
    encrypting = await connect_temporal(settings)
    [sealed] = await encrypting.data_converter.encode([TASK_TEXT])
    body = MessageToDict(Payloads(payloads=[sealed]))
    async with serve_api(
        encrypting, database_url, task_queue, worker=False, codec_origins=(UI_ORIGIN,)
    ) as stack:
        admin = await stack.token("admin")
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        }
        allowed = await stack.http.options(
            "/api/v1/codec/decode", headers={"Origin": UI_ORIGIN, **preflight}
        )
        assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
        assert allowed.headers["access-control-allow-credentials"] == "true"
        other = await stack.http.options(
            "/api/v1/codec/decode", headers={"Origin": "http://evil.test", **preflight}
        )
        assert "access-control-allow-origin" not in other.headers
        # The rest of the API answers no browser from elsewhere.
        api = await stack.http.get("/api/v1/me", headers={"Origin": UI_ORIGIN, **_bearer(admin)})
        assert "access-control-allow-origin" not in api.headers

        session = await stack.http.post(
            "/api/v1/codec/session", data={"token": admin}, headers={"Idempotency-Key": "s"}
        )
        assert session.status_code == 200, session.text
        cookie = session.headers["set-cookie"]
        for attribute in ("HttpOnly", "Secure", "SameSite=none", "Path=/api/v1/codec"):
            assert attribute.lower() in cookie.lower()
        # The UI sends the cookie (and X-Namespace), no Authorization of ours.
        value = cookie.split(";")[0]
        answer = await stack.http.post(
            "/api/v1/codec/decode",
            json=body,
            headers={"Origin": UI_ORIGIN, "Cookie": value, "X-Namespace": "default"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["access-control-allow-origin"] == UI_ORIGIN
        [decoded] = answer.json()["payloads"]
        assert TASK_TEXT in base64.b64decode(decoded["data"]).decode()
        # The cookie names the token but is not it: copied, it is no bearer secret and
        # reaches nothing outside the codec.
        admin_id = admin.split("_")[1]
        assert admin.split("_", 2)[2] not in value
        assert value.startswith(f"duban_codec={admin_id}.")
        assert (await stack.http.get("/api/v1/me", headers={"Cookie": value})).status_code == 401
        cookie_as_token = value.partition("=")[2]
        assert (
            await stack.http.get("/api/v1/me", headers=_bearer(cookie_as_token))
        ).status_code == 401
        # A cookie whose expiry or MAC was altered is refused.
        token_id, until, mac = cookie_as_token.split(".")
        for forged in (f"{token_id}.{int(until) + 3600}.{mac}", f"{token_id}.{until}.{'0' * 64}"):
            refused_session = await stack.http.post(
                "/api/v1/codec/decode", json=body, headers={"Cookie": f"duban_codec={forged}"}
            )
            assert refused_session.status_code == 401, forged
            assert refused_session.json()["code"] == "token_unknown"
        # A form posted from another site cannot reach it with the cookie.
        form = await stack.http.post(
            "/api/v1/codec/decode",
            content=json.dumps(body),
            headers={"Cookie": value, "Content-Type": "text/plain"},
        )
        assert form.status_code == 415

        coordinator = await stack.token("coordinator")
        refused = await stack.http.post("/api/v1/codec/session", data={"token": coordinator})
        assert refused.status_code == 403
        assert "set-cookie" not in refused.headers

        # Revoking the admin token ends its sessions at once.
        async with stack.pool.acquire() as connection:
            await revoke_token(connection, admin_id)
        ended = await stack.http.post(
            "/api/v1/codec/decode", json=body, headers={"Origin": UI_ORIGIN, "Cookie": value}
        )
        assert (ended.status_code, ended.json()["code"]) == (401, "token_revoked")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_payload_key_repr_hides_the_secret() -> None:
    [key] = parse_payload_keys(new_key("k"))
    assert isinstance(key, PayloadKey)
    assert base64.b64encode(key.secret).decode() not in repr(key)


async def test_refusals_read_the_same_through_an_encrypting_client(
    dev_server_address: str, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """Failure messages travel encrypted too; the client decodes them, so a wrong-stage
    refusal still says why and where the task is."""
    settings = Settings(temporal_address=dev_server_address, payload_keys=new_key("k"))
    encrypting = await connect_temporal(settings)
    async with running_worker(encrypting, db_pool, task_queue):
        handle = await start_task(encrypting, task_queue, make_task())
        with pytest.raises(services.tasks.WrongStageError) as refused:
            await services.tasks.send_action(
                encrypting,
                handle.id,
                ActionKind.SUBMIT,
                Submit(actor=unit(LEAD), summary="已完成"),
                idempotency_key="refused-submit",
            )
    assert refused.value.stage == "assigned"
    assert "assigned" in refused.value.message
