"""Prometheus metrics in the text exposition format, kept in process (no extra dependency).

- `meetmatt_webhook_events_total{type,outcome}`: Stripe events by type and outcome
  (outcome `rejected_*` for requests refused before processing, `error` for a 500).
- `meetmatt_jobs{status}`: jobs by status, read from the job table at scrape time.
- `meetmatt_http_request_duration_seconds{route,method,status}`: request latency histogram.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

from aiohttp import web

from services.jobs import JobQueue

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


class Metrics:
    """Counters and a latency histogram for this process."""

    def __init__(self) -> None:
        self.webhook_events: dict[tuple[str, str], int] = defaultdict(int)
        self._latency: dict[tuple[str, str, str], list[float]] = {}  # per bucket counts + sum + count

    def count_event(self, type_: str, outcome: str) -> None:
        self.webhook_events[(type_, outcome)] += 1

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, str(status))
        series = self._latency.get(key)
        if series is None:
            series = self._latency[key] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        index = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        if index < len(LATENCY_BUCKETS):
            series[index] += 1
        series[-2] += seconds
        series[-1] += 1

    def render(self, job_counts: dict[str, int] | None) -> str:
        lines = [
            "# HELP meetmatt_webhook_events_total Stripe webhook events by type and outcome.",
            "# TYPE meetmatt_webhook_events_total counter",
        ]
        for (type_, outcome), n in sorted(self.webhook_events.items()):
            lines.append(f"meetmatt_webhook_events_total{_labels(type=type_, outcome=outcome)} {n}")
        lines += ["# HELP meetmatt_jobs Jobs in the queue by status.", "# TYPE meetmatt_jobs gauge"]
        for status, n in sorted((job_counts or {}).items()):
            lines.append(f"meetmatt_jobs{_labels(status=status)} {n}")
        name = "meetmatt_http_request_duration_seconds"
        lines += [f"# HELP {name} HTTP request latency.", f"# TYPE {name} histogram"]
        for (route, method, status), series in sorted(self._latency.items()):
            cumulative = 0.0
            for bound, n in zip(LATENCY_BUCKETS, series, strict=False):
                cumulative += n
                labels = _labels(route=route, method=method, status=status, le=repr(bound))
                lines.append(f"{name}_bucket{labels} {int(cumulative)}")
            labels = _labels(route=route, method=method, status=status, le="+Inf")
            lines.append(f"{name}_bucket{labels} {int(series[-1])}")
            base = _labels(route=route, method=method, status=status)
            lines.append(f"{name}_sum{base} {series[-2]:.6f}")
            lines.append(f"{name}_count{base} {int(series[-1])}")
        return "\n".join(lines) + "\n"


METRICS_KEY = web.AppKey("metrics", Metrics)


def _route_name(request: web.Request) -> str:
    route = request.match_info.route
    resource = route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def latency_middleware(request: web.Request,
                             handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                             ) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[METRICS_KEY].observe(_route_name(request), request.method, status,
                                         time.perf_counter() - started)


def metrics_handler(queue: JobQueue) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        try:
            counts = await queue.counts()
        except Exception:  # the database may be down: still serve the in-process metrics
            counts = None
        text = request.app[METRICS_KEY].render(counts)
        # the model gateway's prometheus_client metrics (default registry) follow the hand-made ones
        from webhooks.model_gateway_metrics import exposition

        return web.Response(body=text.encode() + exposition(), headers={"Content-Type": CONTENT_TYPE})

    return handle
