"""Operators' reports: /stats, /balances, /balance <user id>. Only for ADMIN_IDS.

The filter sits on the router: for anyone else these commands are unknown (the fallback
router answers them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, Filter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, TelegramObject, User
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.services.admin import AdminService, Stats, UserBalance
from bot.services.errors import NoToken
from bot.telegram.cards import format_duration, format_money
from handlers.explain import EXPECTED_ERRORS, explain
from handlers.replies import show
from keyboards.admin import balances_keyboard
from keyboards.callbacks import BalancesPage
from keyboards.pagination import paginate

BALANCES_PER_PAGE = 30


class IsAdmin(Filter):
    async def __call__(
        self, event: TelegramObject, settings: Settings, event_from_user: User | None = None
    ) -> bool:
        return event_from_user is not None and event_from_user.id in settings.admin_ids


async def stats(message: Message, admin: AdminService) -> None:
    await message.answer(render_stats(await admin.stats()))


def render_stats(stats: Stats) -> str:
    rate = stats.cancel_rate
    median = stats.median_seconds_to_code
    return "\n".join(
        [
            _("📊 <b>Statistics</b>"),
            _("Users: {users}, with a token: {with_token}").format(
                users=stats.users, with_token=stats.users_with_token
            ),
            _("Numbers bought today (UTC): {today}, all time: {total}").format(
                today=stats.activations_today, total=stats.activations_all_time
            ),
            _("Codes delivered: {codes}; numbers that got a code: {with_code}").format(
                codes=stats.codes_delivered, with_code=stats.with_code
            ),
            _("Cancelled: {cancelled}, finished: {finished}, cancel rate: {rate}").format(
                cancelled=stats.cancelled,
                finished=stats.finished,
                rate="—" if rate is None else f"{rate:.0%}",
            ),
            _("Median time to the first code: {median}").format(
                median="—" if median is None else format_duration(round(median))
            ),
            _("Numbers being watched now: {watched}").format(watched=stats.watched_now),
        ]
    )


async def user_balance(message: Message, command: CommandObject, admin: AdminService) -> None:
    assert command.args is not None
    user_id = int(command.args)
    try:
        amount = await admin.user_balance(user_id)
    except NoToken:
        await message.answer(_("User {user_id} has no token stored.").format(user_id=user_id))
        return
    except EXPECTED_ERRORS as error:
        await message.answer(
            _("User {user_id}: {problem}").format(user_id=user_id, problem=explain(error))
        )
        return
    await message.answer(
        _("User {user_id}: balance {balance}").format(user_id=user_id, balance=format_money(amount))
    )


async def balances(message: Message, state: FSMContext, admin: AdminService) -> None:
    rows = await admin.balances()
    await state.update_data(admin_balances=[_dump(row) for row in rows])
    await show(message, *render_balances(rows, page=0))


async def balances_page(
    callback: CallbackQuery, callback_data: BalancesPage, state: FSMContext, admin: AdminService
) -> None:
    stored = (await state.get_data()).get("admin_balances")
    if stored is None:  # the list was never made here or was forgotten: fetch it again
        rows = await admin.balances()
        await state.update_data(admin_balances=[_dump(row) for row in rows])
    else:
        rows = [_load(row) for row in stored]
    await show(callback, *render_balances(rows, page=callback_data.page))


def render_balances(rows: list[UserBalance], page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    if not rows:
        return _("No user has a token stored yet."), None
    shown = paginate(rows, page, BALANCES_PER_PAGE)
    known = [row.balance for row in rows if row.balance is not None]
    lines = [
        _("💰 <b>Balances</b>: {count} users with a token, total {total}").format(
            count=len(rows), total=format_money(sum(known, Decimal(0)))
        )
    ]
    unreadable = len(rows) - len(known)
    if unreadable:
        lines.append(_("Could not read {count} of them.").format(count=unreadable))
    lines.append("")
    for row in shown.items:
        if row.balance is not None:
            status = format_money(row.balance)
        elif row.problem == "wrong_token":
            status = _("token rejected")
        else:
            status = _("unavailable")
        lines.append(f"<code>{row.user_id}</code> — {status}")
    return "\n".join(lines), balances_keyboard(shown, _)


def _dump(row: UserBalance) -> list[Any]:
    return [row.user_id, None if row.balance is None else str(row.balance), row.problem]


def _load(row: list[Any]) -> UserBalance:
    user_id, balance, problem = row
    return UserBalance(int(user_id), None if balance is None else Decimal(balance), problem)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(IsAdmin())
    router.callback_query.filter(IsAdmin())
    router.message.register(stats, Command("stats"))
    router.message.register(user_balance, Command("balance", magic=F.args.regexp(r"^\s*\d+\s*$")))
    router.message.register(balances, Command("balances"))
    router.callback_query.register(balances_page, BalancesPage.filter())
    return router
