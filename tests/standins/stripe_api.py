"""A small local stand-in of Stripe's API: `/v1/checkout/sessions` and `/v1/refunds`.

It is a real aiohttp server on 127.0.0.1 that the real `stripe.StripeClient` reaches through
`STRIPE_API_BASE`. It records every request (form fields exactly as Stripe receives them, e.g.
`metadata[order_id]`, and the Idempotency-Key header) and honours idempotency keys like Stripe: the
same key with the same parameters answers the same object; the same key with different parameters
answers 400 `idempotency_error`. `fail_next()` makes the next requests fail, to test error paths.

    async with StripeStandIn() as stripe_api:
        settings = Settings(stripe_secret_key="sk_test_...", stripe_api_base=stripe_api.base_url)
        ...
        stripe_api.requests[-1].form["metadata[order_id]"]
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class RecordedRequest:
    method: str
    path: str
    form: dict[str, str]
    idempotency_key: str | None
    authorized: bool
    status: int = 0
    response: dict[str, Any] = field(default_factory=dict)


def _unflatten(form: dict[str, str]) -> dict[str, Any]:
    """`a[b][0][c]=v` -> {"a": {"b": {"0": {"c": "v"}}}} (lists stay keyed by their index)."""
    root: dict[str, Any] = {}
    for key, value in form.items():
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return root


def _error(status: int, type_: str, message: str, code: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": {"type": type_, "message": message}}
    if code:
        body["error"]["code"] = code
    return web.json_response(body, status=status)


class StripeStandIn:
    """Stripe's Checkout Session and Refund endpoints, with idempotency, on a local port."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.payment_intents: dict[str, int] = {}  # id -> amount captured
        self._idempotent: dict[tuple[str, str], tuple[dict[str, str], int, dict[str, Any]]] = {}
        self._failures: list[tuple[int, str, str]] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/checkout/sessions", self._create_session)
        app.router.add_get("/v1/checkout/sessions/{id}", self._get_session)
        app.router.add_post("/v1/refunds", self._create_refund)
        app.router.add_get("/v1/balance", self._get_balance)  # what `check-config --online` reads
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> StripeStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- test controls ---------------------------------------------------------------------------

    def fail_next(
        self,
        status: int = 500,
        error_type: str = "api_error",
        message: str = "An unknown error occurred",
        times: int = 1,
    ) -> None:
        """The next `times` requests answer this error (before idempotency is consulted)."""
        self._failures.extend([(status, error_type, message)] * times)

    def complete_session(self, session_id: str) -> dict[str, Any]:
        """Mark a session paid as Stripe would after checkout; returns the session object."""
        session = self.sessions[session_id]
        pi = f"pi_{secrets.token_hex(12)}"
        self.payment_intents[pi] = session["amount_total"]
        session.update(status="complete", payment_status="paid", payment_intent=pi)
        if session.get("invoice_creation", {}).get("enabled"):
            session["invoice"] = f"in_{secrets.token_hex(12)}"
        return dict(session)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    # --- handlers --------------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> tuple[RecordedRequest, web.Response | None]:
        form = {k: str(v) for k, v in (await request.post()).items()}
        auth = request.headers.get("Authorization", "")
        recorded = RecordedRequest(
            request.method,
            request.path,
            form,
            request.headers.get("Idempotency-Key"),
            auth.startswith("Bearer sk_test_") or auth.startswith("Bearer rk_test_"),
        )
        self.requests.append(recorded)
        if not recorded.authorized:
            return recorded, _error(401, "invalid_request_error", "Invalid API Key provided")
        if self._failures:
            status, type_, message = self._failures.pop(0)
            return recorded, _error(status, type_, message)
        return recorded, None

    async def _idempotent_call(self, request: web.Request, create) -> web.Response:
        recorded, early = await self._record(request)
        if early is not None:
            recorded.status = early.status
            return early
        key = recorded.idempotency_key
        if key is not None and (request.path, key) in self._idempotent:
            form, status, body = self._idempotent[(request.path, key)]
            if form != recorded.form:
                recorded.status = 400
                return _error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                )
            recorded.status, recorded.response = status, body
            return web.json_response(body, status=status, headers={"Idempotent-Replayed": "true"})
        status, body = create(recorded.form)
        if key is not None and status < 500:
            self._idempotent[(request.path, key)] = (recorded.form, status, body)
        recorded.status, recorded.response = status, body
        return web.json_response(body, status=status)

    async def _create_session(self, request: web.Request) -> web.Response:
        return await self._idempotent_call(request, self._new_session)

    def _new_session(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        params = _unflatten(form)
        if params.get("mode") != "payment":
            return 400, {"error": {"type": "invalid_request_error", "message": "mode must be payment here"}}
        items = params.get("line_items") or {}
        total, currency = 0, None
        for item in items.values():
            price = item.get("price_data") or {}
            total += int(price.get("unit_amount", 0)) * int(item.get("quantity", 1))
            currency = price.get("currency", currency)
        if not total or not currency:
            return 400, {"error": {"type": "invalid_request_error", "message": "line_items need price_data"}}
        now = int(time.time())
        expires_at = int(params.get("expires_at", now + 86400))
        if not now + 1800 - 60 <= expires_at <= now + 86400 + 60:
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "param": "expires_at",
                    "message": "expires_at must be 30 minutes to 24 hours from now",
                }
            }
        session_id = f"cs_test_{secrets.token_hex(16)}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": total,
            "currency": currency,
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {},
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "expires_at": expires_at,
            "payment_intent": None,
            "url": f"{self.base_url}/c/pay/{session_id}",
            "created": now,
            "livemode": False,
            # as Stripe: the request's invoice_creation echoed; the invoice id appears once paid
            "invoice_creation": {
                **(params.get("invoice_creation") or {}),
                "enabled": (params.get("invoice_creation") or {}).get("enabled") == "true",
            },
            "invoice": None,
        }
        self.sessions[session_id] = session
        return 200, session

    async def _get_session(self, request: web.Request) -> web.Response:
        recorded, early = await self._record(request)
        if early is not None:
            return early
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            return _error(404, "invalid_request_error", "No such checkout.session", "resource_missing")
        recorded.status, recorded.response = 200, session
        return web.json_response(session)

    async def _get_balance(self, request: web.Request) -> web.Response:
        recorded, early = await self._record(request)
        if early is not None:
            return early
        recorded.status = 200
        return web.json_response(
            {
                "object": "balance",
                "livemode": False,
                "available": [{"amount": 0, "currency": "usd"}],
                "pending": [{"amount": 0, "currency": "usd"}],
            }
        )

    async def _create_refund(self, request: web.Request) -> web.Response:
        return await self._idempotent_call(request, self._new_refund)

    def _new_refund(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        pi = form.get("payment_intent")
        if not pi or pi not in self.payment_intents:
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": f"No such payment_intent: '{pi}'",
                }
            }
        captured = self.payment_intents[pi]
        already = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == pi)
        amount = int(form.get("amount", captured - already))
        if amount <= 0 or already + amount > captured:
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "code": "charge_already_refunded",
                    "message": f"Charge for {pi} has already been refunded.",
                }
            }
        refund_id = f"re_{secrets.token_hex(12)}"
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "currency": "usd",
            "payment_intent": pi,
            "status": "succeeded",
            "created": int(time.time()),
            "metadata": _unflatten(form).get("metadata") or {},
        }
        self.refunds[refund_id] = refund
        return 200, refund


def stripe_signature(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header exactly as Stripe makes it: t=<ts>,v1=<hex HMAC-SHA256 of "{t}.{body}">."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"
