"""The activation watcher against a real Redis server and the sandbox over real HTTP."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from redis.asyncio import Redis

from bot.provider.budget import ProviderBudget
from bot.sandbox import StatusChange
from bot.services.activations import ActivationService
from bot.services.balances import Balances
from bot.services.catalog import Catalog
from bot.services.notifications import PushRefused
from bot.services.purchase import PurchaseService
from bot.services.tokens import TokenService
from bot.store.activations import CloseReason, State
from bot.store.balances import BalanceStore
from bot.store.blocked import BlockedStore
from bot.store.catalog import CatalogCache
from bot.store.notices import NoticeStore
from bot.store.users import UserStore
from bot.watcher import ActivationWatcher, WatcherSettings
from tests.fixtures.sandbox import SandboxHandle
from tests.fixtures.watcher import (
    POLL_INTERVAL,
    Card,
    Push,
    RecordingNotifier,
    WatchWorld,
    eventually,
)


async def settle(intervals: float = 5) -> None:
    """Let a running watcher make a few more rounds (to see that nothing else happens)."""
    await asyncio.sleep(POLL_INTERVAL * intervals)


async def test_a_code_is_pushed_once_and_the_number_waits_for_its_expiry(
    any_protocol_world: WatchWorld,
) -> None:
    world = any_protocol_world
    record = await world.buy()
    world.start()
    await settle(2)
    assert world.notifier.pushes == []

    world.sandbox.deliver_sms(record.id, "123456")
    await eventually(lambda: world.notifier.pushes != [], what="the code to be pushed")
    await settle()

    assert world.notifier.codes_of(record.key) == ["123456"]
    stored = await world.record(record.key)
    assert stored.state is State.CODE
    assert stored.codes == ["123456"] and stored.delivered == 1
    assert stored.first_code_at is not None
    # Watched only for its expiry now: no more status checks until then.
    assert await world.store.next_due_at() == pytest.approx(stored.expires_at)
    checks = world.provider.status_checks[record.id]
    await settle()
    assert world.provider.status_checks[record.id] == checks


async def test_another_code_is_pushed_only_when_it_differs_from_the_ones_received(
    any_protocol_world: WatchWorld,
) -> None:
    world = any_protocol_world
    record = await world.buy()
    world.start()
    world.sandbox.deliver_sms(record.id, "111111")
    await eventually(lambda: world.notifier.pushes != [], what="the first code")

    await world.service.another_code(record.user_id, record.key)
    assert await world.state_of(record.key) is State.WAIT_RETRY
    checks = world.provider.status_checks[record.id]
    await eventually(
        lambda: world.provider.status_checks[record.id] >= checks + 3,
        what="the watcher to poll the number again",
    )
    assert world.notifier.codes_of(record.key) == ["111111"]  # the old code is not news

    world.sandbox.deliver_sms(record.id, "222222")
    await eventually(lambda: len(world.notifier.pushes) == 2, what="the second code")
    await settle()

    assert world.notifier.codes_of(record.key) == ["111111", "222222"]
    stored = await world.record(record.key)
    assert stored.state is State.CODE
    assert stored.codes == ["111111", "222222"] and stored.delivered == 2


async def test_after_another_code_an_sms_repeating_the_earlier_code_is_pushed(
    any_protocol_world: WatchWorld,
) -> None:
    """Services often send the same code again; once the provider said it waits for the new
    SMS, the repeated code is that new SMS and must reach the user."""
    world = any_protocol_world
    record = await world.buy()
    world.start()
    world.sandbox.deliver_sms(record.id, "454545")
    await eventually(lambda: world.notifier.pushes != [], what="the first code")

    await world.service.another_code(record.user_id, record.key)
    checks = world.provider.status_checks[record.id]
    await eventually(
        lambda: world.provider.status_checks[record.id] >= checks + 3,
        what="the watcher to poll the number again",
    )
    assert world.notifier.codes_of(record.key) == ["454545"]  # no SMS yet: nothing new

    world.sandbox.deliver_sms(record.id, "454545")
    await eventually(lambda: len(world.notifier.pushes) == 2, what="the repeated code")
    await settle()

    assert world.notifier.codes_of(record.key) == ["454545", "454545"]
    stored = await world.record(record.key)
    assert stored.state is State.CODE and stored.delivered == 2


async def test_no_code_before_the_timeout_cancels_and_the_money_returns(
    any_protocol_world: WatchWorld,
) -> None:
    world = any_protocol_world
    before = world.sandbox.balance(world.token)
    record = await world.buy(lifetime=1.0)
    assert world.sandbox.balance(world.token) == before - record.price
    world.start()

    await eventually(
        lambda: world.notifier.cards_of(record.key) != [], what="the card to say it timed out"
    )

    assert world.notifier.cards_of(record.key) == [
        Card(record.key, State.CANCELLED, CloseReason.TIMEOUT)
    ]
    stored = await world.record(record.key)
    assert stored.state is State.CANCELLED and stored.close_reason is CloseReason.TIMEOUT
    assert world.sandbox.activation(record.id).status == "cancelled"
    assert world.sandbox.balance(world.token) == before
    assert await world.store.watched_count() == 0


async def test_a_code_never_finished_is_finished_at_expiry(watch_world: WatchWorld) -> None:
    world = watch_world
    before = world.sandbox.balance(world.token)
    record = await world.buy(lifetime=1.5)
    world.start()
    world.sandbox.deliver_sms(record.id, "424242")

    finished = Card(record.key, State.FINISHED, CloseReason.TIMEOUT)
    await eventually(
        lambda: finished in world.notifier.cards_of(record.key), what="the number to be finished"
    )

    assert world.notifier.codes_of(record.key) == ["424242"]
    # The card showed the code, then that the number is finished.
    assert world.notifier.cards_of(record.key) == [Card(record.key, State.CODE, None), finished]
    assert world.sandbox.activation(record.id).status == "finished"
    assert world.sandbox.balance(world.token) == before - record.price  # paid: it was used
    assert await world.store.watched_count() == 0


async def test_a_refused_early_cancel_is_retried_until_it_goes_through(
    watch_world: WatchWorld,
) -> None:
    world = watch_world
    world.sandbox.configure(early_cancel_seconds=2.0)
    before = world.sandbox.balance(world.token)
    record = await world.buy(lifetime=0.3)
    world.start()

    await eventually(lambda: world.notifier.cards != [], what="the cancel to go through")

    stored = await world.record(record.key)
    assert stored.state is State.CANCELLED and stored.close_reason is CloseReason.TIMEOUT
    assert stored.closed_at is not None and stored.closed_at - stored.created_at >= 2.0
    assert world.sandbox.balance(world.token) == before


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        ("5xx", {"count": 12}),
        ("malformed", {"count": 12}),
        ("slow", {"delay": 0.6, "count": 6}),  # slower than the check allows (lease 1 s)
    ],
)
async def test_provider_faults_back_off_and_the_code_still_arrives_once(
    watch_world: WatchWorld, mode: str, options: dict[str, object]
) -> None:
    world = watch_world
    records = [await world.buy() for _ in range(3)]
    world.sandbox.set_fault(mode, methods=["get-sms"], **options)
    watcher = world.watcher(lease=1.0, max_backoff=1.0)
    world.start(watcher)
    for record in records:
        world.sandbox.deliver_sms(record.id, f"7{record.id[-5:]}")

    await eventually(lambda: len(world.notifier.pushes) == 3, what="every code")
    await settle()

    assert watcher.stats.poll_failures > 0
    for record in records:
        assert world.notifier.codes_of(record.key) == [f"7{record.id[-5:]}"]
        assert (await world.record(record.key)).delivered == 1


async def test_a_user_who_blocked_the_bot_gets_the_money_back(watch_world: WatchWorld) -> None:
    world = watch_world
    before = world.sandbox.balance(world.token)
    blocked, other = 2001, 2002
    with_code = await world.buy(blocked)
    waiting = [await world.buy(blocked) for _ in range(2)]
    others = await world.buy(other)
    world.notifier.gone_users.add(blocked)
    world.start()

    world.sandbox.deliver_sms(with_code.id, "555555")
    await eventually(
        lambda: world.sandbox.activation(waiting[-1].id).status == "cancelled",
        what="the blocked user's numbers to be cancelled",
    )
    await eventually(
        lambda: world.sandbox.activation(with_code.id).status == "finished",
        what="the number with an undeliverable code to be finished",
    )

    async def all_closed() -> bool:  # the record is closed right after the provider call
        return not any([(await world.record(r.key)).is_open for r in [*waiting, with_code]])

    await eventually(all_closed, what="the records to be closed")

    for record in waiting:
        stored = await world.record(record.key)
        assert stored.state is State.CANCELLED and stored.close_reason is CloseReason.BLOCKED
    stored = await world.record(with_code.key)
    assert stored.state is State.FINISHED and stored.close_reason is CloseReason.BLOCKED
    assert stored.codes == ["555555"] and stored.delivered == 0
    # Only the used number is paid for; the other user's number is untouched.
    assert world.sandbox.balance(world.token) == before - with_code.price - others.price
    assert (await world.record(others.key)).state is State.WAITING
    assert world.notifier.pushes == [] and world.notifier.cards == []


async def test_a_number_cancelled_at_the_provider_is_closed_and_the_card_says_so(
    any_protocol_world: WatchWorld,
) -> None:
    world = any_protocol_world
    record = await world.buy()
    world.start()
    await settle(2)

    world.sandbox.state.change_status(world.token, int(record.id), StatusChange.CANCEL)
    await eventually(lambda: world.notifier.cards != [], what="the card update")

    assert world.notifier.cards == [Card(record.key, State.CANCELLED, CloseReason.PROVIDER)]
    assert await world.store.watched_count() == 0


async def test_a_number_gone_at_the_provider_is_closed(watch_world: WatchWorld) -> None:
    world = watch_world
    world.sandbox.configure(activation_lifetime=5)
    record = await world.buy()
    world.start()
    await settle(2)

    world.sandbox.advance(10)  # expired at the provider: "Current request not exists"
    await eventually(lambda: world.notifier.cards != [], what="the card update")

    stored = await world.record(record.key)
    assert stored.state is State.CANCELLED and stored.close_reason is CloseReason.PROVIDER
    assert world.notifier.cards == [Card(record.key, State.CANCELLED, CloseReason.PROVIDER)]


async def test_a_code_recorded_but_not_pushed_is_pushed_by_the_next_check(
    watch_world: WatchWorld,
) -> None:
    world = watch_world
    record = await world.buy(first_check_in=0)
    # A watcher died right after recording the code (before pushing it).
    record.state = State.CODE
    await world.store.record_code(record, "909090", record.created_at)
    world.sandbox.deliver_sms(record.id, "909090")

    world.start()
    await eventually(lambda: world.notifier.pushes != [], what="the recorded code")
    await settle()

    assert world.notifier.codes_of(record.key) == ["909090"]
    assert (await world.record(record.key)).delivered == 1
    assert world.provider.status_checks.get(record.id, 0) == 0  # pushed without a poll
    # Scheduled for its expiry, not checked again before.
    assert await world.store.next_due_at() == pytest.approx(record.expires_at)


async def test_stopped_and_restarted_every_code_that_arrived_meanwhile_is_delivered(
    watch_world: WatchWorld,
) -> None:
    world = watch_world
    records = [await world.buy(3000 + n) for n in range(10)]
    stop, task = world.start()
    await settle(3)
    stop.set()
    await task  # graceful: in-flight checks finish

    for n, record in enumerate(records):
        world.sandbox.deliver_sms(record.id, f"{n:06d}")
    await settle(3)
    assert world.notifier.pushes == []

    world.start()
    await eventually(lambda: len(world.notifier.pushes) == 10, what="every code")
    await settle()
    assert sorted(push.code for push in world.notifier.pushes) == [f"{n:06d}" for n in range(10)]


async def test_a_slow_notifier_does_not_hold_up_status_checks(watch_world: WatchWorld) -> None:
    world = watch_world
    slow = RecordingNotifier(delay=2.0)
    records = [await world.buy(4000 + n) for n in range(6)]
    watcher = world.watcher(notifier=slow, notify_concurrency=1, concurrency=4)
    world.start(watcher)
    for record in records[:3]:
        world.sandbox.deliver_sms(record.id)

    await eventually(lambda: slow.attempts >= 1, what="the first (slow) push to start")
    checks = {r.id: world.provider.status_checks.get(r.id, 0) for r in records[3:]}
    await eventually(
        lambda: all(
            world.provider.status_checks.get(r.id, 0) >= checks[r.id] + 3 for r in records[3:]
        ),
        within=1.9,
        what="the waiting numbers to be polled while the notifier is busy",
    )
    await eventually(lambda: len(slow.pushes) == 3, what="every code")
    assert len({push.key for push in slow.pushes}) == 3


async def test_two_watchers_and_a_push_slower_than_the_lock_still_push_once(
    watch_world: WatchWorld,
) -> None:
    world = watch_world
    slow = RecordingNotifier(delay=1.5)
    records = [await world.buy(4500 + n) for n in range(5)]
    # Leases and locks far shorter than the push: without renewing the lock, the second
    # watcher would take over the activation mid-push and push the code again.
    options = {"notifier": slow, "lease": 0.5, "lock_timeout": 0.3}
    world.start(world.watcher(**options))
    world.start(world.watcher(**options))
    for record in records:
        world.sandbox.deliver_sms(record.id, f"6{record.id[-5:]}")

    await eventually(lambda: len(slow.pushes) == 5, what="every code")
    await asyncio.sleep(2.0)  # longer than a push: a second one would have landed

    assert sorted(push.key for push in slow.pushes) == sorted(r.key for r in records)


async def test_card_refreshes_are_capped_in_all(watch_world: WatchWorld) -> None:
    world = watch_world
    records = [await world.buy(5000 + n) for n in range(20)]
    watcher = world.watcher(card_refresh_every=0.1, card_refresh_rate=5)
    world.start(watcher)
    await eventually(lambda: watcher.stats.cards_skipped > 20, what="refreshes over the cap")
    await world.stop_all()

    assert watcher.stats.cards >= 5
    assert len(world.notifier.cards) == watcher.stats.cards
    # 20 numbers due for a refresh every 0.1 s would be 200 a second; the cap is 5 a second.
    refreshed_at = sorted([(await world.record(r.key)).card_refreshed_at for r in records])
    refreshed_at = [at for at in refreshed_at if at]
    span = refreshed_at[-1] - refreshed_at[0]
    assert len(refreshed_at) <= 5 + 5 * span + 1


async def test_when_the_budget_is_short_every_number_is_checked_alike_and_it_is_logged_once(
    redis: Redis, sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture
) -> None:
    # 30 numbers every 0.2 s would need 150 requests a second; the budget is 30.
    world = WatchWorld(redis, sandbox, budget=ProviderBudget(30, 1000))
    try:
        records = [await world.buy(6000 + n, first_check_in=0) for n in range(30)]
        watcher = world.watcher(health_every=0.3)
        caplog.set_level(logging.INFO, logger="bot.watcher")
        world.start(watcher)
        await eventually(
            lambda: sum(world.provider.status_checks.values()) >= 30 * 8,
            what="eight rounds of checks",
        )
        await world.stop_all()
    finally:
        await world.aclose()

    counts = [world.provider.status_checks[r.id] for r in records]
    assert max(counts) - min(counts) <= 2  # oldest first: nobody starves
    behind = [r for r in caplog.records if "Falling behind" in r.getMessage()]
    assert len(behind) == 1
    assert "SMSMAN_MAX_RPS" in behind[0].getMessage()


async def test_only_what_is_due_is_checked(watch_world: WatchWorld) -> None:
    world = watch_world
    records = [await world.buy(7000 + n, first_check_in=0) for n in range(3)]
    later = await world.buy(7010, first_check_in=60)
    world.start()

    await eventually(
        lambda: set(world.provider.status_checks) == {r.id for r in records},
        what="the due numbers to be checked",
    )
    await settle()
    assert later.id not in world.provider.status_checks


async def test_a_number_bought_through_the_purchase_service_gets_its_code(
    watch_world: WatchWorld, redis: Redis
) -> None:
    world = watch_world
    users = UserStore(redis, world.cipher)
    catalog = Catalog(world.provider, CatalogCache(redis, world.provider.name))
    purchase = PurchaseService(
        world.provider,
        redis,
        users,
        world.store,
        catalog,
        Balances(world.provider, BalanceStore(redis)),
        activation_timeout=60,
        poll_interval=POLL_INTERVAL,
    )
    user = 8001
    await users.set_token(user, world.token)
    service_id, country_id, _ = world.offer()
    quote = await purchase.quote(user, service_id, country_id)
    record = await purchase.buy(user, chat_id=user, message_id=9, nonce=quote.nonce, language="en")
    await catalog.aclose()
    world.start()

    world.sandbox.deliver_sms(record.id, "313131")
    await eventually(lambda: world.notifier.pushes != [], what="the code")

    assert world.notifier.pushes == [Push(record.key, user, "313131")]


async def test_an_unreadable_record_is_dropped_and_the_others_are_checked(
    watch_world: WatchWorld, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    world = watch_world
    good = await world.buy(first_check_in=0)
    await redis.set("smsbot:act:v2:42", '{"provider": "v2", "id": "42", "broken": ')
    await redis.zadd("smsbot:watch:due", {"v2:42": 0})

    world.start()
    await eventually(lambda: good.id in world.provider.status_checks, what="the good number")

    assert set(world.provider.status_checks) == {good.id}
    assert await redis.zscore("smsbot:watch:due", "v2:42") is None
    assert "v2:42 cannot be read" in caplog.text


async def test_a_button_pressed_during_a_check_wins_over_the_checks_reschedule(
    watch_world: WatchWorld,
) -> None:
    world = watch_world
    record = await world.buy(first_check_in=0)
    claimed_at = time.time() + 1
    [claimed] = await world.store.claim_due_records(claimed_at, 10.0, 10)
    assert claimed.key == record.key
    # While the check runs, "another code" re-watches the number for a check in 0.2 s...
    await world.store.watch(record.key, claimed_at + 0.2)
    # ...and the check's own decision, made on what it read before, arrives afterwards.
    assert await world.store.reschedule_claimed([(record.key, claimed_at + 10.0, 9e9)]) == 0
    assert await world.store.next_due_at() == pytest.approx(claimed_at + 0.2)
    # Without the button, the check's decision applies.
    [again] = await world.store.claim_due_records(claimed_at + 1, 10.0, 10)
    assert await world.store.reschedule_claimed([(again.key, claimed_at + 11.0, 9e9)]) == 1
    assert await world.store.next_due_at() == pytest.approx(9e9)


async def test_a_cancelled_watcher_leaves_no_task_behind(watch_world: WatchWorld) -> None:
    world = watch_world
    records = [await world.buy(8500 + n, first_check_in=0) for n in range(5)]
    world.sandbox.set_fault("slow", delay=3.0, methods=["get-sms"])
    task = asyncio.create_task(world.watcher().run(asyncio.Event()))
    await eventually(
        lambda: len(world.provider.status_checks) == len(records), what="checks in flight"
    )

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    def watchers_tasks() -> list[asyncio.Task[object]]:
        return [
            t
            for t in asyncio.all_tasks()
            if getattr(t.get_coro(), "__qualname__", "").startswith("ActivationWatcher.")
        ]

    assert watchers_tasks() == []


async def test_a_card_edit_that_fails_or_hangs_never_pushes_the_code_twice(
    watch_world: WatchWorld,
) -> None:
    world = watch_world
    world.notifier.card_delay = 5.0  # every card edit hangs past the notify timeout
    record = await world.buy()
    world.start(world.watcher(notify_timeout=0.5))

    world.sandbox.deliver_sms(record.id, "515151")
    await eventually(lambda: world.notifier.pushes != [], what="the code")
    await settle(10)

    assert world.notifier.codes_of(record.key) == ["515151"]
    assert (await world.record(record.key)).delivered == 1


async def test_a_code_telegram_keeps_refusing_does_not_keep_the_number_open(
    watch_world: WatchWorld,
) -> None:
    world = watch_world
    world.notifier.push_errors = [PushRefused("can't parse entities")] * 10
    record = await world.buy(lifetime=3.0)
    world.start()
    world.sandbox.deliver_sms(record.id, "626262")

    finished = Card(record.key, State.FINISHED, CloseReason.TIMEOUT)
    await eventually(lambda: finished in world.notifier.cards, what="the number to be finished")

    assert world.notifier.pushes == []
    assert 0 < len(world.notifier.push_errors) < 10  # tried a few times, then gave up
    stored = await world.record(record.key)
    assert stored.codes == ["626262"]  # kept: the card and /numbers show it
    assert world.sandbox.activation(record.id).status == "finished"
    assert await world.store.watched_count() == 0


async def test_a_push_that_fails_after_the_number_closed_is_tried_again(
    watch_world: WatchWorld,
) -> None:
    world = watch_world
    # Telegram is unreachable for a while: every push fails until it is back.
    world.notifier.push_errors = [ConnectionError("Telegram unreachable")] * 4
    record = await world.buy(lifetime=1.0)
    world.start()
    world.sandbox.deliver_sms(record.id, "737373")

    await eventually(
        lambda: world.notifier.codes_of(record.key) == ["737373"], within=30, what="the code"
    )

    stored = await world.record(record.key)
    assert stored.state is State.FINISHED and stored.delivered == 1
    assert await world.store.watched_count() == 0


async def test_a_user_who_blocked_the_bot_and_came_back_keeps_new_numbers(
    watch_world: WatchWorld,
) -> None:
    world = watch_world
    blocked = BlockedStore(world.redis)
    await blocked.mark(2101)  # blocked the bot once (seen by any process)...
    await blocked.clear(2101)  # ...and came back (any update from them says so)
    record = await world.buy(2101)
    world.start()
    await settle(3)
    world.sandbox.deliver_sms(record.id, "818181")

    await eventually(lambda: world.notifier.pushes != [], what="the code")
    assert world.notifier.codes_of(record.key) == ["818181"]
    assert world.sandbox.activation(record.id).status != "cancelled"


async def test_a_blocked_users_number_is_still_polled_so_an_early_code_is_not_lost(
    watch_world: WatchWorld,
) -> None:
    world = watch_world
    await BlockedStore(world.redis).mark(2201)
    world.notifier.gone_users.add(2201)
    record = await world.buy(2201, lifetime=5.0)
    world.sandbox.deliver_sms(record.id, "929292")  # before the first check: cannot cancel
    world.start()

    async def closed() -> bool:
        return not (await world.record(record.key)).is_open

    await eventually(closed, what="the number to be closed")
    stored = await world.record(record.key)
    assert stored.codes == ["929292"]  # recorded: shown when the user comes back
    assert stored.state is State.FINISHED and stored.close_reason is CloseReason.BLOCKED
    assert await world.store.watched_count() == 0


async def test_blocked_users_are_shared_by_every_watcher_through_redis(
    watch_world: WatchWorld,
) -> None:
    world = watch_world
    record = await world.buy(2301)
    await BlockedStore(world.redis).mark(2301)  # e.g. another process saw the 403
    before = world.sandbox.balance(world.token)
    world.start()

    await eventually(
        lambda: world.sandbox.activation(record.id).status == "cancelled",
        what="the blocked user's number to be cancelled",
    )
    assert world.sandbox.balance(world.token) == before + record.price


async def test_a_token_revoked_at_the_provider_is_told_once_and_a_new_one_takes_over(
    watch_world: WatchWorld, redis: Redis
) -> None:
    world = watch_world
    user = 2401
    users = UserStore(redis, world.cipher)
    tokens = TokenService(
        world.provider,
        users,
        world.store,
        world.cipher,
        NoticeStore(redis),
        Balances(world.provider, BalanceStore(redis)),
    )
    await users.set_token(user, world.token)
    records = [await world.buy(user) for _ in range(2)]
    world.start()
    await settle(2)

    world.sandbox.state.regenerate_token(world.token, "regenerated-key-2401")
    await eventually(lambda: world.notifier.token_notices != [], what="the user to be told")
    checks = sum(world.provider.status_checks.get(r.id, 0) for r in records)
    await settle(10)

    assert len(world.notifier.token_notices) == 1  # once, not at every check
    # It backs off instead of hammering: far fewer checks than one per interval each.
    later = sum(world.provider.status_checks.get(r.id, 0) for r in records)
    assert later - checks < 10

    await tokens.set_token(user, "regenerated-key-2401")  # the user sends /token <new>
    world.sandbox.deliver_sms(records[0].id, "373737")
    await eventually(lambda: world.notifier.pushes != [], what="the code, with the new token")
    assert world.notifier.codes_of(records[0].key) == ["373737"]


async def test_numbers_bought_before_the_protocol_changed_are_still_watched_and_cancelled(
    redis: Redis, sandbox: SandboxHandle
) -> None:
    """SMSMAN_PROTOCOL went from compat to v2 with numbers open: they are asked about, and
    cancelled, over the protocol they were bought on."""
    before = WatchWorld(redis, sandbox, "compat")
    after = WatchWorld(redis, sandbox, "v2")
    try:
        with_code = await before.buy(2501)
        no_code = await before.buy(2502, lifetime=1.5)
        service = ActivationService(
            after.provider,
            after.store,
            before.cipher,
            poll_interval=POLL_INTERVAL,
            former=before.provider,
        )
        watcher = ActivationWatcher(
            after.store,
            service,
            after.notifier,
            WatcherSettings(poll_interval=POLL_INTERVAL),
            blocked=BlockedStore(redis),
        )
        after.start(watcher)
        sandbox.deliver_sms(with_code.id, "565656")

        await eventually(lambda: after.notifier.pushes != [], what="the code")
        await eventually(
            lambda: sandbox.activation(no_code.id).status == "cancelled",
            what="the number without a code to be cancelled at its time",
        )
        assert after.notifier.codes_of(with_code.key) == ["565656"]
    finally:
        await after.aclose()
        await before.aclose()
