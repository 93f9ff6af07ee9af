"""In a group the bot was added to, nobody becomes a user: nothing is stored about them."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram.types import Chat, Message, Update, User

from tests.fixtures.bot import BotHarness


async def test_people_talking_in_a_group_are_not_counted_as_users(harness: BotHarness) -> None:
    group = Chat(id=-100123, type="supergroup", title="Big channel chat")
    before = await harness.app.users.count()
    for n in range(5):
        message = Message(
            message_id=n + 1,
            date=datetime.now(UTC),
            chat=group,
            from_user=User(id=7000 + n, is_bot=False, first_name=f"Member{n}"),
            text="/start@smsman_test_bot",
        )
        update = Update(update_id=harness.next_update_id(), message=message)
        await harness.dispatcher.feed_update(harness.bot, update)

    assert await harness.app.users.count() == before
    alice = harness.user(7100)
    await alice.send("/start")  # in private: a user
    assert (await harness.app.users.count())[0] == before[0] + 1
