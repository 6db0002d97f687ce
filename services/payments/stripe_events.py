"""What a verified Stripe event does to our data: one transaction per event, exactly once.

The HTTP layer (webhooks/stripe.py) verifies the signature and hands the parsed event here.
`StripeEventProcessor.process` then, in ONE database transaction:

1. inserts the `StripeEvent` row (unique `event_id`). A redelivery, even one racing the first copy,
   fails this insert (on PostgreSQL it waits for the first copy's commit, then fails) and is answered
   as a duplicate with no effect;
2. applies the event's effect (order paid + one `provision` job; order closed + a customer message;
   refund recorded; an order created from metadata; an admin alert for metadata we cannot use);
3. records the outcome on the event row.

A crash or error anywhere rolls all of it back, so Stripe's retry redoes the whole thing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import AlertSeverity, Customer, Order, OrderStatus, StripeEvent
from services.infra.db import dialect
from services.infra.generated_sql import Statement, execute, insert_statement, update_statement
from services.jobs.queue import JobQueue
from services.notifications.alerts import raise_alert
from services.notifications.customer_text import N_, Text
from services.notifications.customers import queue_customer_message
from services.payments.packages import Package
from services.payments.review import payment_intent_of as _payment_intent
from services.payments.stripe_event_shape import (
    AWAITING_ASYNC,
    CLOSED,
    CLOSING_TYPES,
    DUPLICATE,
    IGNORED,
    NEEDS_ATTENTION,
    ORDER_NOT_FOUND,
    PAID_TYPES,
    PARTIALLY_REFUNDED,
    REFUND_TYPE,
    REFUNDED,
    STALE,
    EventResult,
    InvalidEvent,
    as_int,
    event_fields,
    expected_outcome,
    order_id_named,
)
from services.payments.stripe_paid import PaidSessions

__all__ = ["EventResult", "InvalidEvent", "StripeEventProcessor", "event_fields"]

log = logging.getLogger(__name__)

TEXTS = {  # in the customer's language: the bot's Messenger renders these Texts
    "checkout.session.expired": N_(
        "Your payment link for <b>{bot}</b> expired before payment, so that order is closed. "
        "Nothing was charged. Send /new whenever you want to order again."
    ),
    "checkout.session.async_payment_failed": N_(
        "The payment for <b>{bot}</b> did not go through, so that order is closed. "
        "Nothing was charged. Send /new to try again with another payment method."
    ),
}


class StripeEventProcessor:
    """Applies verified Stripe events to orders and jobs, once each, in one transaction per event."""

    def __init__(
        self, queue: JobQueue, packages: tuple[Package, ...], *, provision_max_attempts: int = 8
    ) -> None:
        self.queue = queue
        self.packages = packages
        self.provision_max_attempts = provision_max_attempts  # PROVISION_MAX_ATTEMPTS
        # SQLite has one writer. Webhook transactions in this process wait their turn here (Tortoise
        # also serialises transactions on its single SQLite connection); writers in other processes
        # are waited for by SQLite's busy timeout (5 s), so concurrent deliveries never see "locked"
        self._sqlite_lock = asyncio.Lock()
        self._paid = PaidSessions(queue, packages, provision_max_attempts)

    async def process(self, event: dict[str, Any], raw: str | None = None) -> EventResult:
        """Apply one event (`raw`: its JSON text as received, stored as is). Raises InvalidEvent for an
        unreadable event; any other error rolls the whole transaction back."""
        event_id, type_, obj = event_fields(event)
        payload = raw if raw is not None else _json(event)
        if dialect() == "sqlite":
            async with self._sqlite_lock:
                return await self._process(payload, event_id, type_, obj)
        return await self._process(payload, event_id, type_, obj)

    async def _process(self, payload: str, event_id: str, type_: str, obj: dict[str, Any]) -> EventResult:
        now = datetime.now(UTC)
        expected = expected_outcome(type_, obj)
        try:
            async with in_transaction() as conn:
                # the claim: a second copy of this event fails here (after the first commits). It is
                # stored with the outcome this kind of event usually has, corrected below if not.
                await _insert_event(conn, event_id, type_, expected, payload, now)
                outcome, order_id = await self._apply(conn, event_id, type_, obj)
                if outcome != expected:
                    row = {"outcome": outcome, "processed_at": datetime.now(UTC)}
                    await execute(conn, set_outcome(), set_outcome().values(row, event_id))
        except IntegrityError as exc:
            if await StripeEvent.exists(event_id=event_id):
                return EventResult(event_id, type_, DUPLICATE)
            # another unique key refused the effect (e.g. this session id is already on another
            # order): retrying cannot help, so keep the event for a human instead of a 500 loop
            return await self._needs_attention(payload, event_id, type_, obj, exc)
        log.info("stripe event id=%s type=%s outcome=%s order=%s", event_id, type_, outcome, order_id)
        return EventResult(event_id, type_, outcome, order_id)

    async def _needs_attention(
        self, payload: str, event_id: str, type_: str, obj: dict[str, Any], exc: Exception
    ) -> EventResult:
        log.error("stripe event id=%s type=%s conflicts with stored data: %s", event_id, type_, exc)
        now = datetime.now(UTC)
        try:
            async with in_transaction() as conn:
                await _insert_event(conn, event_id, type_, NEEDS_ATTENTION, payload, now)
                await raise_alert(
                    self.queue,
                    "stripe.needs_attention",
                    f"Stripe event {event_id} ({type_}, object {obj.get('id')}) conflicts with stored "
                    f"data and was not applied: {type(exc).__name__}: {str(exc)[:300]}. Check the order "
                    f"in its metadata ({order_id_named(obj)}) by hand.",
                    severity=AlertSeverity.CRITICAL,
                    dedup_key=f"stripe:needs_attention:{event_id}",
                    using_db=conn,
                )
        except IntegrityError:
            return EventResult(event_id, type_, DUPLICATE)  # a copy of this event got there first
        return EventResult(event_id, type_, NEEDS_ATTENTION, order_id_named(obj))

    async def _apply(
        self, conn: BaseDBAsyncClient, event_id: str, type_: str, obj: dict[str, Any]
    ) -> tuple[str, int | None]:
        if type_ in PAID_TYPES:
            status = obj.get("payment_status")
            if type_ == "checkout.session.completed" and status not in ("paid", "no_payment_required"):
                return AWAITING_ASYNC, order_id_named(obj)
            return await self._paid.apply(conn, event_id, obj)
        if type_ in CLOSING_TYPES:
            return await self._closed(conn, event_id, type_, obj)
        if type_ == REFUND_TYPE:
            return await self._refunded(conn, event_id, obj)
        return IGNORED, None

    # --- expired / failed ------------------------------------------------------------------------

    async def _closed(
        self, conn: BaseDBAsyncClient, event_id: str, type_: str, session: dict[str, Any]
    ) -> tuple[str, int | None]:
        session_id = session.get("id")
        order_id = order_id_named(session)
        order = await Order.get_or_none(id=order_id).using_db(conn) if order_id else None
        if order is None and session_id:
            order = await Order.get_or_none(stripe_session_id=session_id).using_db(conn)
        if order is None:
            return ORDER_NOT_FOUND, None
        # only the order's current session closes it: an older session expiring means nothing, and
        # neither does a session that merely names the order (client_reference_id)
        if order.stripe_session_id != session_id:
            return STALE, order.id
        closed = (
            await Order.filter(id=order.id, status=OrderStatus.AWAITING_PAYMENT)
            .using_db(conn)
            .update(status=OrderStatus.CANCELLED, closed_reason=CLOSING_TYPES[type_])
        )
        if not closed:
            return STALE, order.id
        customer = await Customer.get(id=order.customer_id).using_db(conn)
        text = Text(TEXTS[type_], {"bot": order.bot_name})  # Text escapes the name
        await queue_customer_message(
            self.queue, customer.telegram_id, text, key=f"stripe:{event_id}:customer", using_db=conn
        )
        return CLOSED, order.id

    # --- refunds ---------------------------------------------------------------------------------

    async def _refunded(
        self, conn: BaseDBAsyncClient, event_id: str, charge: dict[str, Any]
    ) -> tuple[str, int | None]:
        pi = _payment_intent(charge)
        order = await Order.get_or_none(stripe_payment_intent=pi).using_db(conn) if pi else None
        if order is None and (order_id := order_id_named(charge)) is not None:
            order = await Order.get_or_none(id=order_id).using_db(conn)
        if order is None:
            return ORDER_NOT_FOUND, None
        refunded, amount = as_int(charge.get("amount_refunded")), as_int(charge.get("amount"))
        full = bool(charge.get("refunded")) or (amount > 0 and refunded >= amount)
        values: dict[str, Any] = {"amount_refunded": max(refunded, order.amount_refunded)}
        if full:
            values["status"] = OrderStatus.REFUNDED
            if not order.closed_reason:
                values["closed_reason"] = "refunded in Stripe"
        await Order.filter(id=order.id).using_db(conn).update(**values)
        if full and order.status in (
            OrderStatus.PAID,
            OrderStatus.PROVISIONING,
            OrderStatus.AWAITING_VERIFICATION,
            OrderStatus.ACTIVE,
        ):
            await raise_alert(
                self.queue,
                "stripe.refunded_while_active",
                f"Order {order.id} was refunded in full in Stripe (event {event_id}) while it was "
                f"{order.status.value}: stop its agent if that was intended.",
                severity=AlertSeverity.WARNING,
                dedup_key=f"stripe:refunded:{order.id}",
                using_db=conn,
            )
        return (REFUNDED if full else PARTIALLY_REFUNDED), order.id


def insert_event() -> Statement:
    """The event row's INSERT, generated from the model (services.infra.generated_sql)."""
    return insert_statement(StripeEvent)


def set_outcome() -> Statement:
    return update_statement(StripeEvent, ("outcome", "processed_at"), (("event_id", 1),))


async def _insert_event(
    conn: BaseDBAsyncClient, event_id: str, type_: str, outcome: str, payload: str, now: datetime
) -> None:
    """The claim: a second copy of the event fails here on the unique event_id."""
    row = {
        "event_id": event_id,
        "type": type_,
        "outcome": outcome,
        "payload": payload,  # the JSON text as received, stored as is
        "received_at": now,
        "processed_at": now,
    }
    await execute(conn, insert_event(), insert_event().values(row))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
