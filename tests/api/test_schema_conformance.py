"""schemathesis against the served OpenAPI document, with a real token of each role: no
answer is a 5xx, and every answer matches its documented status, media type and schema."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.testing import WorkflowEnvironment

from api.app import ApiLimits
from tests.api.test_lifecycle_http import import_ledger
from tests.support.api import ApiStack, serve_api

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 10


def _fuzz(
    document: dict[str, Any], base_url: str, tokens: dict[str, str], task: dict[str, str]
) -> list[str]:
    """Every operation, for every role, with generated inputs: a list of what failed."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # Err raises here: a bad schema
        known = {name: task[name] for name in ("plan_id", "task_key") if name in operation.path}
        strategies = [operation.as_strategy()]
        if known:  # half the cases on a real task, so the handlers run past the lookup
            strategies.append(operation.as_strategy(path_parameters=known))

        for role, token in tokens.items():
            try:
                _check_cases(st.one_of(strategies), base_url, token)
            except Exception as error:
                failures.append(f"{role} {operation.label}: {error}")
    return failures


def _check_cases(
    cases: st.SearchStrategy[schemathesis.Case[Any]], base_url: str, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case[Any]) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=60)
        case.validate_response(response, checks=CHECKS)

    check()


@pytest.mark.slow
async def test_served_schema_holds_for_every_role(
    dev_server_env: WorkflowEnvironment, database_url: str, task_queue: str
) -> None:
    limits = ApiLimits(rate_limit="100000/minute")
    async with serve_api(dev_server_env.client, database_url, task_queue, limits=limits) as stack:
        plan_id = await import_ledger(stack, await stack.token("coordinator"))
        tokens = await _tokens(stack, plan_id)
        document = (await stack.http.get("/openapi.json")).json()
        failures = await asyncio.to_thread(
            _fuzz, document, stack.base_url, tokens, {"plan_id": plan_id, "task_key": "1"}
        )
    assert not failures, "\n\n".join(failures)


async def _tokens(stack: ApiStack, plan_id: str) -> dict[str, str]:
    return {
        "coordinator": await stack.token("coordinator"),
        "plan coordinator": await stack.token("coordinator", plans=(plan_id,)),
        "lead unit": await stack.token("unit", unit="市数据资源局"),
        "cooperating unit": await stack.token("unit", unit="市公安局"),
        "admin": await stack.token("admin"),
    }
