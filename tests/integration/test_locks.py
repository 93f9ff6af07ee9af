"""The activation lock the buttons and the watcher share, on a real Redis."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from bot.store.activations import ActivationStore
from bot.store.locks import LockBusy, held


async def test_a_second_holder_is_told_busy_instead_of_waiting_for_ever(redis: Redis) -> None:
    store = ActivationStore(redis)
    async with held(store.lock("v2:1", timeout=10, wait=1)):
        with pytest.raises(LockBusy):
            async with held(store.lock("v2:1", timeout=10, wait=0.2)):
                pytest.fail("two holders at once")
    async with held(store.lock("v2:1", timeout=10, wait=0.2)):
        pass  # released: free again


async def test_a_renewed_lock_outlives_its_timeout_while_the_body_runs(redis: Redis) -> None:
    store = ActivationStore(redis)
    async with held(store.lock("v2:2", timeout=0.6, wait=1), renew=True):
        await asyncio.sleep(1.5)  # a slow push, two and a half timeouts long
        with pytest.raises(LockBusy):
            async with held(store.lock("v2:2", timeout=10, wait=0.1)):
                pytest.fail("the lock lapsed under a live holder")


async def test_an_unrenewed_lock_lapses_and_its_release_is_harmless(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    store = ActivationStore(redis)
    async with held(store.lock("v2:3", timeout=0.3, wait=1)):
        await asyncio.sleep(0.6)
        async with held(store.lock("v2:3", timeout=10, wait=0.1)):
            pass  # a dead holder's lock is free after its timeout
    assert "expired before it was released" in caplog.text
