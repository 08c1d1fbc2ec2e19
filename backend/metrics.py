"""Prometheus metrics, one registry per process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
in_flight_requests = Gauge(
    "verity_http_in_flight_requests",
    "Requests being served by this process (health and metrics excluded).",
    registry=registry,
)
shed_requests = Counter(
    "verity_http_shed_requests",
    "Requests refused with 429 because the in-flight limit was reached.",
    registry=registry,
)
database_unavailable = Counter(
    "verity_database_unavailable_errors",
    "Requests answered 503 because the database could not be reached or was full.",
    ["reason"],
    registry=registry,
)

# Counted by the process that runs the checks (the scheduler, or the API for manual
# runs), after the run's transaction has committed.
check_runs = Counter(
    "verity_check_runs",
    "Check runs stored, by detector kind, run status and trigger.",
    ["kind", "status", "trigger"],
    registry=registry,
)
check_compute_seconds = Histogram(
    "verity_check_compute_seconds",
    "Detector compute time per stored check run.",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=registry,
)
check_run_seconds = Histogram(
    "verity_check_run_seconds",
    "Wall time per stored check run: load, compute and store.",
    ["kind"],
    buckets=(0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
    registry=registry,
)
check_store_failures = Counter(
    "verity_check_store_failures",
    "Check runs that could not be stored (the lease expires and another scheduler retries).",
    registry=registry,
)
alert_transitions = Counter(
    "verity_alert_transitions",
    "Alert state changes, by event and severity.",
    ["event", "severity"],
    registry=registry,
)
notification_deliveries = Counter(
    "verity_notification_deliveries",
    "Notification delivery attempts, by channel kind and the notification's state after it.",
    ["channel", "outcome"],
    registry=registry,
)
notification_delivery_seconds = Histogram(
    "verity_notification_delivery_seconds",
    "Time per notification delivery attempt.",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=registry,
)
retention_deleted_rows = Counter(
    "verity_retention_deleted_rows",
    "Rows deleted by the retention job, by table.",
    ["table"],
    registry=registry,
)
