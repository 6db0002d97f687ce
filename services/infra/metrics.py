"""Prometheus metrics, by `prometheus_client` (its default registry also carries the process metrics:
`process_cpu_seconds_total`, memory, open files, and the Python GC).

In-process series (each process counts what it did):
- `meetmatt_webhook_events_total{type,outcome}`: Stripe events by type and outcome.
- `meetmatt_http_request_duration_seconds{route,method,status}`: request latency histogram.
- `meetmatt_payment_to_live_seconds`: from payment to "your agent is live", observed by the worker.
- `meetmatt_model_gateway_requests_total{outcome}`, `meetmatt_model_gateway_tokens_total{kind}` and
  `meetmatt_model_gateway_upstream_seconds{stage}`: the model gateway's requests, tokens, latency.

Business series read from the database at scrape time (`refresh_from_database()`), so every
replica reports the same fleet-wide truth:
- `meetmatt_orders{status}`, `meetmatt_instances{status}`, `meetmatt_creator_accounts{status}`,
  `meetmatt_jobs{kind,status}`, and `meetmatt_alerts_raised_total{kind,severity}` (merged repeats count).
When the database does not answer, these series are left out (never stale numbers).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PAYMENT_TO_LIVE_BUCKETS = (30, 60, 120, 180, 300, 450, 600, 900, 1800, 3600, 4 * 3600, 24 * 3600)

WEBHOOK_EVENTS = Counter(
    "meetmatt_webhook_events", "Stripe webhook events by type and outcome.", ["type", "outcome"]
)
HTTP_LATENCY = Histogram(
    "meetmatt_http_request_duration_seconds",
    "HTTP request latency.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
PAYMENT_TO_LIVE = Histogram(
    "meetmatt_payment_to_live_seconds",
    "Seconds from a new agent's payment to the agent being live.",
    buckets=PAYMENT_TO_LIVE_BUCKETS,
)
MODEL_REQUESTS = Counter("meetmatt_model_gateway_requests", "Model gateway requests by outcome.", ["outcome"])
MODEL_TOKENS = Counter("meetmatt_model_gateway_tokens", "Tokens the upstream reported, by kind.", ["kind"])
MODEL_UPSTREAM_SECONDS = Histogram(
    "meetmatt_model_gateway_upstream_seconds",
    "Upstream latency: to its response headers (first_byte) and to the end of the answer (complete).",
    ["stage"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)


@dataclass
class Snapshot:
    orders: dict[str, int] = field(default_factory=dict)
    instances: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, int] = field(default_factory=dict)
    jobs: dict[tuple[str, str], int] = field(default_factory=dict)
    alerts: dict[tuple[str, str], int] = field(default_factory=dict)


class DatabaseCollector(Collector):
    """Yields the business series from the last snapshot read from the database."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if snap is None:
            return
        for name, doc, values in (
            ("meetmatt_orders", "Orders by status.", snap.orders),
            ("meetmatt_instances", "Customer instances by status.", snap.instances),
            ("meetmatt_creator_accounts", "Creator accounts by status.", snap.accounts),
        ):
            family = GaugeMetricFamily(name, doc, labels=["status"])
            for status, n in sorted(values.items()):
                family.add_metric([status], n)
            yield family
        jobs = GaugeMetricFamily("meetmatt_jobs", "Jobs by kind and state.", labels=["kind", "status"])
        for (kind, status), n in sorted(snap.jobs.items()):
            jobs.add_metric([kind, status], n)
        yield jobs
        alerts = CounterMetricFamily(
            "meetmatt_alerts_raised", "Admin alerts raised (repeats included).", labels=["kind", "severity"]
        )
        for (kind, severity), n in sorted(snap.alerts.items()):
            alerts.add_metric([kind, severity], n)
        yield alerts


DATABASE = DatabaseCollector()
REGISTRY.register(DATABASE)


async def read_snapshot() -> Snapshot:
    from tortoise.functions import Count, Sum

    from models import Alert, Instance, Job, Order, TelegramAccount

    async def by_status(model) -> dict[str, int]:
        rows = await model.annotate(n=Count("id")).group_by("status").values("status", "n")
        return {str(r["status"]): int(r["n"]) for r in rows}

    jobs = await Job.annotate(n=Count("id")).group_by("kind", "status").values("kind", "status", "n")
    alerts = await Alert.annotate(n=Sum("count")).group_by("kind", "severity").values("kind", "severity", "n")
    return Snapshot(
        orders=await by_status(Order),
        instances=await by_status(Instance),
        accounts=await by_status(TelegramAccount),
        jobs={(r["kind"], str(r["status"])): int(r["n"]) for r in jobs},
        alerts={(r["kind"], str(r["severity"])): int(r["n"] or 0) for r in alerts},
    )


async def refresh_from_database() -> bool:
    """Read the business series; on a database failure drop them (False) rather than serve stale ones."""
    try:
        DATABASE.snapshot = await read_snapshot()
        return True
    except Exception as exc:  # any failure: the scrape still serves the in-process series
        log.warning("metrics: database read failed: %s", type(exc).__name__)
        DATABASE.snapshot = None
        return False


def render(registry: CollectorRegistry = REGISTRY) -> bytes:
    return generate_latest(registry)


def observe_payment_to_live(seconds: float) -> None:
    PAYMENT_TO_LIVE.observe(max(0.0, seconds))
