"""The worker service: connect, poll until told to stop, then drain in-flight work.

A stop request (SIGTERM from an orchestrator, Ctrl-C from a person) first marks the worker
not ready, so a load balancer or Kubernetes stops counting on it, then calls
``Worker.shutdown()``: polling stops at once and running activities get
``DUBAN_WORKER_SHUTDOWN_GRACE_SECONDS`` to finish before they are cancelled.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

from notifications.channels import Channel, LogChannel, WebhookChannel
from notifications.dispatcher import OutboxDispatcher
from runtime.embedded import ensure_port_free
from runtime.errors import ConfigurationError
from runtime.log import get_logger
from runtime.settings import Settings
from runtime.temporal import (
    connect_temporal,
    ensure_search_attributes,
    ensure_workflow_bytecode,
    sandboxed_workflow_runner,
)
from services.notice_settings import check_office_notice
from store.db import create_pool
from workers.health import HealthServer, WorkerHealth
from workers.notice_schedule import ensure_monthly_notice_schedule
from workers.registry import WORKFLOWS, build_activities

log = get_logger(__name__)


def worker_identity() -> str:
    return f"{os.getpid()}@{socket.gethostname()}"


def build_worker(
    client: Client,
    settings: Settings,
    *,
    activities: Sequence[Callable[..., Any]],
    workflows: Sequence[type] = WORKFLOWS,
    identity: str | None = None,
) -> Worker:
    """The one way a Duban worker is made, in the service and in tests alike."""
    ensure_workflow_bytecode(workflows)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=list(workflows),
        activities=list(activities),
        workflow_runner=sandboxed_workflow_runner(),
        max_cached_workflows=settings.worker_max_cached_workflows,
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_grace_seconds),
        identity=identity,
    )


def build_channels(settings: Settings) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    for name in settings.channel_names:
        if name == "log":
            channels[name] = LogChannel()
        elif name == "webhook":
            if not settings.notify_webhook_url:
                raise ConfigurationError(
                    "DUBAN_NOTIFY_CHANNELS names webhook but DUBAN_NOTIFY_WEBHOOK_URL is not set"
                )
            channels[name] = WebhookChannel(settings.notify_webhook_url)
    return channels


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set, then drain; raises ConfigurationError if it cannot connect."""
    check_office_notice()  # the Schedule renders notices: a broken template fails it on the 1st
    identity = worker_identity()
    if settings.worker_health_port:
        ensure_port_free(
            settings.worker_health_host, settings.worker_health_port, "DUBAN_WORKER_HEALTH_PORT"
        )
    pool = await create_pool(settings.effective_database_url, settings=settings)
    try:
        client = await connect_temporal(settings)
        await _serve(client, pool, settings, identity, stop)
    finally:
        await pool.close()


async def _serve(
    client: Client,
    pool: asyncpg.Pool,
    settings: Settings,
    identity: str,
    stop: asyncio.Event,
) -> None:
    health = WorkerHealth(
        pool=pool, client=client, task_queue=settings.temporal_task_queue, identity=identity
    )
    health_server = None
    if settings.worker_health_port:
        health_server = HealthServer(
            health, settings.worker_health_host, settings.worker_health_port
        )
        await health_server.start()
    await ensure_search_attributes(client, settings.temporal_namespace)
    await ensure_monthly_notice_schedule(client, settings.temporal_task_queue)
    activities = build_activities(pool, identity, settings.channel_names)
    worker = build_worker(client, settings, activities=activities, identity=identity)
    bound = log.bind(task_queue=settings.temporal_task_queue, identity=identity)
    health.worker = worker
    running = asyncio.create_task(worker.run(), name="temporal-worker")
    dispatcher_stop = asyncio.Event()
    dispatching = asyncio.create_task(
        OutboxDispatcher(pool, build_channels(settings), identity=identity).run(dispatcher_stop),
        name="notification-dispatcher",
    )
    bound.info(
        "worker polling",
        namespace=settings.temporal_namespace,
        health=health_server.url if health_server else None,
    )
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        health.draining = True
        # Notifications not yet sent go back to the outbox now, for the other replicas,
        # instead of waiting out this worker's drain.
        dispatcher_stop.set()
        if not running.done():
            bound.info(
                "worker draining",
                grace_seconds=settings.worker_shutdown_grace_seconds,
            )
            await worker.shutdown()
        await running  # re-raises if the worker died on its own
        bound.info("worker stopped")
    finally:
        dispatcher_stop.set()
        await dispatching
        stopping.cancel()
        if health_server is not None:
            await health_server.stop()
