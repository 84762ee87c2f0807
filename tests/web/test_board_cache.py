"""The board's derived values (the notice's per-unit table, the waiting extension requests,
the units in view) are kept until the event log moves: a real event recomputes them, a
visit with nothing new does not, and a kept value is the one recomputing would give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.board import BoardCache, compute_unit_table
from tests.api.test_lifecycle_http import act, import_through_api, task_json
from tests.support.api import ApiStack
from tests.support.lifecycle import wait_until
from tests.support.plans import future_ledger, unique_name


async def test_the_unit_table_is_kept_until_an_event_lands(stack: ApiStack) -> None:
    coordinator = await stack.token("coordinator")
    plan = await import_through_api(stack, coordinator, unique_name("ledger.csv"), future_ledger())
    cache = BoardCache(wait_for_fresh=None)  # every visit waits for the recomputation
    first = await cache.unit_table(stack.pool, (plan,))
    assert not first.from_cache
    again = await cache.unit_table(stack.pool, (plan,))
    assert again.from_cache
    assert again.value == first.value
    assert {row.unit: row.refusals for row in first.value}["市信息办"] == 0

    lead = await stack.token("unit", unit="市信息办")
    await act(stack, lead, plan, "3", "refuse", {"reason": "不属于本单位职责"})

    async def refused() -> bool:
        return bool((await task_json(stack, coordinator, plan, "3"))["awaiting_reassignment"])

    await wait_until(refused, timeout=15, what="the refusal in the projection")
    after = await cache.unit_table(stack.pool, (plan,))
    assert not after.from_cache
    assert {row.unit: row.refusals for row in after.value}["市信息办"] == 1
    assert after.value == await compute_unit_table(stack.pool, (plan,), datetime.now(UTC))
    # Another scope is kept apart: every plan's table is computed on its own.
    assert not (await cache.unit_table(stack.pool, None)).from_cache


async def test_a_kept_value_expires_with_its_age(stack: ApiStack) -> None:
    """滞后 drifts with the clock without any event: a kept table is not served forever."""
    coordinator = await stack.token("coordinator")
    plan = await import_through_api(stack, coordinator, unique_name("ledger.csv"), future_ledger())
    cache = BoardCache(max_age=timedelta(0), wait_for_fresh=None, refresh_spacing=0)
    await cache.unit_table(stack.pool, (plan,))
    assert not (await cache.unit_table(stack.pool, (plan,))).from_cache


async def test_a_slow_recomputation_shows_the_kept_table_until_it_is_done(
    stack: ApiStack,
) -> None:
    """A visit that cannot wait for the fold is shown the table kept, said to be updating,
    with the instant it holds for; the next visit after the fold shows the new table."""
    coordinator = await stack.token("coordinator")
    plan = await import_through_api(stack, coordinator, unique_name("ledger.csv"), future_ledger())
    cache = BoardCache(wait_for_fresh=timedelta(0), refresh_spacing=0)
    kept = await cache.unit_table(stack.pool, (plan,))  # nothing kept yet: it waits
    assert not kept.updating
    lead = await stack.token("unit", unit="市信息办")
    await act(stack, lead, plan, "3", "refuse", {"reason": "不属于本单位职责"})

    async def refused() -> bool:
        return bool((await task_json(stack, coordinator, plan, "3"))["awaiting_reassignment"])

    await wait_until(refused, timeout=15, what="the refusal in the projection")
    lagging = await cache.unit_table(stack.pool, (plan,))
    assert lagging.updating
    assert lagging.value == kept.value
    assert lagging.as_of == kept.as_of
    await cache.settled()
    caught_up = await cache.unit_table(stack.pool, (plan,))
    assert not caught_up.updating
    assert caught_up.as_of > kept.as_of
    assert {row.unit: row.refusals for row in caught_up.value}["市信息办"] == 1


async def test_while_events_keep_landing_the_fold_waits_its_turn(stack: ApiStack) -> None:
    """A table recomputed a moment ago is not recomputed at once for the next event: the
    visit is shown the kept table, marked as updating, and no fold starts."""
    coordinator = await stack.token("coordinator")
    plan = await import_through_api(stack, coordinator, unique_name("ledger.csv"), future_ledger())
    cache = BoardCache(refresh_spacing=1e9)
    kept = await cache.unit_table(stack.pool, (plan,))
    await stack.pool.execute(
        "UPDATE task_states SET updated_at = clock_timestamp() WHERE plan_id = $1", plan
    )
    lagging = await cache.unit_table(stack.pool, (plan,))
    assert lagging.updating
    assert lagging.value == kept.value
    assert not cache._refreshing


async def test_the_api_start_computes_the_tables_its_coordinators_will_ask_for(
    stack: ApiStack,
) -> None:
    """warm_board (run by `duban api` as it starts): every plan, each active coordinator
    token's plans and each plan alone are kept before anyone visits."""
    from api.app import create_app
    from api.deps import ApiDependencies
    from web.board import board_cache, close_board, warm_board

    coordinator = await stack.token("coordinator")
    first = await import_through_api(stack, coordinator, unique_name("a.csv"), future_ledger())
    second = await import_through_api(stack, coordinator, unique_name("b.csv"), future_ledger())
    await stack.token("coordinator", plans=(first, second))
    app = create_app(ApiDependencies(pool=stack.pool, temporal=stack.temporal))
    try:
        await warm_board(app, stack.pool)
        cache = board_cache(app)
        for scope in (None, tuple(sorted((first, second))), (first,), (second,)):
            kept = await cache.unit_table(stack.pool, scope)
            assert kept.from_cache, scope
    finally:
        await close_board(app)
