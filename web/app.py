"""The board's routes, its stylesheet and its two answers that are not pages of their own:
"sign in first" (a redirect that comes back here) and "this form is not yours" (403)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from web import board, imports, inbox, notices, signin, task_page
from web.session import CsrfRefusedError, SignInRequiredError, sign_in_address
from web.templating import STATIC, render


def mount_web(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (signin, inbox, task_page, board, imports, notices):
        app.include_router(module.router)

    @app.exception_handler(SignInRequiredError)
    async def on_signed_out(request: Request, error: SignInRequiredError) -> Response:
        next_path = error.next_path if request.method == "GET" else "/"
        return RedirectResponse(sign_in_address(next_path), status_code=303)

    @app.exception_handler(CsrfRefusedError)
    async def on_csrf_refused(request: Request, error: CsrfRefusedError) -> Response:
        return render(
            request,
            "refused.html",
            status_code=403,
            title="表单未被接受",
            reason="这张表单不是本次登录的页面提交的（可能已过期或来自其他网站），"
            "没有执行任何操作。请返回、刷新页面后重试。",
        )
