"""Prometheus metrics of the model gateway (prometheus_client, default registry)."""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Histogram, generate_latest

REQUESTS = Counter("meetmatt_model_gateway_requests", "Model gateway requests by outcome.", ["outcome"])
TOKENS = Counter("meetmatt_model_gateway_tokens", "Tokens the upstream reported, by kind.", ["kind"])
UPSTREAM_SECONDS = Histogram(
    "meetmatt_model_gateway_upstream_seconds",
    "Upstream latency: to its response headers (first_byte) and to the end of the answer (complete).",
    ["stage"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))


def exposition() -> bytes:
    """The default registry in the text format (appended to /metrics)."""
    return generate_latest(REGISTRY)
