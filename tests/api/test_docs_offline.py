"""/docs renders in a real browser with every asset from the Duban process: the
API is usable on a network without internet (政务外网)."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from tests.support.api import serve_api
from tests.support.browser import chromium, offline_page


async def test_docs_render_without_the_internet(
    dev_server_env: WorkflowEnvironment, database_url: str, task_queue: str
) -> None:
    """Swagger UI shows the API's title and its operations, and the page asked for nothing
    outside this machine; /redoc (whose bundle fetches a logo from a CDN) is not served."""
    async with (
        serve_api(dev_server_env.client, database_url, task_queue, worker=False) as stack,
        chromium() as browser,
    ):
        outside: list[str] = []
        page = await offline_page(browser, outside)
        await page.goto(f"{stack.base_url}/docs")
        title = page.locator(".swagger-ui .info .title")
        await title.wait_for(timeout=15_000)
        assert "Duban coordinator API" in await title.inner_text()
        operations = page.locator(".opblock-summary-path")
        await operations.first.wait_for()
        paths = set(await operations.all_inner_texts())
        assert "/api/v1/tasks/{plan_id}/{task_key}/accept" in {
            p.replace("\u200b", "") for p in paths
        }
        assert outside == []
        assert (await stack.http.get("/redoc")).status_code == 404
