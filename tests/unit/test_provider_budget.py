"""The provider budget on virtual time: taps before status checks, each key at its rate, the
background lane first come first served, and nothing lost or leaked by a cancelled caller."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
import pytest

from bot.provider.budget import Lane, ProviderBudget, RateLimiter
from bot.provider.http import post_form
from tests.support.virtual_time import VirtualTime

Sent = list[tuple[str, float]]


def budget_on(
    time: VirtualTime, rate: float, account_rate: float, **options: float
) -> ProviderBudget:
    return ProviderBudget(rate, account_rate, clock=time.clock, sleep=time.sleep, **options)


async def send(
    budget: ProviderBudget, token: str, lane: Lane, sent: Sent, label: str, time: VirtualTime
) -> None:
    """One provider call: waits for the budget, then notes when it went out."""
    await budget.acquire(token, lane)
    sent.append((label, time.now))


def times_of(sent: Sent, label: str) -> list[float]:
    return [at for name, at in sent if name == label]


def assert_within_rate(times: Sequence[float], rate: float, burst: float) -> None:
    """No window of t seconds holds more than burst + rate * t of `times`."""
    ordered = sorted(times)
    for first in range(len(ordered)):
        for last in range(first, len(ordered)):
            span = ordered[last] - ordered[first]
            assert last - first + 1 <= burst + rate * span + 1e-6


# -- a tap before the watcher's backlog ----------------------------------------------------


async def test_a_tap_goes_out_within_one_slot_while_hundreds_of_status_checks_wait() -> None:
    time = VirtualTime()
    budget = budget_on(time, rate=10, account_rate=1000, burst=1)  # no burst to help the tap
    sent: Sent = []
    checks = [
        asyncio.create_task(send(budget, f"user{n}", Lane.BACKGROUND, sent, "check", time))
        for n in range(300)
    ]
    await time.advance(2.0)
    assert len(times_of(sent, "check")) == 21  # one at once, then ten a second
    tapped_at = time.now

    await time.run(send(budget, "tapper", Lane.INTERACTIVE, sent, "tap", time))

    assert times_of(sent, "tap")[0] - tapped_at <= 1 / 10 + 1e-9
    await time.run(asyncio.gather(*checks))
    assert len(sent) == 301  # the checks behind it moved by one slot, none was dropped
    assert_within_rate([at for _, at in sent], rate=10, burst=1)


async def test_the_watcher_takes_what_taps_leave_and_taps_never_queue_behind_it() -> None:
    time = VirtualTime()
    budget = budget_on(time, rate=10, account_rate=1000, burst=1)
    sent: Sent = []
    started = time.now
    checks = [
        asyncio.create_task(send(budget, f"user{n}", Lane.BACKGROUND, sent, "check", time))
        for n in range(200)
    ]

    async def taps() -> None:  # users tapping 6 calls a second, each waited for
        for n in range(60):
            asked = time.now
            await send(budget, f"tapper{n % 7}", Lane.INTERACTIVE, sent, "tap", time)
            assert time.now - asked <= 1 / 10 + 1e-9
            await time.sleep(max(0.0, started + (n + 1) / 6 - time.now))

    await time.run(taps())
    elapsed = time.now - started
    checks_done = len(times_of(sent, "check"))
    # The budget was used in full: what the taps left went to the checks.
    assert checks_done + 60 >= 10 * elapsed - 1
    assert checks_done <= 1 + 4 * elapsed + 2
    assert_within_rate([at for _, at in sent], rate=10, burst=1)
    for check in checks:
        check.cancel()
    await asyncio.gather(*checks, return_exceptions=True)


async def test_a_crowd_buying_at_once_is_not_queued_while_the_watcher_keeps_polling() -> None:
    """40 users tap ✅ Buy in the same moment, at SMSMAN_MAX_RPS=100 with the watcher using
    what taps leave: every purchase goes out at once (none waits behind another user's), and
    the process still keeps to 1.5 times its rate in any second."""
    time = VirtualTime()
    budget = budget_on(time, rate=100, account_rate=5)  # the defaults' burst
    sent: Sent = []
    checks = [
        asyncio.create_task(send(budget, f"polled{n}", Lane.BACKGROUND, sent, "check", time))
        for n in range(400)
    ]
    await time.advance(1.0)  # the watcher busy at the full rate
    crowd_at = time.now

    await time.run(
        asyncio.gather(
            *(send(budget, f"buyer{n}", Lane.INTERACTIVE, sent, "buy", time) for n in range(40))
        )
    )

    assert times_of(sent, "buy") == [crowd_at] * 40
    await time.run(asyncio.gather(*checks))
    for start in sorted(at for _, at in sent):
        in_a_second = [at for _, at in sent if start <= at < start + 1.0]
        assert len(in_a_second) <= 150


async def test_status_checks_go_out_evenly_and_the_burst_is_kept_for_taps() -> None:
    time = VirtualTime()
    budget = budget_on(time, rate=10, account_rate=1000, burst=5)
    sent: Sent = []
    await time.advance(60)  # a quiet minute: the bucket is full
    checks = [
        asyncio.create_task(send(budget, f"user{n}", Lane.BACKGROUND, sent, "check", time))
        for n in range(30)
    ]
    await time.advance(1.0)
    assert_within_rate(times_of(sent, "check"), rate=10, burst=1)  # no burst after a pause
    crowd_at = time.now

    await time.run(
        asyncio.gather(
            *(send(budget, f"tapper{n}", Lane.INTERACTIVE, sent, "tap", time) for n in range(4))
        )
    )

    assert times_of(sent, "tap") == [crowd_at] * 4  # four users tapping together: no wait
    await time.run(asyncio.gather(*checks))
    assert_within_rate([at for _, at in sent], rate=10, burst=5)


async def test_the_background_lane_is_first_come_first_served() -> None:
    time = VirtualTime()
    budget = budget_on(time, rate=20, account_rate=4, account_burst=2)
    sent: Sent = []
    # Different keys, and many calls of one key (held to its own rate): both keep their order.
    calls = [send(budget, f"user{n}", Lane.BACKGROUND, sent, f"other{n}", time) for n in range(30)]
    calls += [send(budget, "busy", Lane.BACKGROUND, sent, f"busy{n}", time) for n in range(10)]

    await time.run(asyncio.gather(*calls))

    labels = [label for label, _ in sent]
    assert [x for x in labels if x.startswith("other")] == [f"other{n}" for n in range(30)]
    assert [x for x in labels if x.startswith("busy")] == [f"busy{n}" for n in range(10)]


# -- each key at its rate --------------------------------------------------------------------


async def test_one_key_is_held_to_its_rate_and_nobody_elses_calls_wait_for_it() -> None:
    time = VirtualTime()
    budget = budget_on(time, rate=1000, account_rate=5, account_burst=5)
    sent: Sent = []
    heavy = [
        asyncio.create_task(send(budget, "reseller", Lane.BACKGROUND, sent, "heavy", time))
        for _ in range(40)
    ]
    await time.settle()
    started = time.now
    light = [send(budget, f"user{n}", Lane.BACKGROUND, sent, "light", time) for n in range(20)]

    await time.run(asyncio.gather(*light))

    # The others waited for the process's slots only (status checks go out one per slot),
    # not for the busy key's next slots, a fifth of a second each.
    assert max(times_of(sent, "light")) - started <= (1 + 20) / 1000 + 1e-9
    await time.run(asyncio.gather(*heavy))
    heavy_times = times_of(sent, "heavy")
    # Evenly at the key's rate, and no slower; its burst is kept for its user's taps.
    assert_within_rate(heavy_times, rate=5, burst=1)
    assert max(heavy_times) - min(heavy_times) == pytest.approx(39 / 5)


async def test_a_tap_of_a_busy_key_goes_before_that_keys_status_checks() -> None:
    time = VirtualTime()
    budget = budget_on(time, rate=1000, account_rate=5)
    sent: Sent = []
    checks = [
        asyncio.create_task(send(budget, "reseller", Lane.BACKGROUND, sent, "check", time))
        for _ in range(30)
    ]
    await time.advance(1.0)
    tapped_at = time.now

    await time.run(send(budget, "reseller", Lane.INTERACTIVE, sent, "tap", time))

    assert times_of(sent, "tap")[0] - tapped_at <= 1 / 5 + 1e-9
    assert len(times_of(sent, "check")) <= 10  # 20 of the key's checks were still waiting
    await time.run(asyncio.gather(*checks))
    assert_within_rate([at for _, at in sent], rate=5, burst=5)


async def test_post_form_waits_for_the_budget_of_its_key() -> None:
    time = VirtualTime()
    budget = budget_on(time, rate=1000, account_rate=2, account_burst=1)
    arrived: list[tuple[str, float]] = []

    def provider(request: httpx.Request) -> httpx.Response:
        arrived.append((request.content.decode(), time.now))
        return httpx.Response(200, text="ACCESS_BALANCE:1.00")

    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as http:
        await time.run(
            asyncio.gather(
                *(
                    post_form(http, "https://p.test/", {"api_key": key}, budget=lane, token=key)
                    for key, lane in [
                        ("K", budget.background),
                        ("K", budget.background),
                        ("K", budget.interactive),
                        ("L", budget.background),
                    ]
                )
            )
        )

    start = arrived[0][1]
    assert [at - start for body, at in arrived if body == "api_key=K"] == [0.0, 0.5, 1.0]
    # L did not wait for K: only for the process's next slot (a thousandth of a second).
    assert [at - start for body, at in arrived if body == "api_key=L"] == [
        pytest.approx(0.0, abs=0.002)
    ]


# -- cancelled callers -------------------------------------------------------------------------


async def test_a_cancelled_waiter_takes_no_slot() -> None:
    time = VirtualTime()
    limiter = RateLimiter(10, clock=time.clock, sleep=time.sleep)
    await limiter.acquire()
    started = time.now
    sent: list[tuple[int, float]] = []

    async def call(n: int) -> None:
        await limiter.acquire(Lane.BACKGROUND)
        sent.append((n, time.now))

    waiters = [asyncio.create_task(call(n)) for n in range(3)]
    await time.settle()
    waiters[1].cancel()
    await time.run(asyncio.gather(waiters[0], waiters[2]))

    # The third caller got the second slot; the cancelled one's turn was not spent.
    assert [(n, round(at - started, 6)) for n, at in sent] == [(0, 0.1), (2, 0.2)]


async def test_a_slot_granted_to_a_caller_cancelled_before_it_ran_goes_to_the_next() -> None:
    time = VirtualTime()
    limiter = RateLimiter(1, clock=time.clock, sleep=time.sleep)
    await limiter.acquire()  # the only slot of this second
    first = asyncio.create_task(limiter.acquire())
    second = asyncio.create_task(limiter.acquire(Lane.BACKGROUND))
    await time.settle()

    limiter.give_back()  # the slot above was not used after all: it goes to `first` ...
    first.cancel()  # ... which is cancelled before it could use it
    await time.settle()

    assert second.done()  # `first`'s slot was passed on at once, not a second later
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_call_cancelled_while_waiting_for_the_process_gives_its_keys_slot_back() -> None:
    time = VirtualTime()
    budget = budget_on(time, rate=10, account_rate=1, burst=1, account_burst=1)
    await budget.acquire("someone", Lane.INTERACTIVE)  # the process's slot for now
    started = time.now
    cancelled = asyncio.create_task(budget.acquire("K", Lane.INTERACTIVE))
    await time.settle()  # it holds K's one slot and waits for the process
    cancelled.cancel()
    await time.settle()

    await time.run(budget.acquire("K", Lane.INTERACTIVE))

    # K's slot was given back: the next call of K waited for the process only (0.1 s), not
    # a whole second for K's next slot.
    assert time.now - started == pytest.approx(0.1)


async def test_no_task_outlives_cancelled_callers() -> None:
    time = VirtualTime()
    budget = budget_on(time, rate=1, account_rate=1)
    callers = [asyncio.create_task(budget.acquire(f"user{n % 3}", Lane(n % 2))) for n in range(20)]
    await time.settle()
    for caller in callers:
        caller.cancel()
    await asyncio.gather(*callers, return_exceptions=True)
    await time.settle()

    assert asyncio.all_tasks() == {asyncio.current_task()}
    await time.run(budget.acquire("user0", Lane.BACKGROUND))  # and it still serves


# -- memory, pacing, the old guarantees ---------------------------------------------------------


async def test_keys_nobody_used_for_a_while_are_forgotten() -> None:
    time = VirtualTime()
    budget = budget_on(time, rate=1e6, account_rate=5)
    for n in range(1000):
        await time.run(budget.acquire(f"user-{n}", Lane.INTERACTIVE))
    assert budget.keys_held == 1000
    await time.advance(2.0)  # every one of them is full again: nothing to remember

    for _ in range(600):
        await time.run(budget.acquire("regular", Lane.BACKGROUND))
        await time.advance(0.2)

    assert budget.keys_held == 1
    assert "user-" not in repr(budget)


async def test_a_limiter_woken_late_hands_out_the_slots_it_missed() -> None:
    time = VirtualTime()

    async def late_sleep(delay: float) -> None:  # a busy event loop
        await time.sleep(delay + 0.25)

    limiter = RateLimiter(10, clock=time.clock, sleep=late_sleep)
    started = time.now
    sent: list[float] = []

    async def call() -> None:
        await limiter.acquire(Lane.BACKGROUND)
        sent.append(time.now)

    callers = [asyncio.create_task(call()) for _ in range(40)]
    await time.advance(3.0)

    # About 10 a second despite the lateness (a limiter that lost missed slots: ~3 a second).
    assert len(sent) >= 28
    assert len(sent) <= 1 + 10 * (time.now - started)
    for caller in callers:
        caller.cancel()
    await asyncio.gather(*callers, return_exceptions=True)


async def test_callers_beyond_the_rate_wait_for_their_turn() -> None:
    time = VirtualTime()
    limiter = RateLimiter(5, clock=time.clock, sleep=time.sleep)
    sent: list[float] = []

    async def call() -> None:
        await limiter.acquire()
        sent.append(time.now)

    await time.run(asyncio.gather(*(call() for _ in range(12))))

    assert_within_rate(sent, rate=5, burst=1)
    assert sent[-1] - sent[0] == pytest.approx(11 / 5)


async def test_an_idle_limiter_lets_a_burst_through_at_once_but_stores_no_flood() -> None:
    time = VirtualTime()
    limiter = RateLimiter(5, burst=2, clock=time.clock, sleep=time.sleep)
    await limiter.acquire()
    await time.advance(60)  # a quiet minute
    started = time.now
    await time.run(asyncio.gather(limiter.acquire(), limiter.acquire()))
    assert time.now == started  # the burst is free…
    await time.run(limiter.acquire())
    assert time.now - started == pytest.approx(0.2)  # …but capped at 2, not 300


def test_try_acquire_says_no_when_the_bucket_is_empty_and_yes_after_a_refill() -> None:
    """The non-blocking side (the watcher's card-refresh cap): `burst` at once, then `rate`/s."""
    time = VirtualTime()
    limiter = RateLimiter(4, burst=4, clock=time.clock, sleep=time.sleep)

    assert [limiter.try_acquire() for _ in range(6)] == [True] * 4 + [False] * 2
    time.now += 0.5  # two slots refilled
    assert [limiter.try_acquire() for _ in range(3)] == [True, True, False]


async def test_the_limiter_paces_real_calls() -> None:
    limiter = RateLimiter(1000)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(limiter.acquire(Lane.BACKGROUND) for _ in range(50)))
    # 50 calls at 1000/s cannot all pass at once: at least ~49 ms of pacing happened.
    assert loop.time() - started >= 0.045


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (5, 0.5)])
def test_a_limiter_without_a_usable_rate_is_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst=burst)


def test_a_budget_without_a_usable_rate_per_key_is_refused() -> None:
    with pytest.raises(ValueError):
        ProviderBudget(10, 0)
