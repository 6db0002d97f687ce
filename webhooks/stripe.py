"""`POST /webhooks/stripe`: read the raw body (at most 1 MiB), verify Stripe's signature, process once.

Answers (Stripe retries anything that is not 2xx):
- 200 for every verified event, including redeliveries, unknown types and metadata we cannot use
  (those are kept and alerted on: a 500 would only make Stripe retry the same bad event for days);
- 400 for a missing, forged or stale signature and for a signed body that is not a Stripe event;
- 413 for a body over 1 MiB, 415 for a body that is not JSON;
- 500 when processing fails (the transaction is rolled back and Stripe's retry redoes it);
- 503 when STRIPE_WEBHOOK_SECRET is not configured.
Nothing is written to the database for any answer but 200.
"""

from __future__ import annotations

import json
import logging

import stripe
from aiohttp import web

from services.payments.stripe_events import InvalidEvent, StripeEventProcessor, event_fields
from webhooks.metrics import Metrics

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
PATH = "/webhooks/stripe"


def _reject(metrics: Metrics, status: int, reason: str, outcome: str) -> web.Response:
    metrics.count_event("unverified", outcome)
    return web.json_response({"error": reason}, status=status)


class StripeWebhook:
    """The aiohttp handler; the event's effects live in `services.payments.stripe_events`."""

    def __init__(
        self,
        processor: StripeEventProcessor,
        webhook_secret: str | None,
        metrics: Metrics,
        *,
        tolerance: int = stripe.Webhook.DEFAULT_TOLERANCE,
    ) -> None:
        self.processor = processor
        self.secret = webhook_secret
        self.metrics = metrics
        self.tolerance = tolerance

    def register(self, app: web.Application, path: str = PATH) -> None:
        app.router.add_post(path, self.handle)

    async def _read_body(self, request: web.Request) -> bytes | None:
        """The raw body, or None when it is larger than MAX_BODY (read no further than that)."""
        if request.content_length is not None and request.content_length > MAX_BODY:
            return None
        chunks, size = [], 0
        async for chunk in request.content.iter_any():
            size += len(chunk)
            if size > MAX_BODY:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def handle(self, request: web.Request) -> web.Response:
        metrics = self.metrics
        if not self.secret:
            log.error("stripe webhook refused: STRIPE_WEBHOOK_SECRET is not configured")
            return _reject(metrics, 503, "webhook secret not configured", "rejected_unconfigured")
        body = await self._read_body(request)
        if body is None:
            return _reject(metrics, 413, "body larger than 1 MiB", "rejected_too_large")
        if request.content_type != "application/json":
            return _reject(metrics, 415, "expected application/json", "rejected_content_type")
        signature = request.headers.get("Stripe-Signature")
        if not signature:
            return _reject(metrics, 400, "missing Stripe-Signature header", "rejected_signature")
        try:
            # Stripe's own verifier (what Webhook.construct_event runs first): HMAC-SHA256 over
            # "{t}.{body}", constant-time compare, timestamp within the tolerance. The verified body
            # is then parsed as plain JSON: the processor works on dicts, not StripeObjects.
            stripe.WebhookSignature.verify_header(body, signature, self.secret, self.tolerance)
        except stripe.SignatureVerificationError:
            log.warning("stripe webhook: signature verification failed (forged, stale or wrong secret)")
            return _reject(metrics, 400, "invalid signature", "rejected_signature")
        except ValueError:  # not UTF-8
            return _reject(metrics, 400, "body is not valid UTF-8", "rejected_malformed")
        try:
            text = body.decode()  # verify_header has decoded it once already: it is UTF-8
            event = json.loads(text)
            event_fields(event)
        except (ValueError, InvalidEvent) as exc:
            reason = str(exc) if isinstance(exc, InvalidEvent) else "body is not valid JSON"
            return _reject(metrics, 400, reason, "rejected_malformed")
        try:
            result = await self.processor.process(event, text)
        except Exception:
            log.exception("stripe webhook: processing failed, rolled back; Stripe will retry")
            metrics.count_event(str(event.get("type")), "error")
            return web.json_response({"error": "processing failed"}, status=500)
        metrics.count_event(result.type, result.outcome)
        return web.json_response({"received": True, "outcome": result.outcome})
