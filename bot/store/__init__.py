"""Redis repositories. Every client handed to them is created with decode_responses=True."""

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
"""What redis-py raises while the server cannot be reached (restarting, gone, too slow)."""


def as_text(value: bytes | str) -> str:
    """A Redis reply as text (typing says bytes or str; our clients decode)."""
    return value.decode() if isinstance(value, bytes) else value
