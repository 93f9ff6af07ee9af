"""How long after buying a provider refuses to cancel, as learned from its refusals.

SMS-man does not say, and sms-activate style providers refuse a cancel for the first minutes.
Every refusal tells the number's age then: the longest such age (rounded up to 10 s) is kept
for a week, shared by every process, and new numbers' cards count down to it.
"""

from __future__ import annotations

import math

from redis.asyncio import Redis

from bot.store import keys

KEPT_SECONDS = 7 * 24 * 3600
LONGEST = 20 * 60.0  # a refusal later than this says nothing about a window

_LEARN_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local seen = tonumber(ARGV[1])
if seen > current then current = seen end
redis.call('SET', KEYS[1], current, 'EX', tonumber(ARGV[2]))
return tostring(current)
"""


class EarlyCancelStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def window(self, provider: str) -> float:
        """Seconds after buying during which a cancel is expected to be refused (0: none)."""
        value = await self._redis.get(keys.early_cancel(provider))
        try:
            return float(value) if value is not None else 0.0
        except ValueError:
            return 0.0

    async def learn(self, provider: str, refused_at_age: float) -> float:
        """A cancel was refused this many seconds after buying; the window as now known."""
        if not 0 <= refused_at_age <= LONGEST:
            return await self.window(provider)
        seen = math.ceil((refused_at_age + 1) / 10) * 10
        result = await self._redis.eval(
            _LEARN_SCRIPT, 1, keys.early_cancel(provider), str(seen), str(KEPT_SECONDS)
        )
        return float(result)
