"""A paid Checkout Session, inside the event's transaction: the order it was created for is marked
PAID (once: the conditional UPDATE decides) and gets ONE provision job; a charge that does not match
is held for an admin's review; a Payment Link's session (no order of ours) creates its order from
the metadata. What the event SAYS it pays for never selects an order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models import AlertSeverity, Customer, Job, JobStatus, Order, OrderStatus
from services.infra.generated_sql import Statement, execute, insert_statement, update_statement
from services.jobs.kinds import PROVISION
from services.jobs.queue import JobQueue, utcnow
from services.notifications.alerts import raise_alert
from services.payments.check import Charge, charge_problems, parse_metadata
from services.payments.packages import Package, find_package
from services.payments.review import hold_for_review
from services.payments.review import payment_intent_of as _payment_intent
from services.payments.stripe_event_shape import (
    ALREADY_PAID,
    NEEDS_ATTENTION,
    NEEDS_REVIEW,
    ORDER_CREATED,
    PAID,
    PAYABLE,
    order_id_named,
)

Outcome = tuple[str, int | None]

# the Order fields a payment writes (payment_values); the statements are generated from the models
PAYMENT_FIELDS = (
    "status",
    "amount",
    "currency",
    "stripe_session_id",
    "stripe_payment_intent",
    "paid_at",
    "closed_reason",
)


def mark_paid() -> Statement:
    """Order -> PAID, only from a payable status: the event whose UPDATE moves it decides."""
    return update_statement(Order, (*PAYMENT_FIELDS, "updated_at"), (("id", 1), ("status", len(PAYABLE))))


def enqueue_once() -> Statement:
    """The provision job's row, unless a job with its key exists."""
    return insert_statement(Job, skip_if_exists="key")


def payment_values(session: dict[str, Any], charge: Charge) -> dict[str, Any]:
    """The Order fields a payment writes."""
    return {
        "status": OrderStatus.PAID,
        "amount": charge.amount,
        "currency": charge.currency or "usd",
        "stripe_session_id": str(session.get("id") or "") or None,
        "stripe_payment_intent": _payment_intent(session),
        "paid_at": datetime.now(UTC),
        "closed_reason": None,
    }


class PaidSessions:
    """Applies `checkout.session.completed` / `async_payment_succeeded` (paid) events."""

    def __init__(self, queue: JobQueue, packages: tuple[Package, ...], provision_max_attempts: int) -> None:
        self.queue = queue
        self.packages = packages
        self.provision_max_attempts = provision_max_attempts

    async def apply(self, conn: BaseDBAsyncClient, event_id: str, session: dict[str, Any]) -> Outcome:
        session_id = str(session.get("id") or "")
        charge = Charge.of_session(session)
        order = await Order.get_or_none(stripe_session_id=session_id).using_db(conn) if session_id else None
        named = order_id_named(session)
        if order is not None:
            return await self._pay_order(conn, event_id, session, order, charge, named)
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
        return await self._order_from_metadata(conn, event_id, session, charge, named)

    async def _pay_order(
        self,
        conn: BaseDBAsyncClient,
        event_id: str,
        session: dict[str, Any],
        order: Order,
        charge: Charge,
        named: int | None,
    ) -> Outcome:
        """The order this session was created for."""
        package = find_package(self.packages, order.package)
        price = order.amount or (package.price if package else 0)
        currency = order.currency if order.amount else (package.currency if package else order.currency)
        problems = charge_problems(
            charge, price, currency, discounts_allowed=bool(package and package.allow_discounts)
        )
        if package is None:
            problems.append(f"the order's package {order.package!r} is no longer offered")
        if named is not None and named != order.id:
            problems.append(f"the session belongs to order {order.id} but its metadata names order {named}")
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
        payment = payment_values(session, charge)
        row = {**payment, "updated_at": payment["paid_at"]}
        marked = await execute(conn, mark_paid(), mark_paid().values(row, order.id, *PAYABLE))
        if not marked:
            return ALREADY_PAID, order.id
        await self._enqueue_provision(conn, order.id)
        return PAID, order.id

    async def _order_from_metadata(
        self,
        conn: BaseDBAsyncClient,
        event_id: str,
        session: dict[str, Any],
        charge: Charge,
        named: int | None,
    ) -> Outcome:
        """No order of ours: a Payment Link made by an admin. The metadata must say what was bought."""
        payment = payment_values(session, charge)
        parsed, problem = parse_metadata(session.get("metadata"), self.packages)
        if parsed is None:
            where = f"order {named} does not exist" if named else "no order_id"
            await raise_alert(
                self.queue,
                "stripe.needs_attention",
                f"Stripe event {event_id}: a paid Checkout Session ({session.get('id') or 'no id'}, "
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

    async def _enqueue_provision(self, conn: BaseDBAsyncClient, order_id: int) -> None:
        """The row JobQueue.enqueue(PROVISION, ..., key=...) writes; an existing job with that key
        is left alone (ON CONFLICT DO NOTHING)."""
        now = utcnow()
        row = {
            "kind": PROVISION,
            "key": f"provision:order:{order_id}",
            "payload": {"order_id": order_id},
            "state": {},
            "status": JobStatus.PENDING,
            "attempts": 0,
            "max_attempts": self.provision_max_attempts,
            "run_after": now,
            "locked_by": None,
            "locked_until": None,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
            "finished_at": None,
        }
        await execute(conn, enqueue_once(), enqueue_once().values(row))
