"""Paying: the Pay and Renew buttons, the checkout link's answers, the return from Stripe, renewals."""

from __future__ import annotations

from bot.i18n import N_, _
from bot.texts.markup import esc
from bot.texts.packages import price
from models import Instance, Order
from services.payments.packages import Package

BTN_PAY = N_("💳 Pay {price}")
BTN_RENEW = N_("🔁 Renew @{username}")
BTN_RENEW_SHORT = N_("🔁 Renew")

PAID_RETURN = N_(
    "Thanks! As soon as Stripe confirms your payment, I'll show your agent's progress here in one message."
)
CANCEL_RETURN = N_(
    "The payment was not completed. Your order is kept: use the Pay button above when you're ready."
)

CREATING_CHECKOUT = N_("Creating your secure payment link…")
CHECKOUT_FAILED = N_(
    "Sorry, I couldn't create the payment link just now (reference {ref}). Your order #{order_id} "
    "is saved: tap Confirm again in a minute, or send /mybots."
)

NO_RENEWABLE = N_("You have no agent that can be renewed. Send /new to order one.")
CHOOSE_RENEW = N_("Which agent would you like to renew?")


def pay(order: Order, package: Package | None) -> str:
    return _(
        "Order <b>#{order_id}</b> is ready. Pay {price} with the secure Stripe page below. "
        "When the payment is confirmed, I'll start setting up your agent and show the progress here."
    ).format(order_id=order.id, price=esc(price(package)) if package else "")


def renewal_pay(order: Order, instance: Instance, package: Package | None) -> str:
    return _("Renewal <b>#{order_id}</b> for @{username}: pay {price} below to add {days} days.").format(
        order_id=order.id,
        username=esc(instance.bot_username or _("your agent")),
        price=esc(price(package)) if package else "",
        days=package.term_days if package else "",
    )
