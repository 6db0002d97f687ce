"""/support (the customer's side and the post in the admin chat) and /terms with the refund policy."""

from __future__ import annotations

from collections.abc import Iterable

from bot.i18n import N_, _
from bot.texts.markup import esc
from models import Order

ASK_SUPPORT = N_(
    "Write your question in one message and I'll pass it to our team with your orders attached. "
    "You'll get the answer here. Send /cancel to stop."
)
SUPPORT_SENT = N_("✅ Sent to our team. You'll get the answer here, usually within a day.")
SUPPORT_UNAVAILABLE = N_(
    "Sorry, I couldn't reach our team just now. Please try /support again in a few minutes."
)
SUPPORT_ANSWER = N_("💬 <b>Answer from Meet Matt support</b>\n\n{answer}")

REFUND_POLICY_AUTO = N_(
    "<b>Refunds</b>\nIf we cannot set up your agent, the order is refunded in full automatically. "
    "For anything else, write to /support."
)
REFUND_POLICY_MANUAL = N_(
    "<b>Refunds</b>\nIf we cannot set up your agent, our team refunds the order in full. "
    "For anything else, write to /support."
)
TERMS_NOT_PUBLISHED = N_("<b>Terms of service</b>\nAsk /support for our terms of service.")
TERMS_AT_URL = N_("<b>Terms of service</b>\nRead them here: {url}")
TERMS_TEXT = N_("<b>Terms of service</b>\n{text}")
TERMS_MAX_CHARS = 3000


def support_question(
    customer_name: str,
    telegram_id: int,
    username: str | None,
    question: str,
    orders: Iterable[Order],
    reference: str | None = None,
) -> str:
    """The post in the admin chat (English: it is for the team)."""
    who = esc(customer_name) + (f" (@{esc(username)})" if username else "")
    lines = [f"🆘 <b>Support question</b> from {who}, id <code>{telegram_id}</code>"]
    if reference:
        lines.append(f"Error reference: <code>{esc(reference)}</code>")
    order_lines = [
        f"#{o.id} {esc(o.package)} {esc(o.status)}" + (f" @{esc(o.bot_username)}" if o.bot_username else "")
        for o in orders
    ]
    lines.append("Orders: " + ("; ".join(order_lines) if order_lines else "none"))
    lines += ["", esc(question), "", "<i>Reply to this message to answer the customer.</i>"]
    return "\n".join(lines)


def terms(terms_text: str | None, terms_url: str | None, refunds_automatic: bool) -> str:
    if terms_url:
        head = _(TERMS_AT_URL).format(url=esc(terms_url))
    elif terms_text:
        cut = terms_text.strip()
        if len(cut) > TERMS_MAX_CHARS:
            cut = cut[:TERMS_MAX_CHARS].rstrip() + "…"
        head = _(TERMS_TEXT).format(text=esc(cut))
    else:
        head = _(TERMS_NOT_PUBLISHED)
    policy = REFUND_POLICY_AUTO if refunds_automatic else REFUND_POLICY_MANUAL
    return head + "\n\n" + _(policy)
