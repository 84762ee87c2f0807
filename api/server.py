"""``duban api``: connect first (so a bad setting is one clear line), then serve."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import uvicorn

from api.app import ApiDependencies, ApiLimits, create_app
from api.deps import WebOptions
from runtime.embedded import ensure_port_free
from runtime.log import get_logger
from runtime.settings import Settings
from runtime.temporal import connect_temporal
from services.notice_settings import check_office_notice
from store.db import create_pool
from web.board import warm_board

log = get_logger(__name__)


async def run_api(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM; uvicorn finishes in-flight requests before it exits."""
    check_office_notice()  # GET /api/v1/reports renders notices with the office's templates
    ensure_port_free(settings.api_host, settings.api_port, "DUBAN_API_PORT")
    pool = await create_pool(settings.effective_database_url, settings=settings)
    try:
        temporal = await connect_temporal(settings)
        limits = ApiLimits(
            max_upload_bytes=settings.api_max_upload_bytes, rate_limit=settings.api_rate_limit
        )
        dependencies = ApiDependencies(
            pool=pool,
            temporal=temporal,
            task_queue=settings.temporal_task_queue,
            limits=limits,
            codec_origins=tuple(settings.codec_origins),
            database_url=settings.effective_database_url,
            web=WebOptions(
                session_lifetime=timedelta(hours=settings.web_session_hours),
                public_url=settings.effective_public_url,
                secure_cookies=settings.effective_public_url.startswith("https://"),
            ),
        )
        app = create_app(dependencies)
        warming = asyncio.create_task(warm_board(app, pool))
        config = uvicorn.Config(
            app,
            host=settings.api_host,
            port=settings.api_port,
            log_config=None,  # our structlog pipeline renders uvicorn's records
            access_log=False,  # the request middleware logs each request with its id
            proxy_headers=True,
        )
        log.info("api serving", url=f"http://{settings.api_host}:{settings.api_port}")
        try:
            await uvicorn.Server(config).serve()
        finally:
            warming.cancel()
    finally:
        await pool.close()
