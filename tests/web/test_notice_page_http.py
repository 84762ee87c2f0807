"""月度通报 over plain HTTP: the files are the API's, byte for byte; the notice's own
document is the only answer allowed inline styles, and it is sandboxed; a coordinator of
some plans reads only those."""

from __future__ import annotations

from urllib.parse import quote

from tests.support.api import ApiStack
from tests.support.web import token_signed_in_client
from tests.test_notices import add_plan, unique_name

MONTH = "2026-06"


async def test_the_pages_files_are_the_apis_and_only_the_notice_may_style_itself(
    stack: ApiStack,
) -> None:
    plan_id = unique_name("notice-http")
    await add_plan(stack.pool, plan_id)
    secret = await stack.token("coordinator")
    async with token_signed_in_client(stack, secret) as client:
        page = await client.get("/notices", params={"month": MONTH, "plan": plan_id})
        assert page.status_code == 200
        assert "'unsafe-inline'" not in page.headers["content-security-policy"]
        assert f'src="/notices/{MONTH}.html?plan={plan_id}"' in page.text
        assert "<iframe" in page.text
        assert "sandbox" in page.text

        frame = await client.get(f"/notices/{MONTH}.html", params={"plan": plan_id})
        assert frame.status_code == 200
        policy = frame.headers["content-security-policy"]
        assert "style-src 'unsafe-inline'" in policy
        assert "default-src 'none'" in policy
        assert "sandbox" in policy
        assert "script-src" not in policy  # none, by default-src 'none'
        assert frame.headers["x-frame-options"] == "SAMEORIGIN"
        assert "<style>" in frame.text

        for fmt in ("docx", "xlsx", "html"):
            mine = await client.get(f"/notices/{MONTH}.{fmt}", params={"plan": plan_id})
            api = await stack.get(f"/api/v1/reports/{MONTH}", secret, plan=plan_id, format=fmt)
            assert mine.status_code == api.status_code == 200
            assert mine.content == api.content
        docx = await client.get(f"/notices/{MONTH}.docx", params={"plan": plan_id})
        name = f"2026年6月督办工作通报（{plan_id}）.docx"
        assert f"filename*=UTF-8''{quote(name, safe='')}" in docx.headers["content-disposition"]
        assert docx.headers["content-disposition"].startswith("attachment;")


async def test_a_coordinator_of_some_plans_reads_only_those(stack: ApiStack) -> None:
    mine, theirs = unique_name("notice-mine"), unique_name("notice-theirs")
    for plan_id in (mine, theirs):
        await add_plan(stack.pool, plan_id)
    async with token_signed_in_client(
        stack, await stack.token("coordinator", plans=(mine,))
    ) as client:
        default = await client.get("/notices", params={"month": MONTH})
        assert default.status_code == 200
        assert "全部计划" not in default.text  # no all-plans notice to offer
        assert f'<option value="{mine}" selected>' in default.text
        assert theirs not in default.text

        other = await client.get("/notices", params={"month": MONTH, "plan": theirs})
        assert other.status_code == 404
        assert 'id="plan-error"' in other.text
        assert "<iframe" not in other.text
        for fmt in ("html", "docx", "xlsx"):
            refused = await client.get(f"/notices/{MONTH}.{fmt}", params={"plan": theirs})
            assert refused.status_code == 404
            assert refused.headers["content-type"].startswith("text/html")
        every = await client.get(f"/notices/{MONTH}.xlsx")
        assert every.status_code == 403
