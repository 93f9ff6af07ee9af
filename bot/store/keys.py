"""Every Redis key the bot uses, in one place, so the layout can be read at a glance."""

from __future__ import annotations

PREFIX = "smsbot"

KEY_CHECK = f"{PREFIX}:meta:key_check"  # a canary encrypted with the token key
USERS = f"{PREFIX}:users"  # set of every user id that talked to the bot
USERS_WITH_TOKEN = f"{PREFIX}:users:with_token"  # set of user ids with a stored token
BLOCKED = f"{PREFIX}:users:blocked"  # set of user ids who blocked the bot (until they return)
WATCH_DUE = f"{PREFIX}:watch:due"  # zset activation key -> unix time the next check is due
STATS = f"{PREFIX}:stats"  # hash of all-time counters
STATS_TIME_TO_CODE = f"{PREFIX}:stats:time_to_code"  # list of recent seconds-to-first-code


def user(user_id: int) -> str:
    return f"{PREFIX}:user:{user_id}"  # hash: language, token, created_at, FSM state and data


def conversation(
    chat_id: int,
    user_id: int,
    thread_id: int | None,
    business_connection_id: str | None,
    destiny: str,
) -> str:
    """FSM state and data of a conversation outside the user's private chat (a private
    chat's are fields of the user hash: bot.store.conversations)."""
    return (
        f"{PREFIX}:conversation:{chat_id}:{user_id}:{thread_id or ''}:"
        f"{business_connection_id or ''}:{destiny}"
    )


def user_recent_services(user_id: int) -> str:
    return f"{PREFIX}:user:{user_id}:recent_services"


def notice(user_id: int, kind: str) -> str:
    return f"{PREFIX}:user:{user_id}:notice:{kind}"  # told once (bot.store.notices)


def taps(user_id: int, window: int) -> str:
    return f"{PREFIX}:user:{user_id}:taps:{window}"  # button taps in one throttle window


def user_activations(user_id: int) -> str:
    return f"{PREFIX}:user:{user_id}:activations"  # zset activation key -> created_at


def activation(key: str) -> str:
    return f"{PREFIX}:act:{key}"


def activation_lock(key: str) -> str:
    return f"{PREFIX}:lock:act:{key}"


def user_lock(user_id: int) -> str:
    return f"{PREFIX}:lock:user:{user_id}"


def confirmation(user_id: int, nonce: str) -> str:
    return f"{PREFIX}:confirm:{user_id}:{nonce}"


def stats_day(day: str) -> str:
    return f"{PREFIX}:stats:day:{day}"  # hash of counters for one UTC day


def catalog(provider: str, what: str) -> str:
    return f"{PREFIX}:catalog:{provider}:{what}"


def user_balance(user_id: int) -> str:
    return f"{PREFIX}:user:{user_id}:balance"  # the balance last read, briefly (bot.store.balances)


def user_favourites(user_id: int) -> str:
    return f"{PREFIX}:user:{user_id}:favourites"  # list of "<service>|<country>", newest first


def early_cancel(provider: str) -> str:
    return f"{PREFIX}:provider:{provider}:early_cancel"  # seconds a cancel is refused after buying


def replace_claim(key: str) -> str:
    return f"{PREFIX}:replace:{key}"  # the nonce that buys the number replacing `key`
