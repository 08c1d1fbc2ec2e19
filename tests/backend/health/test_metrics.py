"""Prometheus metrics for checks, alerts and the notification queue: process
counters as runs, transitions and deliveries happen, and gauges read from the
database at scrape time."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from backend.config import NotifySettings, Settings
from backend.db import Database
from backend.main import create_app
from backend.notifications.delivery import deliver_due
from tests import stub_server
from tests.factories import Tenant, over_budget_model, webhook


def sample(client: TestClient, name: str, **labels: str) -> float:
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


def test_checks_alerts_and_notifications_are_measured(
    settings: Settings, tenant: Tenant, database: Database
) -> None:
    flaky = stub_server.flaky()  # answers 503, then 204
    # One attempt: the 503 fails the notification, so none of this test's stays queued
    # for another test's delivery run.
    notify = NotifySettings(allowed_networks=["127.0.0.0/8"], max_attempts=1)
    with TestClient(create_app(settings.model_copy(update={"notify": notify}))) as client:
        monitor, _ = over_budget_model(client, tenant, channels=[webhook(flaky.url)])
        severity = monitor["severity"]
        runs = {"kind": "cost", "status": "alert", "trigger": "manual"}
        before: dict[str, Any] = {
            "runs": sample(client, "verity_check_runs_total", **runs),
            "compute": sample(client, "verity_check_compute_seconds_count", kind="cost"),
            "opened": sample(
                client, "verity_alert_transitions_total", event="opened", severity=severity
            ),
            "open": sample(client, "verity_alerts_unresolved", state="open", severity=severity),
            "queued": sample(client, "verity_notifications_queued", state="pending"),
        }
        run = client.post(f"/v1/monitors/{monitor['id']}/run", headers=tenant.headers())
        assert run.status_code == 200, run.text
        assert sample(client, "verity_check_runs_total", **runs) == before["runs"] + 1
        assert (
            sample(client, "verity_check_compute_seconds_count", kind="cost")
            == before["compute"] + 1
        )
        assert (
            sample(client, "verity_alert_transitions_total", event="opened", severity=severity)
            == before["opened"] + 1
        )
        assert (
            sample(client, "verity_alerts_unresolved", state="open", severity=severity)
            == before["open"] + 1
        )
        assert (
            sample(client, "verity_notifications_queued", state="pending") == before["queued"] + 1
        )
        assert sample(client, "verity_notification_oldest_pending_seconds") >= 0

        failed = {"channel": "webhook", "outcome": "failed"}
        attempts = sample(client, "verity_notification_deliveries_total", **failed)
        given_up = sample(client, "verity_notifications_queued", state="failed")
        with httpx.Client() as http:
            assert deliver_due(database, notify, http).get("failed") == 1
        assert sample(client, "verity_notification_deliveries_total", **failed) == attempts + 1
        assert sample(client, "verity_notifications_queued", state="failed") == given_up + 1

        alert = client.get(
            "/v1/alerts", params={"monitor_id": monitor["id"]}, headers=tenant.headers()
        ).json()["items"][0]
        acknowledged = sample(
            client, "verity_alerts_unresolved", state="acknowledged", severity=severity
        )
        answer = client.post(
            f"/v1/alerts/{alert['id']}/acknowledge",
            json={"comment": "looking"},
            headers=tenant.headers(),
        )
        assert answer.status_code == 200, answer.text
        assert (
            sample(client, "verity_alerts_unresolved", state="acknowledged", severity=severity)
            == acknowledged + 1
        )
        assert (
            sample(client, "verity_alerts_unresolved", state="open", severity=severity)
            == before["open"]
        )
        assert sample(client, "verity_monitors_overdue") >= 0
        delivered = {"channel": "webhook", "outcome": "delivered"}
        sent = sample(client, "verity_notification_deliveries_total", **delivered)
        with httpx.Client() as http:
            assert deliver_due(database, notify, http).get("delivered", 0) >= 1  # the ack
        assert sample(client, "verity_notification_deliveries_total", **delivered) >= sent + 1
