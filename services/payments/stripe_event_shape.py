"""What a verified Stripe event is to us: the types we handle, the outcomes we record on
`StripeEvent.outcome` (and count in /metrics), and reading an event's fields (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models import OrderStatus

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


def expected_outcome(type_: str, obj: dict[str, Any]) -> str:
    """The usual outcome of an event of this shape (a guess: the processor corrects it if wrong)."""
    if type_ in PAID_TYPES and obj.get("payment_status") in ("paid", "no_payment_required"):
        return PAID if order_id_named(obj) is not None else ORDER_CREATED
    if type_ in CLOSING_TYPES:
        return CLOSED
    return IGNORED if type_ not in HANDLED_TYPES else "received"


def order_id_named(obj: dict[str, Any]) -> int | None:
    """The order id the object names (metadata order_id, else client_reference_id), if any."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    for raw in (metadata.get("order_id"), obj.get("client_reference_id")):
        text = str(raw or "").strip()
        if text.isdigit() and 0 < int(text) < 2**31:
            return int(text)
    return None


def as_int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
