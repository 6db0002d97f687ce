"""The model gateway: agents call Meet Matt instead of Moonshot, with their own instance key.

Routes under MODEL_GATEWAY_PATH (default `/model/v1`), what OpenClaw's `openai-completions` provider
calls (the OpenAI SDK's `POST {baseUrl}/chat/completions`, and `GET {baseUrl}/models`):

- `POST /model/v1/chat/completions`: authenticates the per-instance key (401 when unknown or revoked,
  checked against the database on every request), applies the instance's quotas (429 with an
  OpenAI-style error the agent relays), forwards the body unchanged (a stream is made to ask for its
  usage when it did not) to MODEL_UPSTREAM_BASE_URL with
  the platform's MOONSHOT_API_KEY, and passes the answer back: server-sent events are written to the
  agent chunk by chunk as they arrive (never buffered), an upstream error keeps its status and body.
  The usage the upstream reports (prompt, completion, cached tokens) is added to the instance's day.
  A client that disconnects cancels the upstream request.
- `GET /model/v1/models`: the upstream's model list, for clients that probe it.

The platform key is only ever in the upstream request's header: never in a response, log line or error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from config import Settings
from models import AlertSeverity
from services.infra.metrics import MODEL_REQUESTS as REQUESTS
from services.infra.metrics import MODEL_TOKENS as TOKENS
from services.infra.metrics import MODEL_UPSTREAM_SECONDS as UPSTREAM_SECONDS
from services.jobs.queue import JobQueue, utcnow
from services.model_gateway.keys import KeyHolder, authenticate
from services.model_gateway.quota import (
    Quota,
    QuotaNotifier,
    RequestRateLimiter,
    monthly_limit_message,
    quota_for,
    rate_limit_message,
    seconds_to_next_minute,
)
from services.model_gateway.usage import Tokens, UsageRecorder, month_start, tokens_from_chunk, tokens_since
from services.notifications.alerts import raise_alert
from services.payments.packages import Package
from webhooks.model_gateway_stream import (
    ERROR_BODY_LIMIT,
    ClientGone,
    openai_error,
    stream_answer,
)

log = logging.getLogger(__name__)

DISCONNECT_POLL_S = 0.1
QUOTA_CACHE_S = 30.0  # package and override change rarely; keys are read on every request
USED_CACHE_S = 5.0  # this month's tokens in the database, re-read this often (other replicas add too)


class ModelGateway:
    """The gateway's routes and its one upstream HTTP client (opened and closed with the app)."""

    def __init__(
        self,
        *,
        upstream_base_url: str,
        upstream_key: str | None,
        packages: tuple[Package, ...],
        queue: JobQueue,
        path: str = "/model/v1",
        upstream_timeout_s: float = 600.0,
        max_body_bytes: int = 16 * 1024 * 1024,
        usage_flush_s: float = 0.5,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.upstream = upstream_base_url.rstrip("/")
        self._upstream_key = upstream_key
        self.packages = packages
        self.path = "/" + path.strip("/")
        self.timeout = aiohttp.ClientTimeout(total=upstream_timeout_s, sock_connect=10)
        self.max_body = max_body_bytes
        self.clock = clock
        self.queue = queue
        self.notifier = QuotaNotifier(queue)
        self._alerted: dict[str, float] = {}  # alert kind -> when this process last raised it
        self.limiter = RequestRateLimiter()
        self.usage = UsageRecorder(usage_flush_s)
        self._quotas: dict[int, tuple[float, Quota]] = {}
        # instance -> (expires, tokens used when read, the recorder's added_tokens() then)
        self._used: dict[int, tuple[float, int, int]] = {}
        self._http: aiohttp.ClientSession | None = None
        self._inflight: dict[asyncio.Future[web.StreamResponse], web.Request] = {}

    @classmethod
    def from_settings(cls, settings: Settings, queue: JobQueue) -> ModelGateway:
        from config import secret_value

        return cls(
            upstream_base_url=settings.model_upstream_base_url,
            upstream_key=secret_value(settings.moonshot_api_key),
            packages=settings.packages,
            queue=queue,
            path=settings.model_gateway_path,
            upstream_timeout_s=settings.model_upstream_timeout_s,
            max_body_bytes=int(settings.model_gateway_max_body_mb * 1024 * 1024),
        )

    def register(self, app: web.Application) -> None:
        app.router.add_post(f"{self.path}/chat/completions", self.chat_completions)
        app.router.add_get(f"{self.path}/models", self.models)
        app.cleanup_ctx.append(self._client)

    async def _client(self, _: web.Application) -> Any:
        self._http = aiohttp.ClientSession(
            timeout=self.timeout,
            auto_decompress=False,
            connector=aiohttp.TCPConnector(limit=512, ttl_dns_cache=300),
        )
        self.usage.start()
        watcher = asyncio.get_running_loop().create_task(
            self._watch_disconnects(), name="model-gateway-disconnects"
        )
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await self.usage.close()  # the last answers' usage is written before the database closes
            await self._http.close()
            self._http = None

    def _upstream_headers(self, request: web.Request) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._upstream_key}",
            "Content-Type": "application/json",
            "Accept": request.headers.get("Accept", "application/json, text/event-stream"),
            "Accept-Encoding": "identity",
        }

    # --- checks --------------------------------------------------------------------------------

    async def _holder(self, request: web.Request) -> KeyHolder | None:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        return await authenticate(key.strip())

    async def _quota(self, holder: KeyHolder) -> Quota:
        now = time.monotonic()
        cached = self._quotas.get(holder.instance_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        quota = await quota_for(holder.instance_id, holder.order_id, self.packages)
        self._quotas[holder.instance_id] = (now + QUOTA_CACHE_S, quota)
        return quota

    async def _refusal(self, request: web.Request) -> tuple[KeyHolder | None, web.Response | None]:
        holder = await self._holder(request)
        if holder is None:
            REQUESTS.labels("unauthorized").inc()
            return None, openai_error(
                401, "Invalid or revoked model key.", "invalid_authentication_error", "invalid_api_key"
            )
        if not self._upstream_key:
            REQUESTS.labels("not_configured").inc()
            log.error("model gateway: MOONSHOT_API_KEY is not set")
            await self._alert(
                "model_gateway_not_configured",
                "Agents are calling the model gateway but MOONSHOT_API_KEY is not set: every "
                "agent gets 503 until it is.",
            )
            return holder, openai_error(
                503,
                "The model service is not configured on this server yet; the operator has been alerted.",
                "service_unavailable",
                "not_configured",
            )
        return holder, None

    async def _tokens_used(self, instance_id: int, now: datetime) -> int:
        """This month's tokens: the database's (read every few seconds) plus what this process added
        since (written or not); a batch being written as it is read may count twice, never zero times."""
        mono = time.monotonic()
        cached = self._used.get(instance_id)
        if cached is None or cached[0] <= mono:
            added = self.usage.added_tokens(instance_id)
            base = await tokens_since(instance_id, month_start(now)) + self.usage.pending_tokens(instance_id)
            cached = self._used[instance_id] = (mono + USED_CACHE_S, base, added)
        return cached[1] + self.usage.added_tokens(instance_id) - cached[2]

    async def _over_quota(self, holder: KeyHolder) -> web.Response | None:
        now = self.clock()
        quota = await self._quota(holder)
        if not self.limiter.take(holder.key_id, quota.requests_per_minute, now):
            REQUESTS.labels("rate_limited").inc()
            return openai_error(
                429,
                rate_limit_message(quota),
                "rate_limit_error",
                "rate_limit_exceeded",
                headers={"Retry-After": str(seconds_to_next_minute(now))},
            )
        if (
            quota.tokens_per_month > 0
            and await self._tokens_used(holder.instance_id, now) >= quota.tokens_per_month
        ):
            REQUESTS.labels("quota_exceeded").inc()
            await self.notifier.over_monthly_quota(holder, quota, now)
            return openai_error(
                429, monthly_limit_message(quota, now), "rate_limit_error", "monthly_limit_reached"
            )
        return None

    async def _read_body(self, request: web.Request) -> bytes | web.Response:
        if request.content_length is not None and request.content_length > self.max_body:
            return openai_error(413, f"Request body over {self.max_body} bytes.", "invalid_request_error")
        body = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > self.max_body:
                return openai_error(413, f"Request body over {self.max_body} bytes.", "invalid_request_error")
        return bytes(body)

    # --- routes --------------------------------------------------------------------------------

    async def models(self, request: web.Request) -> web.StreamResponse:
        _, refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        assert self._http is not None
        try:
            async with self._http.get(
                f"{self.upstream}/models", headers=self._upstream_headers(request)
            ) as up:
                body = await up.content.read(ERROR_BODY_LIMIT)
                return web.Response(
                    status=up.status,
                    body=self._scrub(body),
                    content_type=up.content_type or "application/json",
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            return self._unreachable(exc)

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        holder, refusal = await self._refusal(request)
        if refusal is not None or holder is None:
            return refusal  # type: ignore[return-value]
        body = await self._read_body(request)
        if isinstance(body, web.Response):
            REQUESTS.labels("bad_request").inc()
            return body
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            REQUESTS.labels("bad_request").inc()
            return openai_error(400, "The request body is not a JSON object.", "invalid_request_error")
        over = await self._over_quota(holder)
        if over is not None:
            return over
        options = parsed.get("stream_options")
        options = options if isinstance(options, dict) else {}
        if parsed.get("stream") and options.get("include_usage") is not True:
            # metering must not depend on the client asking for usage (OpenClaw does; a tampered
            # agent may not): re-encoded only then, so the usual body goes through byte for byte
            parsed["stream_options"] = {**options, "include_usage": True}
            body = json.dumps(parsed).encode()
        # its own task, so that the disconnect watcher can cancel it (and with it the upstream request)
        forward = asyncio.ensure_future(self._forward(request, holder, body))
        self._inflight[forward] = request
        try:
            return await forward
        except ClientGone:
            return web.Response(status=499)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if forward.cancelled() and not (current is not None and current.cancelling()):
                return web.Response(status=499)  # the watcher stopped it: the agent went away
            raise
        finally:
            self._inflight.pop(forward, None)

    async def _watch_disconnects(self) -> None:
        """One loop for every request in flight: the agent's connection gone, its forwarding is
        cancelled (before the first byte and between chunks, when no write would notice)."""
        while True:
            await asyncio.sleep(DISCONNECT_POLL_S)
            for task, request in list(self._inflight.items()):
                transport = request.transport
                if (transport is None or transport.is_closing()) and not task.done():
                    task.cancel()

    async def _alert(self, kind: str, text: str, every_s: float = 60.0) -> None:
        """A critical admin alert, raised at most once a minute per kind by this process (a storm of
        refused requests is one alert; the alert store merges repeats across processes)."""
        now = time.monotonic()
        if now - self._alerted.get(kind, -every_s) < every_s:
            return
        self._alerted[kind] = now
        try:
            await raise_alert(self.queue, kind, text, severity=AlertSeverity.CRITICAL, dedup_key=kind)
        except Exception:  # alerting must not turn the agent's answer into a 500
            log.exception("model gateway: alert not stored", extra={"kind": kind})

    def _scrub(self, body: bytes) -> bytes:
        """An upstream body never carries the platform key back (an echoing proxy could)."""
        key = self._upstream_key
        return body.replace(key.encode(), b"[redacted]") if key and key.encode() in body else body

    def _unreachable(self, exc: BaseException) -> web.Response:
        REQUESTS.labels("upstream_unreachable").inc()
        log.warning("model gateway: upstream unreachable: %s", type(exc).__name__)
        if isinstance(exc, TimeoutError):
            return openai_error(504, "The model did not answer in time. Please try again.", "timeout_error")
        return openai_error(
            502, "The model service could not be reached. Please try again.", "upstream_error"
        )

    async def _forward(self, request: web.Request, holder: KeyHolder, body: bytes) -> web.StreamResponse:
        assert self._http is not None
        started = time.perf_counter()
        outcome, tokens = "client_disconnected", None
        try:
            async with self._http.post(
                f"{self.upstream}/chat/completions", data=body, headers=self._upstream_headers(request)
            ) as up:
                UPSTREAM_SECONDS.labels("first_byte").observe(time.perf_counter() - started)
                if up.status != 200:
                    outcome = "upstream_error"
                    error_body = await up.content.read(ERROR_BODY_LIMIT)
                    if up.status in (401, 403):  # the platform key itself is refused: every agent is down
                        await self._alert(
                            "model_upstream_auth",
                            f"The model upstream refused the platform key (HTTP {up.status}): "
                            "every agent's model calls fail. Check MOONSHOT_API_KEY and the "
                            "Moonshot account.",
                        )
                    log.info(
                        "model gateway: upstream answered %s",
                        up.status,
                        extra={"instance_id": holder.instance_id},
                    )
                    retry_after = up.headers.get("Retry-After")  # so the agent backs off as asked
                    return web.Response(
                        status=up.status,
                        body=self._scrub(error_body),
                        content_type=up.content_type or "application/json",
                        headers={"Retry-After": retry_after} if retry_after else None,
                    )
                if up.content_type == "text/event-stream":
                    response, tokens = await stream_answer(request, up, self._upstream_key or "")
                else:
                    answer = await up.read()
                    try:
                        tokens = tokens_from_chunk(json.loads(answer))
                    except ValueError:
                        tokens = None
                    response = web.Response(
                        status=200,
                        body=self._scrub(answer),
                        content_type=up.content_type or "application/json",
                    )
                outcome = "ok"
                UPSTREAM_SECONDS.labels("complete").observe(time.perf_counter() - started)
                return response
        except (aiohttp.ClientError, TimeoutError) as exc:
            outcome = "upstream_unreachable"
            return self._unreachable(exc)
        finally:
            if outcome != "upstream_unreachable":
                REQUESTS.labels(outcome).inc()
            self._record(holder, tokens)

    def _record(self, holder: KeyHolder, tokens: Tokens | None) -> None:
        if tokens is not None:
            TOKENS.labels("prompt").inc(tokens.prompt)
            TOKENS.labels("completion").inc(tokens.completion)
            TOKENS.labels("cached").inc(tokens.cached)
        # in memory, written by the recorder: a disconnected request still counts what it cost
        self.usage.add(holder.instance_id, self.clock().date(), tokens)


MODEL_GATEWAY_KEY = web.AppKey("model_gateway", ModelGateway)
