"""Payments over Stripe: Checkout Sessions for orders, and refunds. Both are idempotent per order.

The Stripe client is `stripe.StripeClient` with its aiohttp HTTP client (async), a bounded timeout
and network retries; `STRIPE_API_BASE` points it at another API base (the tests' stand-in).

Idempotency:
- A Checkout Session is created with an idempotency key derived from the order and the session's
  expiry, and the expiry itself is derived from the order's creation time. A retried click (even one
  that lost the first answer) sends the same key and the same parameters, so Stripe answers with the
  same session instead of making a second one. Only when that window is over does a new key apply.
- A refund uses the key `meetmatt:refund:order:<id>`: a retried refund job gets the same refund back.

Return URLs bring the customer back to the Meet Matt bot: `https://t.me/<bot>?start=paid_<order id>`
and `...?start=cancel_<order id>` (see `START_PAID_PREFIX`, `START_CANCEL_PREFIX`).
"""

from __future__ import annotations

import logging
import math
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import stripe

from config import Settings
from models import Customer, Order, OrderStatus
from services.jobs.queue import Claimed, JobQueue
from services.jobs.worker import PermanentError
from services.notifications.customer_text import N_, Text
from services.notifications.customers import queue_customer_message
from services.payments.packages import Package, find_package, money_text

log = logging.getLogger(__name__)

START_PAID_PREFIX = "paid_"
START_CANCEL_PREFIX = "cancel_"
# Stripe accepts a Checkout Session expiry between 30 minutes and 24 hours from creation.
MIN_SESSION_TTL = timedelta(minutes=30)
MAX_SESSION_TTL = timedelta(hours=24)
# a new session must still have this much life left when created, or the window moves on
_FRESH_MARGIN = timedelta(minutes=31)

_http_clients: weakref.WeakKeyDictionary[stripe.StripeClient, stripe.AIOHTTPClient] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class CheckoutLink:
    session_id: str
    url: str


class PaymentError(RuntimeError):
    """A payment operation failed for a reason worth telling an operator (message has no secrets)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class PaymentConfigError(PaymentError):
    """Stripe is not configured (e.g. STRIPE_SECRET_KEY missing)."""


def make_stripe_client(
    settings: Settings, *, timeout: float = 20.0, max_network_retries: int = 2
) -> stripe.StripeClient:
    """A StripeClient on aiohttp (async) with STRIPE_SECRET_KEY and the STRIPE_API_BASE override.

    Close it with `close_stripe_client` when the process stops (it owns an aiohttp session).
    """
    secret = settings.stripe_secret_key.get_secret_value() if settings.stripe_secret_key else ""
    if not secret:
        raise PaymentConfigError("STRIPE_SECRET_KEY is not set: cannot talk to Stripe")
    http_client = stripe.AIOHTTPClient(timeout=aiohttp.ClientTimeout(total=timeout))
    base = (settings.stripe_api_base or "").rstrip("/") or None
    client = stripe.StripeClient(
        secret,
        base_addresses={"api": base} if base else None,
        http_client=http_client,
        max_network_retries=max_network_retries,
    )
    _http_clients[client] = http_client
    return client


async def close_stripe_client(client: stripe.StripeClient | None) -> None:
    """Close the HTTP session of a client made by `make_stripe_client` (safe to call twice)."""
    http_client = _http_clients.pop(client, None) if client is not None else None
    if http_client is not None and http_client._cached_session is not None:
        await http_client.close_async()


def _describe_stripe_error(exc: stripe.StripeError) -> str:
    """Stripe's own words about an error (never the request: it carries the key)."""
    details = [f"HTTP {exc.http_status}"] if exc.http_status else []
    if exc.code:
        details.append(f"code={exc.code}")
    message = exc.user_message or (str(exc).strip().splitlines() or [""])[0]
    text = type(exc).__name__ + (f" ({', '.join(details)})" if details else "")
    return f"{text}: {message[:300]}" if message else text


def _retryable(exc: stripe.StripeError) -> bool:
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return True
    status = getattr(exc, "http_status", None)
    return bool(status and status >= 500)


def session_window(created_at: datetime, now: datetime, ttl: timedelta) -> datetime:
    """The Checkout Session expiry for an order: fixed per order and window, so retries match.

    The first window ends at created_at + ttl. When less than ~31 minutes of it remain (Stripe wants
    at least 30), the expiry moves to the first whole ttl step after created_at that leaves enough.
    """
    ttl = min(max(ttl, MIN_SESSION_TTL), MAX_SESSION_TTL)
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    steps = max(1, math.ceil((now + _FRESH_MARGIN - created_at) / ttl))
    expires = created_at + ttl * steps
    if expires - now > MAX_SESSION_TTL:  # clock skew; never ask Stripe for more than it allows
        expires = now + MAX_SESSION_TTL
    return expires.replace(microsecond=0)


def checkout_idempotency_key(order_id: int, expires_at: datetime) -> str:
    return f"meetmatt:checkout:order:{order_id}:{int(expires_at.timestamp())}"


def refund_idempotency_key(order_id: int) -> str:
    return f"meetmatt:refund:order:{order_id}"


class PaymentsService:
    """Checkout links and refunds for orders, over a `stripe.StripeClient`."""

    def __init__(
        self,
        client: stripe.StripeClient,
        packages: tuple[Package, ...],
        *,
        bot_username: str | None,
        session_ttl_minutes: int = 60,
    ) -> None:
        self.client = client
        self.packages = packages
        self.bot_username = (bot_username or "").lstrip("@") or None
        self.session_ttl = timedelta(minutes=session_ttl_minutes)

    def return_urls(self, order_id: int) -> tuple[str, str]:
        """success_url and cancel_url: deep links back into the Meet Matt bot."""
        if not self.bot_username:
            raise PaymentConfigError("the Meet Matt bot's username is unknown: cannot build return URLs")
        base = f"https://t.me/{self.bot_username}?start="
        return f"{base}{START_PAID_PREFIX}{order_id}", f"{base}{START_CANCEL_PREFIX}{order_id}"

    def checkout_params(
        self, order: Order, customer: Customer, package: Package, expires_at: datetime
    ) -> dict[str, Any]:
        success_url, cancel_url = self.return_urls(order.id)
        product = f"{package.title}: {order.bot_name}" if order.bot_name else package.title
        if order.renews_id is not None:
            product = f"Renewal, {product}"
        metadata = {
            "order_id": str(order.id),
            "userId": str(customer.telegram_id),
            "botName": order.bot_name,
            "packageType": package.code,
        }
        return {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": package.currency.lower(),
                        "unit_amount": package.price,
                        "product_data": {
                            "name": product[:250],
                            "description": package.blurb or package.title,
                        },
                    },
                }
            ],
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            # a receipt the customer can keep: Stripe issues a paid invoice (PDF, e-mailed) after payment
            "invoice_creation": {
                "enabled": True,
                "invoice_data": {"description": f"Meet Matt: {product}"[:500], "metadata": metadata},
            },
            "client_reference_id": str(order.id),
            "success_url": success_url,
            "cancel_url": cancel_url,
            "expires_at": int(expires_at.timestamp()),
        }

    async def create_checkout(self, order: Order, *, now: datetime | None = None) -> CheckoutLink:
        """A Checkout Session for the order (reusing the order's open one), stored on the order.

        Raises PaymentError (`retryable` when Stripe was unreachable or failing) with the reason.
        """
        if order.status != OrderStatus.AWAITING_PAYMENT:
            raise PaymentError(f"order {order.id} is {order.status.value}, not awaiting payment")
        now = now or datetime.now(UTC)
        if order.stripe_session_id and order.checkout_url and await self._still_open(order, now):
            return CheckoutLink(order.stripe_session_id, order.checkout_url)
        package = find_package(self.packages, order.package)
        if package is None:
            raise PaymentError(f"order {order.id} names an unknown package {order.package!r}")
        customer = await Customer.get(id=order.customer_id)
        expires_at = session_window(order.created_at, now, self.session_ttl)
        params = self.checkout_params(order, customer, package, expires_at)
        key = checkout_idempotency_key(order.id, expires_at)
        try:
            session = await self.client.v1.checkout.sessions.create_async(
                params=params, options={"idempotency_key": key}
            )  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise PaymentError(
                f"Stripe refused the checkout session for order {order.id}: {_describe_stripe_error(exc)}",
                retryable=_retryable(exc),
            ) from None
        if not session.url:
            raise PaymentError(f"Stripe returned checkout session {session.id} without a URL")
        order.stripe_session_id = session.id
        order.checkout_url = session.url
        order.amount = package.price
        order.currency = package.currency.lower()
        await order.save(
            update_fields=["stripe_session_id", "checkout_url", "amount", "currency", "updated_at"]
        )
        log.info("checkout session created order=%s session=%s", order.id, session.id)
        return CheckoutLink(session.id, session.url)

    async def _still_open(self, order: Order, now: datetime) -> bool:
        """Whether the order's stored session can still be paid. Inside the first window it surely
        can (no call); later, Stripe is asked, because the `expired` webhook may not have come yet."""
        created = order.created_at if order.created_at.tzinfo else order.created_at.replace(tzinfo=UTC)
        if now < created + max(self.session_ttl, MIN_SESSION_TTL) - timedelta(minutes=5):
            return True
        try:
            session = await self.client.v1.checkout.sessions.retrieve_async(order.stripe_session_id or "")
        except stripe.StripeError as exc:
            raise PaymentError(
                f"Stripe could not say whether order {order.id}'s checkout session is "
                f"open: {_describe_stripe_error(exc)}",
                retryable=_retryable(exc),
            ) from None
        if session.status == "complete":
            raise PaymentError(
                f"order {order.id}'s checkout session is already paid; the payment is being recorded"
            )
        return session.status == "open"

    async def refund(self, order: Order, reason: str) -> str:
        """Refund the order's payment in full; returns the refund id. Safe to call again."""
        if not order.stripe_payment_intent:
            raise PaymentError(f"order {order.id} has no recorded payment to refund")
        try:
            refund = await self.client.v1.refunds.create_async(
                params={
                    "payment_intent": order.stripe_payment_intent,
                    "metadata": {"order_id": str(order.id)},
                },
                options={"idempotency_key": refund_idempotency_key(order.id)},
            )
        except stripe.StripeError as exc:
            raise PaymentError(
                f"Stripe refused the refund for order {order.id}: {_describe_stripe_error(exc)}",
                retryable=_retryable(exc),
            ) from None
        amount = int(refund.amount or 0)
        order.amount_refunded = max(order.amount_refunded, amount)
        fields = ["amount_refunded", "updated_at"]
        if order.amount and order.amount_refunded >= order.amount:
            order.status = OrderStatus.REFUNDED
            fields.append("status")
        if not order.closed_reason:
            order.closed_reason = f"refunded: {reason}"[:2000]
            fields.append("closed_reason")
        await order.save(update_fields=fields)
        log.info(
            "refund created order=%s refund=%s amount=%s status=%s",
            order.id,
            refund.id,
            amount,
            refund.status,
        )
        return refund.id


REFUND_TEXT = N_(
    "Your payment of {amount} for <b>{bot}</b> has been refunded. It can take 5-10 business "
    "days to show on your statement."
)  # a Text: the bot renders it in the customer's language


async def handle_refund_job(payments: PaymentsService | None, queue: JobQueue, claimed: Claimed) -> None:
    """The worker's `refund_order` handler: a refund Stripe refused for good (or no Stripe key) is a
    PermanentError, so the job dies at once with the reason instead of retrying; the rest retry."""
    if payments is None:
        raise PermanentError("STRIPE_SECRET_KEY is not set: cannot refund")
    try:
        await run_refund_job(payments, queue, claimed.job.payload)
    except PaymentError as exc:
        if not exc.retryable:
            raise PermanentError(str(exc)) from None
        raise


async def run_refund_job(payments: PaymentsService, queue: JobQueue, payload: dict[str, Any]) -> str:
    """The `refund_order` job (payload {"order_id", "reason"}): refund in full, tell the customer once.

    Returns the refund id ("" when the order was already fully refunded). Raises PaymentError
    (`handle_refund_job` turns the ones not worth retrying into PermanentError).
    """
    order_id = int(payload["order_id"])
    order = await Order.get_or_none(id=order_id)
    if order is None:
        raise PaymentError(f"refund: order {order_id} does not exist")
    refund_id = ""
    # Stripe forgets idempotency keys after 24 hours: a late retry must not ask for a second refund
    if not (order.amount and order.amount_refunded >= order.amount):
        refund_id = await payments.refund(order, str(payload.get("reason") or "refund requested"))
    customer = await Customer.get(id=order.customer_id)
    text = Text(
        REFUND_TEXT,
        {"amount": money_text(order.amount_refunded or order.amount, order.currency), "bot": order.bot_name},
    )
    await queue_customer_message(queue, customer.telegram_id, text, key=f"refund:order:{order_id}:customer")
    return refund_id
