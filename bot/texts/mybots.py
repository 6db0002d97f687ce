"""/mybots: the customer's agents and open orders, their status, expiry and model use this month."""

from __future__ import annotations

from bot.i18n import N_, _, money
from bot.texts.markup import date, esc, tokens
from bot.texts.payments import BTN_PAY, BTN_RENEW
from models import Instance, Order
from services.model_gateway.usage_report import MonthUse

BTN_OPEN_BOT = N_("Open @{username}")
BTN_OPEN_AND_START = N_("Open @{username} and press Start")

NO_BOTS = N_("You have no agents yet. Send /new to order one.")
MY_BOTS_HEADER = N_("<b>Your agents and orders</b> ({total})")
MY_BOTS_PAGE = N_("Page {page} of {pages}")
BTN_PREVIOUS = N_("◀ Previous")
BTN_NEXT = N_("Next ▶")

STATUS_WORDS = {
    "warm": N_("getting ready"),
    "launching": N_("starting"),
    "booting": N_("setting up"),
    "ready": N_("almost ready"),
    "active": N_("live"),
    "unhealthy": N_("having trouble (we're on it)"),
    "stopped": N_("stopped (expired)"),
    "terminating": N_("shutting down"),
    "terminated": N_("shut down"),
    "failed": N_("failed"),
}
ORDER_STATUS_WORDS = {
    "awaiting_payment": N_("waiting for payment"),
    "paid": N_("paid, starting soon"),
    "needs_review": N_("payment being checked by our team"),
    "provisioning": N_("being set up"),
    "awaiting_verification": N_("waiting for you to open your bot"),
    "active": N_("live"),
    "expired": N_("expired"),
    "cancelled": N_("cancelled"),
    "failed": N_("failed"),
    "refunded": N_("refunded"),
}


def my_bot(instance: Instance, *, awaiting_verification: bool = False) -> str:
    username = instance.bot_username
    link = f"@{esc(username)}" if username else _("(bot not created yet)")
    status_word = STATUS_WORDS.get(str(instance.status))
    status = _(status_word) if status_word else str(instance.status)
    text = _("🤖 {link}\nStatus: <b>{status}</b>\nExpires: {expires}").format(
        link=link, status=esc(status), expires=esc(date(instance.expires_at))
    )
    if awaiting_verification:
        text += "\n" + _("Waiting for you: open your bot with the button below and press <b>Start</b>.")
    return text


def model_use_line(use: MonthUse | None) -> str:
    """/mybots: this month's model use against the plan's allowance ('' when unknown)."""
    if use is None:
        return ""
    if use.quota.tokens_per_month <= 0:
        return "\n" + _("Model use this month: {tokens} tokens (no limit)").format(tokens=tokens(use.tokens))
    warn = " ⚠️" if use.tokens >= use.quota.tokens_per_month else ""
    line = _("Model use this month: {tokens} of {quota} tokens ({percent}%){warn}, resets {day}")
    return "\n" + line.format(
        tokens=tokens(use.tokens),
        quota=tokens(use.quota.tokens_per_month),
        percent=min(999, round(use.percent or 0)),
        warn=warn,
        day=f"{use.resets_on:%Y-%m-%d}",
    )


def my_open_order(order: Order) -> str:
    status_word = ORDER_STATUS_WORDS.get(str(order.status))
    status = _(status_word) if status_word else str(order.status)
    return _("🧾 Order #{order_id}: <b>{name}</b>, {status}").format(
        order_id=order.id, name=esc(order.bot_name), status=esc(status)
    )


def my_bots_header(total: int, page: int, pages: int) -> str:
    header = _(MY_BOTS_HEADER).format(total=total)
    if pages > 1:
        header += " · " + _(MY_BOTS_PAGE).format(page=page + 1, pages=pages)
    return header


def open_bot_button(username: str, *, verify: bool) -> str:
    """Open the bot; while its ownership check waits, open it and press Start."""
    return _(BTN_OPEN_AND_START if verify else BTN_OPEN_BOT).format(username=username)


def renew_button(instance: Instance) -> str:
    return _(BTN_RENEW).format(username=instance.bot_username or instance.id)


def pay_order_button(order: Order) -> str:
    """An open order's Pay button, named for its bot (the list may hold several)."""
    return f"{_(BTN_PAY).format(price=money(order.amount, order.currency))}: {order.bot_name[:24]}"
