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
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import AlertSeverity, Customer, JobStatus, Order, OrderStatus, StripeEvent
from services.infra.db import dialect
from services.jobs.kinds import PROVISION
from services.jobs.queue import JobQueue, utcnow
from services.notifications.alerts import raise_alert
from services.notifications.customer_text import N_, Text
from services.notifications.customers import queue_customer_message
from services.payments.check import Charge, charge_problems, parse_metadata
from services.payments.packages import Package, find_package
from services.payments.review import hold_for_review
from services.payments.review import payment_intent_of as _payment_intent

log = logging.getLogger(__name__)

PAID_TYPES = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})
CLOSING_TYPES = {
    "checkout.session.expired": "checkout session expired unpaid",
    "checkout.session.async_payment_failed": "payment failed",
}
REFUND_TYPE = "charge.refunded"
HANDLED_TYPES = PAID_TYPES | frozenset(CLOSING_TYPES) | {REFUND_TYPE}
# statuses an order can leave for PAID: a payment is a payment, even on an order we closed meanwhile
PAYABLE = (OrderStatus.AWAITING_PAYMENT, OrderStatus.CANCELLED)

# outcomes stored on StripeEvent.outcome and counted in /metrics
PAID = "paid"
ORDER_CREATED = "order_created"
ALREADY_PAID = "already_paid"
NEEDS_REVIEW = "needs_review"
AWAITING_ASYNC = "awaiting_async_payment"
CLOSED = "order_closed"
STALE = "stale"
REFUNDED = "refunded"
PARTIALLY_REFUNDED = "partially_refunded"
ORDER_NOT_FOUND = "order_not_found"
NEEDS_ATTENTION = "needs_attention"
IGNORED = "ignored"
DUPLICATE = "duplicate"  # never stored: the event row already exists

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


class InvalidEvent(ValueError):
    """The body is signed but is not a Stripe event we can read (answered 400)."""


@dataclass(frozen=True)
class EventResult:
    event_id: str
    type: str
    outcome: str
    order_id: int | None = None

    @property
    def duplicate(self) -> bool:
        return self.outcome == DUPLICATE


def event_fields(event: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(event id, type, data.object) of a parsed event, or InvalidEvent with the reason."""
    if not isinstance(event, dict):
        raise InvalidEvent("the body is not a JSON object")
    event_id, type_ = event.get("id"), event.get("type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
        raise InvalidEvent("the event has no valid id")
    if not isinstance(type_, str) or not type_ or len(type_) > 128:
        raise InvalidEvent("the event has no valid type")
    if not isinstance(obj, dict):
        raise InvalidEvent("the event has no data.object")
    return event_id, type_, obj


def _expected_outcome(type_: str, obj: dict[str, Any]) -> str:
    """The usual outcome of an event of this shape (a guess: the processor corrects it if wrong)."""
    if type_ in PAID_TYPES and obj.get("payment_status") in ("paid", "no_payment_required"):
        return PAID if _order_id(obj) is not None else ORDER_CREATED
    if type_ in CLOSING_TYPES:
        return CLOSED
    return IGNORED if type_ not in HANDLED_TYPES else "received"


def _order_id(obj: dict[str, Any]) -> int | None:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    for raw in (metadata.get("order_id"), obj.get("client_reference_id")):
        text = str(raw or "").strip()
        if text.isdigit() and 0 < int(text) < 2**31:
            return int(text)
    return None


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


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
        expected = _expected_outcome(type_, obj)
        try:
            async with in_transaction() as conn:
                # the claim: a second copy of this event fails here (after the first commits). It is
                # stored with the outcome this kind of event usually has, corrected below if not.
                await _execute(conn, _INSERT_EVENT, event_id, type_, expected, payload, now, now)
                outcome, order_id = await self._apply(conn, event_id, type_, obj)
                if outcome != expected:
                    await _execute(conn, _SET_OUTCOME, outcome, datetime.now(UTC), event_id)
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
                await _execute(conn, _INSERT_EVENT, event_id, type_, NEEDS_ATTENTION, payload, now, now)
                await raise_alert(
                    self.queue,
                    "stripe.needs_attention",
                    f"Stripe event {event_id} ({type_}, object {obj.get('id')}) conflicts with stored "
                    f"data and was not applied: {type(exc).__name__}: {str(exc)[:300]}. Check the order "
                    f"in its metadata ({_order_id(obj)}) by hand.",
                    severity=AlertSeverity.CRITICAL,
                    dedup_key=f"stripe:needs_attention:{event_id}",
                    using_db=conn,
                )
        except IntegrityError:
            return EventResult(event_id, type_, DUPLICATE)  # a copy of this event got there first
        return EventResult(event_id, type_, NEEDS_ATTENTION, _order_id(obj))

    async def _apply(
        self, conn: Any, event_id: str, type_: str, obj: dict[str, Any]
    ) -> tuple[str, int | None]:
        if type_ in PAID_TYPES:
            status = obj.get("payment_status")
            if type_ == "checkout.session.completed" and status not in ("paid", "no_payment_required"):
                return AWAITING_ASYNC, _order_id(obj)
            return await self._paid(conn, event_id, obj)
        if type_ in CLOSING_TYPES:
            return await self._closed(conn, event_id, type_, obj)
        if type_ == REFUND_TYPE:
            return await self._refunded(conn, event_id, obj)
        return IGNORED, None

    # --- paid ------------------------------------------------------------------------------------

    async def _paid(self, conn: Any, event_id: str, session: dict[str, Any]) -> tuple[str, int | None]:
        session_id = str(session.get("id") or "")
        charge = Charge.of_session(session)
        payment = {
            "status": OrderStatus.PAID,
            "amount": charge.amount,
            "currency": charge.currency or "usd",
            "stripe_session_id": session_id or None,
            "stripe_payment_intent": _payment_intent(session),
            "paid_at": datetime.now(UTC),
            "closed_reason": None,
        }
        # the order is the one this session was created for; what the event SAYS it pays for
        # (metadata order_id, client_reference_id: anyone can put one on a Payment Link URL) never
        # selects an order
        order = await Order.get_or_none(stripe_session_id=session_id).using_db(conn) if session_id else None
        named = _order_id(session)
        if order is not None:
            package = find_package(self.packages, order.package)
            price = order.amount or (package.price if package else 0)
            currency = order.currency if order.amount else (package.currency if package else order.currency)
            problems = charge_problems(
                charge, price, currency, discounts_allowed=bool(package and package.allow_discounts)
            )
            if package is None:
                problems.append(f"the order's package {order.package!r} is no longer offered")
            if named is not None and named != order.id:
                problems.append(
                    f"the session belongs to order {order.id} but its metadata names order {named}"
                )
            if problems:
                if order.status == OrderStatus.NEEDS_REVIEW:
                    return NEEDS_REVIEW, order.id  # held and alerted already (e.g. completed, then async)
                if order.status not in PAYABLE:
                    return ALREADY_PAID, order.id
                await hold_for_review(
                    self.queue,
                    conn,
                    event_id=event_id,
                    session=session,
                    order=order,
                    problems=problems,
                    price=f"{price} {currency.upper()}",
                )
                return NEEDS_REVIEW, order.id
            # the conditional UPDATE is the decision: only the event that moves the order to PAID
            # enqueues provisioning
            marked = await _execute(
                conn,
                _MARK_PAID,
                OrderStatus.PAID,
                payment["amount"],
                payment["currency"],
                payment["stripe_session_id"],
                payment["stripe_payment_intent"],
                payment["paid_at"],
                payment["paid_at"],
                order.id,
                *PAYABLE,
            )
            if marked:
                await self._enqueue_provision(conn, order.id)
                return PAID, order.id
            return ALREADY_PAID, order.id
        if named is not None and await Order.filter(id=named).using_db(conn).exists():
            # a session we did not create for that order claims to pay it: keep the money for an
            # admin, touch nothing of that order
            await hold_for_review(
                self.queue,
                conn,
                event_id=event_id,
                session=session,
                order=None,
                problems=[
                    f"the session names order {named} (metadata order_id or client_reference_id) "
                    f"but is not the Checkout Session created for it"
                ],
            )
            return NEEDS_REVIEW, None
        # no order of ours: a Payment Link made by an admin. The metadata must say what was bought.
        parsed, problem = parse_metadata(session.get("metadata"), self.packages)
        if parsed is None:
            where = f"order {named} does not exist" if named else "no order_id"
            await raise_alert(
                self.queue,
                "stripe.needs_attention",
                f"Stripe event {event_id}: a paid Checkout Session ({session_id or 'no id'}, "
                f"{payment['amount']} {payment['currency']}) could not be matched ({where}) and its "
                f"metadata cannot create an order: {problem}. Nothing was provisioned; create the "
                f"order by hand or refund.",
                severity=AlertSeverity.CRITICAL,
                dedup_key=f"stripe:needs_attention:{event_id}",
                using_db=conn,
            )
            return NEEDS_ATTENTION, None
        package = parsed.package
        problems = charge_problems(
            charge, package.price, package.currency, discounts_allowed=package.allow_discounts
        )
        customer, _ = await Customer.get_or_create(telegram_id=parsed.telegram_id, using_db=conn)
        if problems:
            # the order exists so that an admin can approve or refund it from the bot or the CLI
            held = {
                **payment,
                "status": OrderStatus.NEEDS_REVIEW,
                "closed_reason": ("held for review: " + "; ".join(problems))[:1000],
            }
            order = await Order.create(
                customer=customer, package=package.code, bot_name=parsed.bot_name, using_db=conn, **held
            )
            await hold_for_review(
                self.queue,
                conn,
                event_id=event_id,
                session=session,
                order=None,
                problems=[f"order {order.id} made from a Payment Link", *problems],
                price=package.price_text,
            )
            return NEEDS_REVIEW, order.id
        order = await Order.create(
            customer=customer, package=package.code, bot_name=parsed.bot_name, using_db=conn, **payment
        )
        await self._enqueue_provision(conn, order.id)
        return ORDER_CREATED, order.id

    async def _enqueue_provision(self, conn: Any, order_id: int) -> None:
        # the same row JobQueue.enqueue(PROVISION, ..., key=...) writes, in one statement that
        # leaves an existing job with that key alone
        now = utcnow()
        await _execute(
            conn,
            _ENQUEUE_ONCE,
            PROVISION,
            f"provision:order:{order_id}",
            _json({"order_id": order_id}),
            "{}",
            JobStatus.PENDING,
            self.provision_max_attempts,
            now,
            now,
            now,
        )

    # --- expired / failed ------------------------------------------------------------------------

    async def _closed(
        self, conn: Any, event_id: str, type_: str, session: dict[str, Any]
    ) -> tuple[str, int | None]:
        session_id = session.get("id")
        order_id = _order_id(session)
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

    async def _refunded(self, conn: Any, event_id: str, charge: dict[str, Any]) -> tuple[str, int | None]:
        pi = _payment_intent(charge)
        order = await Order.get_or_none(stripe_payment_intent=pi).using_db(conn) if pi else None
        if order is None and (order_id := _order_id(charge)) is not None:
            order = await Order.get_or_none(id=order_id).using_db(conn)
        if order is None:
            return ORDER_NOT_FOUND, None
        refunded, amount = _int(charge.get("amount_refunded")), _int(charge.get("amount"))
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


# --- the hot path's statements --------------------------------------------------------------------
# Every paid event runs these four. They are written out once (parameterised, through the ORM's own
# connection, so they join its transaction and its IntegrityError translation) because building them
# with the query builder on every event cost more CPU than the database work itself (see
# bench/webhook_load.py). Columns and defaults mirror models.Job / models.StripeEvent / models.Order.

_INSERT_EVENT = (
    'INSERT INTO "stripe_event" ("event_id", "type", "outcome", "payload", "received_at", '
    '"processed_at") VALUES (%s, %s, %s, %s, %s, %s)'
)
_SET_OUTCOME = 'UPDATE "stripe_event" SET "outcome" = %s, "processed_at" = %s WHERE "event_id" = %s'
_MARK_PAID = (
    'UPDATE "order" SET "status" = %s, "amount" = %s, "currency" = %s, "stripe_session_id" = %s, '
    '"stripe_payment_intent" = %s, "paid_at" = %s, "closed_reason" = NULL, "updated_at" = %s '
    'WHERE "id" = %s AND "status" IN (%s, %s)'
)
_ENQUEUE_ONCE = (
    'INSERT INTO "job" ("kind", "key", "payload", "state", "status", "attempts", "max_attempts", '
    '"run_after", "created_at", "updated_at") VALUES (%s, %s, %s, %s, %s, 0, %s, %s, %s, %s) '
    'ON CONFLICT ("key") DO NOTHING'
)
_PLACEHOLDERS: dict[tuple[str, str], str] = {}


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


async def _execute(conn: Any, template: str, *values: Any) -> int:
    """Run one of the statements above on `conn` with bound values; returns the rows affected."""
    key = (template, conn.capabilities.dialect)
    sql = _PLACEHOLDERS.get(key)
    if sql is None:
        if key[1] == "postgres":
            parts = template.split("%s")
            sql = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))
        else:
            sql = template.replace("%s", "?")
        _PLACEHOLDERS[key] = sql
    rows, _ = await conn.execute_query(sql, [v.value if isinstance(v, Enum) else v for v in values])
    return rows
