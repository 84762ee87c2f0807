"""One home for how Duban talks to Temporal: the client, the data converter, the sandbox."""

from __future__ import annotations

import asyncio
import importlib.util
import py_compile
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, TLSConfig
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from runtime.errors import ConfigurationError, DubanError
from runtime.log import get_logger
from runtime.payload_codec import data_converter
from runtime.settings import Settings

log = get_logger(__name__)


_TLS_FILE_SETTINGS = (
    ("DUBAN_TEMPORAL_TLS_CA_CERT", "temporal_tls_ca_cert"),
    ("DUBAN_TEMPORAL_TLS_CLIENT_CERT", "temporal_tls_client_cert"),
    ("DUBAN_TEMPORAL_TLS_CLIENT_KEY", "temporal_tls_client_key"),
)


def temporal_tls_config(settings: Settings) -> TLSConfig | bool:
    """How the client secures its connection: ``False`` (plaintext) only when nothing asks
    for TLS. An API key always gets TLS, whatever DUBAN_TEMPORAL_TLS says: passing
    ``tls=False`` overrides the SDK's own rule that a key turns TLS on, and would send
    the key in clear. Certificates, a CA or a server name each turn it on too."""
    paths = [getattr(settings, field) for _, field in _TLS_FILE_SETTINGS]
    wanted = (
        settings.temporal_tls
        or settings.temporal_api_key is not None
        or settings.temporal_tls_server_name is not None
        or any(paths)
    )
    if not wanted:
        return False
    contents: list[bytes | None] = []
    for (name, _), path in zip(_TLS_FILE_SETTINGS, paths, strict=True):
        try:
            contents.append(path.read_bytes() if path else None)
        except OSError as error:
            raise ConfigurationError(
                f"{name}: cannot read {error.filename}: {error.strerror}"
            ) from None
    ca, cert, key = contents
    if (cert is None) != (key is None):
        raise ConfigurationError(
            "DUBAN_TEMPORAL_TLS_CLIENT_CERT and DUBAN_TEMPORAL_TLS_CLIENT_KEY go together"
        )
    if not any((ca, cert, key)) and settings.temporal_tls_server_name is None:
        return True  # system roots, the server's own name
    return TLSConfig(
        server_root_ca_cert=ca,
        client_cert=cert,
        client_private_key=key,
        domain=settings.temporal_tls_server_name,
    )


async def connect_temporal(settings: Settings) -> Client:
    """Connect with the pydantic data converter (encrypting under DUBAN_PAYLOAD_KEYS), or
    raise a one-line ConfigurationError."""
    address = settings.effective_temporal_address
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    setting = (
        "DUBAN_TEMPORAL_ADDRESS"
        if settings.temporal_address
        else "embedded Temporal; is `duban dev` running?"
    )
    try:
        client = await Client.connect(
            address,
            namespace=settings.temporal_namespace,
            tls=temporal_tls_config(settings),
            api_key=api_key,
            data_converter=data_converter(settings.payload_key_list),
        )
    except (RPCError, RuntimeError, ValueError) as error:
        raise ConfigurationError(
            f"cannot reach Temporal at {address} ({setting}): {_first_line(error)}"
        ) from None
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=settings.temporal_namespace)
        )
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise ConfigurationError(
                f"Temporal at {address} has no namespace {settings.temporal_namespace!r} "
                "(DUBAN_TEMPORAL_NAMESPACE)"
            ) from None
        raise ConfigurationError(
            f"Temporal at {address} refused to describe namespace "
            f"{settings.temporal_namespace!r}: {_first_line(error)}"
        ) from None
    return client


async def temporal_answers(client: Client) -> bool:
    """True when the frontend answers a health check within two seconds (for readiness)."""
    try:
        return await asyncio.wait_for(client.service_client.check_health(), timeout=2)
    except Exception:
        return False


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def sandboxed_workflow_runner() -> SandboxedWorkflowRunner:
    """The default sandbox, with pydantic passed through (re-importing it per workflow is slow
    and breaks isinstance checks between the converter's and the workflow's copies)."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "pydantic", "pydantic_core", "annotated_types", "domain"
        )
    )


def ensure_workflow_bytecode(workflows: Iterable[type]) -> None:
    """Write the bytecode of the modules that define ``workflows``.

    The sandbox imports a workflow's module afresh for every workflow run it creates. With
    no bytecode on disk (PYTHONDONTWRITEBYTECODE, an editable install) each of those imports
    compiles the source again: about 9 ms for workflows/task.py, paid by every task a
    worker picks up. Images compile at build time (deploy/Dockerfile); this covers checkouts,
    and writes even under PYTHONDONTWRITEBYTECODE: these few files are where bytecode pays
    for itself on every task. A read-only tree is left as it is: only speed depends on it.
    """
    for source in {
        path
        for workflow in workflows
        for path in _module_and_packages(workflow.__module__)
        if path.suffix == ".py"
    }:
        cached = Path(importlib.util.cache_from_source(str(source)))
        try:
            if cached.exists() and cached.stat().st_mtime >= source.stat().st_mtime:
                continue  # Python checks the source's stamp in it when it imports
            py_compile.compile(str(source), cfile=str(cached), doraise=True)
        except (OSError, py_compile.PyCompileError) as error:
            log.debug("workflow bytecode not written", module=str(source), reason=str(error))


def _module_and_packages(name: str) -> list[Path]:
    """The files the sandbox loads for module ``name``: it and each enclosing package."""
    parts = name.split(".")
    found = []
    for depth in range(1, len(parts) + 1):
        module = sys.modules.get(".".join(parts[:depth]))
        if module is not None and getattr(module, "__file__", None):
            found.append(Path(module.__file__))  # type: ignore[arg-type]
    return found


class SearchAttributesRefusedError(DubanError):
    """Temporal would not list or register Duban's search attributes (no admin rights)."""


@dataclass(frozen=True)
class SearchAttributeStatus:
    """Duban's search attributes as the namespace has them."""

    namespace: str
    missing: dict[str, int]  # name: the IndexedValueType it needs
    mistyped: dict[str, tuple[int, int]]  # name: (the type registered, the type needed)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.mistyped

    def problems(self) -> list[str]:
        found = []
        if self.missing:
            found.append(
                f"search attributes missing on namespace {self.namespace!r}: "
                f"{', '.join(self.missing)}; run `duban temporal register-search-attributes`"
            )
        for name, (registered, needed) in self.mistyped.items():
            found.append(
                f"search attribute {name} on namespace {self.namespace!r} is "
                f"{_type_name(registered)}, Duban needs {_type_name(needed)}"
            )
        return found


def _type_name(value: int) -> str:
    """INDEXED_VALUE_TYPE_KEYWORD_LIST -> KeywordList, the CLI's and the console's spelling."""
    from temporalio.api.enums.v1 import IndexedValueType

    raw = IndexedValueType.Name(IndexedValueType.ValueType(value)).removeprefix(
        "INDEXED_VALUE_TYPE_"
    )
    return "".join(part.capitalize() for part in raw.split("_"))


async def search_attribute_status(
    client: Client, namespace: str, *, timeout: float = 5.0
) -> SearchAttributeStatus:
    """Which of Duban's search attributes the namespace lacks or has with another type.
    Raises SearchAttributesRefusedError when Temporal will not list them."""
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    from workflows.task_contract import SEARCH_ATTRIBUTES

    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace), timeout=timedelta(seconds=timeout)
        )
    except RPCError as error:
        raise SearchAttributesRefusedError(
            f"Temporal refused to list the search attributes of namespace {namespace!r}: "
            f"{_first_line(error)}"
        ) from None
    missing: dict[str, int] = {}
    mistyped: dict[str, tuple[int, int]] = {}
    for key in SEARCH_ATTRIBUTES:
        # The SDK's enum mirrors the API's numbering.
        needed = int(key.indexed_value_type)
        registered = listed.custom_attributes.get(key.name)
        if registered is None:
            missing[key.name] = needed
        elif int(registered) != needed:
            mistyped[key.name] = (int(registered), needed)
    return SearchAttributeStatus(namespace, missing, mistyped)


async def register_search_attributes(
    client: Client, namespace: str, *, _raced: bool = False
) -> list[str]:
    """Register whichever of Duban's search attributes the namespace lacks; return their
    names (none: all were there). Idempotent. Raises SearchAttributesRefusedError, one line
    that says what to register by hand, where Temporal does not allow it (no admin rights,
    Temporal Cloud) or an attribute exists with another type."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

    status = await search_attribute_status(client, namespace)
    if status.mistyped:
        clashes = ", ".join(
            f"{name} is {_type_name(registered)}, Duban needs {_type_name(needed)}"
            for name, (registered, needed) in status.mistyped.items()
        )
        raise SearchAttributesRefusedError(
            f"namespace {namespace!r} already has search attributes of another type ({clashes}): "
            "remove them (`temporal operator search-attribute remove`) or use another namespace"
        )
    if not status.missing:
        return []
    wanted = {name: IndexedValueType.ValueType(needed) for name, needed in status.missing.items()}
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=wanted),
            timeout=timedelta(seconds=30),
        )
    except RPCError as error:
        if error.status == RPCStatusCode.ALREADY_EXISTS and not _raced:
            # Another replica registered some meanwhile; the request is all or nothing.
            return await register_search_attributes(client, namespace, _raced=True)
        by_hand = ", ".join(
            f"{name} ({_type_name(needed)})" for name, needed in status.missing.items()
        )
        raise SearchAttributesRefusedError(
            f"Temporal refused to register search attributes on namespace {namespace!r} "
            f"({_first_line(error)}); have an administrator register {by_hand}, e.g. with "
            "`temporal operator search-attribute create` or in the Temporal Cloud console"
        ) from None
    return list(status.missing)


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """What the worker does at start-up: register the search attributes if it may. Where it
    may not, it logs why; the worker's readiness then stays false and names what is
    missing, since every workflow task that upserts them would fail."""
    try:
        registered = await register_search_attributes(client, namespace)
    except SearchAttributesRefusedError as refused:
        log.warning("search attributes not registered", namespace=namespace, error=refused.message)
        return
    if registered:
        log.info("search attributes registered", namespace=namespace, attributes=registered)
