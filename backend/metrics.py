"""Prometheus metrics, one registry per process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

registry = CollectorRegistry(auto_describe=True)

ingested_rows = Counter(
    "verity_ingested_rows",
    "Rows stored by ingestion (new rows only).",
    ["kind"],
    registry=registry,
)
duplicate_rows = Counter(
    "verity_duplicate_rows",
    "Rows received again under an event_id already stored.",
    ["kind"],
    registry=registry,
)
rejected_rows = Counter(
    "verity_rejected_rows",
    "Rows in batches rejected by validation.",
    ["kind"],
    registry=registry,
)
request_latency = Histogram(
    "verity_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=registry,
)
