"""Where notifications go. A channel delivers one outbox payload or raises; it never retries
itself: the dispatcher owns retries and backoff, so every channel behaves the same."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from runtime.log import get_logger

log = get_logger(__name__)


class DeliveryError(Exception):
    """The channel could not deliver now; the dispatcher will try again later."""


class Channel(Protocol):
    name: str

    async def deliver(self, payload: dict[str, Any], delivery_id: str) -> None: ...


class LogChannel:
    """Writes each notification as one structured log line (the default, and the audit)."""

    name = "log"

    async def deliver(self, payload: dict[str, Any], delivery_id: str) -> None:
        event = payload["event"]
        log.info(
            "notification",
            delivery_id=delivery_id,
            workflow_id=payload["workflow_id"],
            task_id=payload["task_id"],
            kind=event["kind"],
            level=event.get("level"),
            unit=event.get("unit"),
            recipients=event.get("recipients"),
        )


class WebhookChannel:
    """POSTs the payload as JSON; the ``Idempotency-Key`` header lets the receiver drop the
    duplicate that at-least-once delivery can produce after a lost response."""

    name = "webhook"

    def __init__(self, url: str, client: httpx.AsyncClient | None = None) -> None:
        self._url = url
        self._client = client or httpx.AsyncClient(timeout=10)

    async def deliver(self, payload: dict[str, Any], delivery_id: str) -> None:
        try:
            response = await self._client.post(
                self._url, json=payload, headers={"Idempotency-Key": delivery_id}
            )
        except httpx.HTTPError as error:
            raise DeliveryError(f"{type(error).__name__}: {error}") from None
        if response.status_code >= 300:
            raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")

    async def close(self) -> None:
        await self._client.aclose()
