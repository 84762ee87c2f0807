"""The task page over HTTP (a browser's requests without the browser): who sees which task,
which forms a page offers, how a form is checked, and that a form applies once."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.support.api import ApiStack
from tests.support.lifecycle import wait_until
from tests.support.plans import future_ledger, unique_name
from tests.support.web import hidden_field, signed_in_client
from tests.web.inbox_support import event_kinds, import_plan, send_form, stage_of


@pytest.fixture
async def plan_id(stack: ApiStack) -> str:
    return await import_plan(stack, await stack.token("coordinator"))


async def test_another_units_task_and_a_missing_task_answer_the_same_404(
    stack: ApiStack, plan_id: str
) -> None:
    """Changing the address to another unit's task, or to no task at all, gets the same
    page: the answer does not tell whether the task exists."""
    async with signed_in_client(stack, await stack.login_link("unit", unit="市信息办")) as unit:
        own = await unit.get(f"/tasks/{plan_id}/3")
        assert own.status_code == 200
        others = await unit.get(f"/tasks/{plan_id}/1")
        missing = await unit.get(f"/tasks/{plan_id}/999")
        no_plan = await unit.get("/tasks/no-such-plan/1")
        assert others.status_code == missing.status_code == no_plan.status_code == 404
        assert others.text == missing.text == no_plan.text
        assert "未找到任务" in others.text
        assert "建设全市政务数据共享交换平台" not in others.text
        # Acting on it by a forged post: the same 404, and nothing done.
        csrf = hidden_field(own.text, "csrf_token")
        forged = await unit.post(
            f"/tasks/{plan_id}/1/accept", data={"csrf_token": csrf, "idempotency_key": "k" * 20}
        )
        assert forged.status_code == 404
        assert forged.text == others.text
    assert await stage_of(stack, plan_id, "1") == "assigned"
    assert await event_kinds(stack, plan_id, "1") == ["assigned"]


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    stack: ApiStack, plan_id: str
) -> None:
    async with signed_in_client(stack, await stack.login_link("unit", unit="市信息办")) as unit:
        page = await unit.get(f"/tasks/{plan_id}/3")
        key = hidden_field(page.text, "idempotency_key", "form-accept")
        refused = await unit.post(f"/tasks/{plan_id}/3/accept", data={"idempotency_key": key})
        assert refused.status_code == 403
        assert "没有执行任何操作" in refused.text
        wrong = await unit.post(
            f"/tasks/{plan_id}/3/accept", data={"idempotency_key": key, "csrf_token": "x" * 30}
        )
        assert wrong.status_code == 403
    assert await stage_of(stack, plan_id, "3") == "assigned"
    assert await event_kinds(stack, plan_id, "3") == ["assigned"]
    audited = await stack.pool.fetch(
        "SELECT plan_id, task_id, action, status, error_code, unit FROM audit_log"
        " WHERE route LIKE '/tasks/%' ORDER BY id"
    )
    assert [tuple(row) for row in audited] == [
        (plan_id, "3", "accept", 403, "csrf_refused", "市信息办"),
    ] * 2


async def test_the_same_form_posted_twice_applies_once(stack: ApiStack, plan_id: str) -> None:
    """A double click (the same rendered form sent twice) records one event; a second
    form from a stale page is refused by the lifecycle, with its reason."""
    async with signed_in_client(stack, await stack.login_link("unit", unit="市信息办")) as unit:
        page = await unit.get(f"/tasks/{plan_id}/3")
        form = {
            "csrf_token": hidden_field(page.text, "csrf_token"),
            "idempotency_key": hidden_field(page.text, "idempotency_key", "form-accept"),
        }
        first = await unit.post(f"/tasks/{plan_id}/3/accept", data=form)
        second = await unit.post(f"/tasks/{plan_id}/3/accept", data=form)
        assert first.status_code == second.status_code == 303
        assert first.headers["location"] == f"/tasks/{plan_id}/3"
        kinds = await event_kinds(stack, plan_id, "3")
        assert kinds.count("accepted") == 1, kinds

        # The page the redirect leads to already reads the new stage (the post waited for
        # the projection) and says what was done, in a fixed text.
        after = await unit.get(first.headers["location"])
        assert 'data-stage="in_progress"' in after.text
        assert "已签收，任务进入承办阶段。" in after.text
        assert 'id="form-accept"' not in after.text
        assert 'id="form-progress"' in after.text
        shown_once = await unit.get(first.headers["location"])
        assert "已签收，任务进入承办阶段。" not in shown_once.text

        stale = {
            **form,
            "idempotency_key": hidden_field(page.text, "idempotency_key", "form-refuse"),
        }
        again = await unit.post(f"/tasks/{plan_id}/3/accept", data=stale)
        assert again.status_code == 409
        assert "操作未被接受：任务当前处于「承办」，此操作现在不能办理。" in again.text
        assert "in_progress" in again.text  # the lifecycle's own words, as the detail
    assert (await event_kinds(stack, plan_id, "3")).count("accepted") == 1

    rows = await stack.pool.fetch(
        "SELECT plan_id, task_id, action, status, idempotency_key FROM audit_log"
        " WHERE route LIKE '/tasks/%' ORDER BY id"
    )
    assert [(r["plan_id"], r["task_id"], r["action"], r["status"]) for r in rows] == [
        (plan_id, "3", "accept", 303),
        (plan_id, "3", "accept", 303),
        (plan_id, "3", "accept", 409),
    ]
    assert rows[0]["idempotency_key"] == form["idempotency_key"]


async def test_an_invalid_field_is_shown_beside_it_and_nothing_is_sent(
    stack: ApiStack, plan_id: str
) -> None:
    """A percent of 150 is refused by the API's own body model, beside the field, with
    what the user typed kept; a date the lifecycle refuses shows the lifecycle's reason."""
    async with signed_in_client(stack, await stack.login_link("unit", unit="市信息办")) as unit:
        page = await unit.get(f"/tasks/{plan_id}/3")
        csrf = hidden_field(page.text, "csrf_token")
        accept = hidden_field(page.text, "idempotency_key", "form-accept")
        await unit.post(
            f"/tasks/{plan_id}/3/accept", data={"csrf_token": csrf, "idempotency_key": accept}
        )
        page = await unit.get(f"/tasks/{plan_id}/3")
        key = hidden_field(page.text, "idempotency_key", "form-progress")
        bad = await unit.post(
            f"/tasks/{plan_id}/3/progress",
            data={
                "csrf_token": csrf,
                "idempotency_key": key,
                "percent": "150",
                "text": "平台已上线",
                "evidence": "",
            },
        )
        assert bad.status_code == 422
        assert 'id="error-progress-percent"' in bad.text
        assert "不能大于100" in bad.text
        assert 'value="150"' in bad.text
        assert "平台已上线" in bad.text
        blank = await unit.post(
            f"/tasks/{plan_id}/3/progress",
            data={"csrf_token": csrf, "idempotency_key": key, "percent": "40", "text": "  "},
        )
        assert blank.status_code == 422
        assert 'id="error-progress-text"' in blank.text
        assert "progress" not in await event_kinds(stack, plan_id, "3")

        early = await unit.post(
            f"/tasks/{plan_id}/3/request-extension",
            data={
                "csrf_token": csrf,
                "idempotency_key": hidden_field(
                    page.text, "idempotency_key", "form-request-extension"
                ),
                "new_due": "2029-01-01",
                "reason": "需要协调",
            },
        )
        assert early.status_code == 422
        invalid = "操作未被接受：填写的内容不符合要求。（the new date must be after 2030-12-31"
        assert invalid in early.text
        assert "extension_requested" not in await event_kinds(stack, plan_id, "3")


async def test_each_part_sees_only_the_forms_it_may_use(stack: ApiStack, plan_id: str) -> None:
    """The lead sees 签收/退回/申请延期; a cooperating unit no form before 会签 and a 403 with
    the reason if it posts one anyway; the coordinator its own actions; a coordinator
    opening the inbox is sent to the board."""
    async with signed_in_client(stack, await stack.login_link("unit", unit="市数据资源局")) as lead:
        page = (await lead.get(f"/tasks/{plan_id}/1")).text
        forms = {"form-accept", "form-refuse", "form-request-extension"}
        assert all(f'id="{form}"' in page for form in forms)
        for absent in ("form-progress", "form-sign-off", "form-review", "form-reassign"):
            assert f'id="{absent}"' not in page
        assert "签收或退回" in page

        other = (await lead.get(f"/tasks/{plan_id}/2")).text  # it cooperates on task 2
        assert 'id="task-no-actions"' in other
        assert "无需操作（牵头单位办理中）" in other
        refused = await lead.post(
            f"/tasks/{plan_id}/2/accept",
            data={"csrf_token": hidden_field(other, "csrf_token"), "idempotency_key": "k" * 20},
        )
        assert refused.status_code == 403
        assert "only the lead unit" in refused.text
    assert await event_kinds(stack, plan_id, "2") == ["assigned"]

    async with signed_in_client(stack, await stack.login_link("coordinator")) as office:
        assert (await office.get("/inbox")).headers["location"] == "/board"
        page = (await office.get(f"/tasks/{plan_id}/1")).text
        assert 'id="form-reassign"' in page
        assert 'id="form-cancel"' in page
        assert 'id="form-accept"' not in page
        assert 'id="form-review"' not in page
        assert "等待牵头单位办理" in page


async def test_the_inbox_pages_by_fifty_and_filters_by_light(stack: ApiStack) -> None:
    """A unit with 53 tasks gets 50, least time left first, then the other 3 from the next
    page's link; the light filter keeps only that light."""
    rows = ["序号,工作任务,牵头单位,配合单位,完成时限"]
    rows += [f"{n},第{n}项整合任务,市信息办,,2030年{n % 12 + 1}月1日前" for n in range(1, 54)]
    coordinator = await stack.token("coordinator")
    plan_id = await import_plan(stack, coordinator, ("\n".join(rows) + "\n").encode())
    async with signed_in_client(stack, await stack.login_link("unit", unit="市信息办")) as unit:
        first = await unit.get("/inbox", params={"plan": plan_id})
        assert first.status_code == 200
        shown = first.text.count('class="inbox-row"')
        assert shown == 50
        dues = re.findall(r'<td class="due">([^<]+)</td>', first.text)
        assert dues[0] == "2030年1月1日"
        assert dues[-1] == "2030年12月1日"
        next_link = re.search(r'id="inbox-next" href="([^"]+)"', first.text)
        assert next_link is not None
        second = await unit.get(next_link.group(1).replace("&amp;", "&"))
        assert second.text.count('class="inbox-row"') == 3
        assert 'id="inbox-next"' not in second.text
        ids = set(re.findall(r'data-workflow-id="([^"]+)"', first.text + second.text))
        assert ids == {f"{plan_id}/{n}" for n in range(1, 54)}

        red = await unit.get("/inbox", params={"plan": plan_id, "light": "red"})
        assert 'id="inbox-empty"' in red.text
        green = await unit.get("/inbox", params={"plan": plan_id, "light": "green"})
        assert green.text.count('data-light="green"') == 50


async def test_an_objection_needs_a_reason_and_sends_the_work_back(
    stack: ApiStack, plan_id: str
) -> None:
    """不同意 without a reason is refused with the lifecycle's reason; with one, the task
    goes back to the lead, whose next step says so, with the objection beside it."""
    async with signed_in_client(
        stack, await stack.login_link("unit", unit="市政务服务中心")
    ) as lead:
        assert (await send_form(lead, plan_id, "2", "accept")).status_code == 303
        done = await send_form(lead, plan_id, "2", "submit", summary="事项清单已统一")
        assert done.status_code == 303
    async with signed_in_client(stack, await stack.login_link("unit", unit="市数据资源局")) as unit:
        inbox = (await unit.get("/inbox")).text
        assert f'data-workflow-id="{plan_id}/2"' in inbox
        assert "会签（同意或不同意）" in inbox
        bare = await send_form(unit, plan_id, "2", "sign-off", approve="false", reason="")
        assert bare.status_code == 422
        # The lifecycle's refusal, said beside the field left empty.
        assert 'id="error-sign-off-reason"' in bare.text
        assert "必填：请说明理由" in bare.text
        assert 'id="form-sign-off"' in bare.text
        objected = await send_form(
            unit, plan_id, "2", "sign-off", approve="false", reason="数据接口未对接"
        )
        assert objected.status_code == 303
        assert f'data-workflow-id="{plan_id}/2"' not in (await unit.get("/inbox")).text
    assert await stage_of(stack, plan_id, "2") == "in_progress"
    async with signed_in_client(
        stack, await stack.login_link("unit", unit="市政务服务中心")
    ) as lead:
        page = (await lead.get(f"/tasks/{plan_id}/2")).text
        assert "按退回意见修改后重新提交" in page
        assert "数据接口未对接" in page
        assert "会签不同意" in page


async def test_the_coordinator_decides_an_extension_and_cancels(
    stack: ApiStack, plan_id: str
) -> None:
    """The lead asks for time; the coordinator's page shows the request and grants it; the
    due date moves; a cancellation needs a reason and closes the task (撤销)."""
    async with signed_in_client(stack, await stack.login_link("unit", unit="市信息办")) as lead:
        asked = await send_form(
            lead, plan_id, "3", "request-extension", new_due="2031-06-30", reason="需与省厅衔接"
        )
        assert asked.status_code == 303, asked.text
        page = (await lead.get(asked.headers["location"])).text
        assert "延期申请已提交，等待督查室决定。" in page
        assert "签收或退回；延期申请待督查室决定" in page
        assert 'id="form-request-extension"' not in page
    async with signed_in_client(stack, await stack.login_link("coordinator")) as office:
        page = (await office.get(f"/tasks/{plan_id}/3")).text
        assert "延期申请：延至2031-06-30" in page
        assert "决定延期申请" in page
        granted = await send_form(office, plan_id, "3", "decide-extension", approve="true")
        assert granted.status_code == 303
        page = (await office.get(granted.headers["location"])).text
        assert "2031年6月30日" in page
        assert 'id="form-decide-extension"' not in page
        no_reason = await send_form(office, plan_id, "3", "cancel", reason=" ")
        assert no_reason.status_code == 422
        assert 'id="error-cancel-reason"' in no_reason.text
        cancelled = await send_form(office, plan_id, "3", "cancel", reason="任务已并入其他计划")
        assert cancelled.status_code == 303
        page = (await office.get(cancelled.headers["location"])).text
        assert "任务已撤销。" in page
        assert 'id="task-no-actions"' in page
    assert await stage_of(stack, plan_id, "3") == "cancelled"
    kinds = await event_kinds(stack, plan_id, "3")
    assert kinds == ["assigned", "extension_requested", "extension_granted", "cancelled"]


async def test_the_page_after_an_action_shows_it_even_when_the_projection_lags(
    stack: ApiStack, plan_id: str
) -> None:
    """The projection is written by an activity after the workflow has answered. Held back
    here (its row locked), the post does not redirect until the row holds the action, so
    the page it leads to never shows the stage before the click."""
    async with signed_in_client(stack, await stack.login_link("unit", unit="市信息办")) as unit:
        page = await unit.get(f"/tasks/{plan_id}/3")
        form = {
            "csrf_token": hidden_field(page.text, "csrf_token"),
            "idempotency_key": hidden_field(page.text, "idempotency_key", "form-accept"),
        }
        blocker = await stack.pool.acquire()
        try:
            locked = blocker.transaction()
            await locked.start()
            await blocker.execute(
                "SELECT 1 FROM task_states WHERE workflow_id = $1 FOR UPDATE", f"{plan_id}/3"
            )
            post = asyncio.create_task(unit.post(f"/tasks/{plan_id}/3/accept", data=form))

            async def recorder_blocked() -> bool:
                waiting = await stack.pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database() AND query ILIKE '%task_states%'"
                )
                return bool(waiting)

            await wait_until(recorder_blocked, timeout=15, what="the recorder waiting")
            # The action is applied and its recording held back: a post that redirected
            # now would lead to a page that still reads 交办.
            finished, _ = await asyncio.wait({post}, timeout=1.0)
            if finished:
                early = await unit.get(post.result().headers["location"])
                assert 'data-stage="in_progress"' in early.text, "redirected before recording"
        finally:
            await locked.rollback()
            await stack.pool.release(blocker)
        answer = await post
        assert answer.status_code == 303
        after = await unit.get(answer.headers["location"])
        assert 'data-stage="in_progress"' in after.text


async def test_a_form_over_the_body_limit_gets_a_page_and_changes_nothing(
    stack: ApiStack, plan_id: str
) -> None:
    """Text pasted past the fields' maxlength (a script, an old browser) is stopped before
    the route as the API's bodies are, but answered as a page in Chinese."""
    async with signed_in_client(stack, await stack.login_link("unit", unit="市信息办")) as unit:
        page = await unit.get(f"/tasks/{plan_id}/3")
        assert 'name="reason" maxlength="2000"' in page.text
        form = {
            "csrf_token": hidden_field(page.text, "csrf_token"),
            "idempotency_key": hidden_field(page.text, "idempotency_key", "form-refuse"),
            "reason": "不属于本单位职责" * 3000,
        }
        refused = await unit.post(f"/tasks/{plan_id}/3/refuse", data=form)
        assert refused.status_code == 413
        assert refused.headers["content-type"].startswith("text/html")
        assert "提交的内容过大" in refused.text
    assert await event_kinds(stack, plan_id, "3") == ["assigned"]


async def test_a_re_dated_plans_task_page_says_its_dates_were_shifted(stack: ApiStack) -> None:
    """The task's own text still reads the document's dates: the page says they moved."""
    coordinator = await stack.token("coordinator")
    answer = await stack.upload(
        coordinator,
        unique_name("rebased.csv"),
        future_ledger(2030),
        accept_warnings=True,
        rebase_year="2032",
    )
    assert answer.status_code == 200, answer.text
    plan_id = answer.json()["plan_id"]
    years = answer.json()["rebased_years"]
    assert years > 0

    async def listed() -> bool:
        return bool(
            await stack.pool.fetchval(
                "SELECT count(*) FROM task_states WHERE plan_id = $1 AND task_id = '1'", plan_id
            )
        )

    await wait_until(listed, timeout=30, what="the re-dated task in the projection")
    async with signed_in_client(stack, await stack.login_link("coordinator")) as office:
        page = await office.get(f"/tasks/{plan_id}/1")
        assert page.status_code == 200
        assert f"日期已整体平移 +{years} 年" in page.text
