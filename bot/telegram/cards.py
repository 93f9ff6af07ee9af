"""What a number card and a confirmation card say: pure functions of data and a translator.

Used by the handlers (right after buying, after a button) and by bot.telegram.notifier
(the watcher's updates), so a card looks the same whoever draws it. Text is HTML; every
string that comes from the provider or the user is escaped here.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from html import escape

from bot.i18n.countries import country_name
from bot.i18n.translator import Translate
from bot.provider.models import Country
from bot.services.purchase import Quote
from bot.store.activations import ActivationRecord, CloseReason, State

_CENT = Decimal("0.01")
CODES_SHOWN = 5  # the newest code and up to four before it


def format_money(amount: Decimal) -> str:
    """An amount in roubles as the provider bills it: "12.50 ₽"."""
    return f"{amount.quantize(_CENT, rounding=ROUND_HALF_UP)} ₽"


def format_phone(number: str) -> str:
    """The number in international form with a plus: "+79001234567"."""
    digits = number.strip()
    return digits if digits.startswith("+") else f"+{digits}"


def flag(iso: str | None) -> str:
    """The flag emoji of a two-letter country code, or a globe."""
    return Country(id="", name="", iso=iso).flag


def format_duration(seconds: int) -> str:
    """Minutes and seconds, "19:05"; hours when longer, "1:02:03"."""
    seconds = max(0, seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _status(record: ActivationRecord, _: Translate, now: float) -> str:
    left = format_duration(record.seconds_left(now))
    if record.state is State.WAITING:
        return _("⏳ Waiting for the SMS… {time_left} left").format(time_left=left)
    if record.state is State.CODE:
        return _("✅ Code received. {time_left} left to ask for another one").format(time_left=left)
    if record.state is State.WAIT_RETRY:
        return _("🔁 Waiting for another SMS… {time_left} left").format(time_left=left)
    if record.state is State.FINISHED:
        if record.close_reason is CloseReason.TIMEOUT:
            return _("✔️ Finished: the time for this number is over")
        if record.close_reason is CloseReason.BLOCKED:
            return _("✔️ Finished while you had blocked the bot; its code is below")
        return _("✔️ Finished")
    # cancelled
    if record.close_reason is CloseReason.BLOCKED:
        return _("❌ Cancelled while you had blocked the bot: the money is back on your balance")
    if record.close_reason is CloseReason.TIMEOUT:
        return _("⌛ No SMS in time: cancelled, the money is back on your balance")
    if record.close_reason is CloseReason.PROVIDER:
        return _("❌ Cancelled by SMS-man: the money is back on your balance")
    if record.close_reason is CloseReason.REPLACED:
        return _("🔄 Replaced by a new number: the money for this one is back on your balance")
    return _("❌ Cancelled: the money is back on your balance")


def render_card(
    record: ActivationRecord, _: Translate, now: float, *, language: str | None = None
) -> str:
    """The number card: the number to copy, what it is for, price, time left, status, codes.

    `language` is the one `_` speaks, for the country's name; by default the language the
    number was bought in."""
    country = country_name(record.country_name, record.country_iso, language or record.language)
    lines = [
        _("📱 Number: <code>{number}</code>").format(number=escape(format_phone(record.number))),
        _("Service: {service}").format(service=escape(record.service_name)),
        _("Country: {flag} {country}").format(
            flag=flag(record.country_iso), country=escape(country)
        ),
        _("Price: {price}").format(price=format_money(record.price)),
        "",
        _status(record, _, now),
    ]
    if record.codes:
        lines.append(_("Code: {code}").format(code=_code(record.codes[-1])))
        earlier = record.codes[-CODES_SHOWN:-1]
        if earlier:
            codes = ", ".join(_code(code) for code in earlier)
            lines.append(_("Earlier codes: {codes}").format(codes=codes))
    elif record.state is State.WAITING:
        lines.append(_("Use the number now; the code appears here as soon as the SMS arrives."))
        if record.cancel_after > now:
            wait = format_duration(math.ceil(record.cancel_after - now))
            lines.append(_("❌ Cancel and 🔄 Replace available in {time}").format(time=wait))
    return "\n".join(lines)


def render_code_message(record: ActivationRecord, code: str, _: Translate) -> str:
    """The message that pushes a new code (a new message, so the phone notifies): the code
    first, so the notification shows it, then what it is for."""
    return _("🔑 <code>{code}</code>\nCode for {service}\nNumber: <code>{number}</code>").format(
        service=escape(record.service_name),
        code=escape(code),
        number=escape(format_phone(record.number)),
    )


def _code(code: str) -> str:
    return f"<code>{escape(code)}</code>"


def render_quote(quote: Quote, _: Translate, language: str) -> str:
    """The confirmation card shown before buying, in `language` (the one `_` speaks)."""
    country = country_name(quote.country.name, quote.country.iso, language)
    lines = [
        _("🛒 <b>Confirm the purchase</b>"),
        "",
        _("Service: {service}").format(service=escape(quote.service.name)),
        _("Country: {flag} {country}").format(flag=quote.country.flag, country=escape(country)),
        _("Price: {price}").format(price=format_money(quote.price))
        if quote.cap <= quote.price
        else _("Price: {price} now, at most {cap}").format(
            price=format_money(quote.price), cap=format_money(quote.cap)
        ),
        _("Your balance: {balance}").format(balance=format_money(quote.balance)),
        "",
    ]
    if quote.stock <= 0:
        lines.append(_("⚠️ No numbers left in this country right now. Pick another country."))
    elif not quote.affordable:
        lines.append(
            _(
                "⚠️ Your balance is not enough for this number: top up your SMS-man balance "
                "by at least {missing} and check again."
            ).format(missing=format_money(quote.price - quote.balance))
        )
    else:
        lines.append(
            _(
                "You get the number right away; the code is sent here as soon as the SMS "
                "arrives. No code — cancel and the money comes back."
            )
        )
    return "\n".join(lines)


def _closed_status(record: ActivationRecord, _: Translate) -> str:
    if record.state is State.FINISHED:
        return _("finished")
    if record.close_reason is CloseReason.TIMEOUT:
        return _("no SMS, money back")
    if record.close_reason is CloseReason.REPLACED:
        return _("replaced, money back")
    return _("cancelled, money back")


def render_history(records: list[ActivationRecord], _: Translate) -> str:
    """Finished and cancelled numbers, one line each, with their codes."""
    lines = [_("<b>Recent numbers</b>")]
    for record in records:
        line = _("{flag} <code>{number}</code> · {service} · {status}").format(
            flag=flag(record.country_iso),
            number=escape(format_phone(record.number)),
            service=escape(record.service_name),
            status=_closed_status(record, _),
        )
        if record.codes:
            codes = ", ".join(f"<code>{escape(code)}</code>" for code in record.codes[-3:])
            line += "\n    " + _("code: {codes}").format(codes=codes)
        lines.append(line)
    return "\n".join(lines)
