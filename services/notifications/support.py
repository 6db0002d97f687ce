"""Customer support: a /support question is posted in the admin chat with the customer's orders, and
an admin's reply to that post is delivered back to the customer. Knows nothing of aiogram."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

from models import Customer, Order, SupportMessage

log = logging.getLogger(__name__)
QUESTION_MAX_CHARS = 2000
ORDERS_SHOWN = 5


def clean_question(text: str | None) -> str:
    """The question as it will be posted: stripped, cut to QUESTION_MAX_CHARS ('' when empty)."""
    text = (text or "").strip()
    return text[:QUESTION_MAX_CHARS]


async def recent_orders(customer: Customer, limit: int = ORDERS_SHOWN) -> list[Order]:
    return await Order.filter(customer=customer).order_by("-id").limit(limit)


async def record_question(
    customer: Customer, admin_chat_id: int, admin_message_id: int, question: str
) -> SupportMessage:
    return await SupportMessage.create(
        customer_telegram_id=customer.telegram_id,
        admin_chat_id=admin_chat_id,
        admin_message_id=admin_message_id,
        question=question,
    )


async def question_replied_to(admin_chat_id: int, admin_message_id: int) -> SupportMessage | None:
    """The support question that this admin-chat message is, if it is one."""
    return await SupportMessage.get_or_none(admin_chat_id=admin_chat_id, admin_message_id=admin_message_id)


async def mark_answered(ticket: SupportMessage) -> None:
    ticket.answers += 1
    ticket.answered_at = datetime.now(UTC)
    await ticket.save(update_fields=["answers", "answered_at"])


async def load_terms(source: str | None) -> tuple[str | None, str | None]:
    """(url, text) of the terms from TERMS_SOURCE: an https:// URL, or a text file read now (so an
    edit shows without a restart). An unreadable file is logged and treated as unpublished."""
    source = (source or "").strip()
    if not source:
        return None, None
    if source.startswith("https://"):
        return source, None
    try:
        return None, await asyncio.to_thread(Path(source).read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("TERMS_SOURCE cannot be read error=%s", type(exc).__name__)
        return None, None
