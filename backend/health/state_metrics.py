"""Gauges read from the database at scrape time: the state every process shares
(unresolved alerts, the notification queue, overdue monitors), so any API replica
reports the same values and no scheduler has to be scraped for them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from backend import clock
from backend.db import Database
from backend.health import repository

SEVERITIES = ("info", "warning", "critical")


class DatabaseStateCollector(Collector):
    def __init__(self, database: Database, tick_seconds: float) -> None:
        self.database = database
        self.tick_seconds = tick_seconds

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = clock.now()
        with self.database.transaction(read_only=True) as session:
            alerts = repository.unresolved_alert_counts(session)
            queue = repository.notification_queue(session)
            # Twice the tick: a monitor a scheduler should have picked up by now.
            overdue = repository.overdue_monitors(
                session, due_before=now - timedelta(seconds=2 * self.tick_seconds)
            )
        unresolved = GaugeMetricFamily(
            "verity_alerts_unresolved",
            "Alerts not yet resolved, by state and severity.",
            labels=["state", "severity"],
        )
        counts = {(state, severity): count for state, severity, count in alerts}
        for state in ("open", "acknowledged"):
            for severity in SEVERITIES:
                unresolved.add_metric([state, severity], counts.get((state, severity), 0))
        yield unresolved
        queued = GaugeMetricFamily(
            "verity_notifications_queued",
            "Notifications waiting for delivery (pending) or given up on (failed).",
            labels=["state"],
        )
        oldest = GaugeMetricFamily(
            "verity_notification_oldest_pending_seconds",
            "Age of the oldest notification still pending delivery (0 when none).",
        )
        by_state = {state: (count, first) for state, count, first in queue}
        for state in ("pending", "failed"):
            queued.add_metric([state], by_state.get(state, (0, None))[0])
        first_pending = by_state.get("pending", (0, None))[1]
        oldest.add_metric([], (now - first_pending).total_seconds() if first_pending else 0.0)
        yield queued
        yield oldest
        late = GaugeMetricFamily(
            "verity_monitors_overdue",
            "Enabled monitors due more than two scheduler ticks ago (no scheduler running?).",
        )
        late.add_metric([], overdue or 0)
        yield late


def exposition(database: Database, tick_seconds: float) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseStateCollector(database, tick_seconds))
    return generate_latest(registry)
