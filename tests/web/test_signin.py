"""Signing in to the board: one-time login links, a pasted token, CSRF on every form, and
sign-out, over real HTTP against the API process with a real PostgreSQL."""

from __future__ import annotations

import httpx

from tests.support.api import ApiStack
from tests.support.web import hidden_field


async def _browser(stack: ApiStack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.base_url, follow_redirects=False, timeout=30)


async def test_a_signed_out_browser_is_sent_to_sign_in_and_back(stack: ApiStack) -> None:
    async with await _browser(stack) as browser:
        answer = await browser.get("/inbox?plan=x")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/inbox%3Fplan%3Dx"
        page = await browser.get(answer.headers["location"])
        assert page.status_code == 200
        assert 'name="next" value="/inbox?plan=x"' in page.text
        # Off-site destinations are never followed after signing in.
        elsewhere = await browser.get("/login", params={"next": "//evil.example/"})
        assert 'name="next" value="/"' in elsewhere.text


async def test_a_login_link_signs_in_once_with_a_safe_cookie(stack: ApiStack) -> None:
    link = await stack.login_link("unit", unit="市信息办")
    path = link.removeprefix(stack.base_url)
    async with await _browser(stack) as browser:
        preview = await browser.get(path)
        assert preview.status_code == 200
        assert "市信息办" in preview.text
        # Opening the page (a chat client's preview) does not use the link up.
        again = await browser.get(path)
        csrf = hidden_field(again.text, "csrf_token")
        assert again.headers["referrer-policy"] == "same-origin"

        # Another site's form cannot sign this browser in: no matching login cookie.
        async with await _browser(stack) as other_site:
            forged = await other_site.post(path, data={"csrf_token": csrf})
            assert forged.status_code == 403
            assert "duban_session" not in forged.cookies

        signed_in = await browser.post(path, data={"csrf_token": csrf})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/inbox"
        cookie = next(
            h for h in signed_in.headers.get_list("set-cookie") if h.startswith("duban_session=")
        )
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
        home = await browser.get("/")
        assert home.status_code == 303
        assert home.headers["location"] == "/inbox"

    async with await _browser(stack) as second:
        reused = await second.get(path)
        assert reused.status_code == 410
        assert "已使用或已过期" in reused.text


async def test_a_pasted_token_signs_in_and_a_wrong_one_does_not(stack: ApiStack) -> None:
    secret = await stack.token("coordinator")
    async with await _browser(stack) as browser:
        form = await browser.get("/login")
        csrf = hidden_field(form.text, "csrf_token")
        wrong = await browser.post(
            "/login", data={"csrf_token": csrf, "token": "dbn_nothing", "next": "/board"}
        )
        assert wrong.status_code == 401
        assert "令牌无效" in wrong.text
        csrf = hidden_field(wrong.text, "csrf_token")
        right = await browser.post(
            "/login", data={"csrf_token": csrf, "token": secret, "next": "/board?light=red"}
        )
        assert right.status_code == 303
        assert right.headers["location"] == "/board?light=red"
        home = await browser.get("/")
        assert home.headers["location"] == "/board"


async def test_sign_out_needs_the_forms_csrf_token_and_ends_the_session(stack: ApiStack) -> None:
    secret = await stack.token("unit", unit="市信息办")
    async with await _browser(stack) as browser:
        csrf = hidden_field((await browser.get("/login")).text, "csrf_token")
        await browser.post("/login", data={"csrf_token": csrf, "token": secret})
        assert (await browser.get("/")).headers["location"] == "/inbox"

        refused = await browser.post("/logout", data={})
        assert refused.status_code == 403
        assert "没有执行任何操作" in refused.text
        assert (await browser.get("/")).headers["location"] == "/inbox"  # still signed in

        session_csrf = await stack.pool.fetchval("SELECT csrf_token FROM web_sessions")
        signed_out = await browser.post("/logout", data={"csrf_token": session_csrf})
        assert signed_out.status_code == 303
        assert (await browser.get("/")).headers["location"].startswith("/login")

    rows = await stack.pool.fetch(
        "SELECT route, status, role, unit, error_code FROM audit_log ORDER BY id"
    )
    assert [(r["route"], r["status"], r["error_code"]) for r in rows] == [
        ("/login", 303, None),
        ("/logout", 403, "csrf_refused"),
        ("/logout", 303, None),
    ]
    assert {r["unit"] for r in rows} == {"市信息办"}


async def test_revoking_the_token_signs_its_browsers_out(stack: ApiStack) -> None:
    link = await stack.login_link("unit", unit="市信息办")
    path = link.removeprefix(stack.base_url)
    async with await _browser(stack) as browser:
        csrf = hidden_field((await browser.get(path)).text, "csrf_token")
        await browser.post(path, data={"csrf_token": csrf})
        assert (await browser.get("/")).headers["location"] == "/inbox"
        await stack.pool.execute("UPDATE api_tokens SET revoked_at = now()")
        assert (await browser.get("/")).headers["location"].startswith("/login")
