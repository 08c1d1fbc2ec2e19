"""Incidents (EU AI Act Art. 73), on both databases: opened from an alert and
classified serious, the deadline is 15 days after awareness; reclassification is
audited and moves the deadline; the status moves forward only; a deadline near is
notified once; the incident is in the evidence pack and its PDF."""

from __future__ import annotations

import io
import subprocess
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from backend.api.roles import Role
from backend.clock import ManualClock
from backend.db import Database
from backend.oversight import jobs
from tests.factories import OVER_BUDGET_MONITOR, Tenant, record, register_model
from tests.support.timeline import at, iso, window


def alerted(client: TestClient, tenant: Tenant) -> int:
    register_model(client, tenant)
    client.post("/v1/predictions", json={"records": [record(i) for i in range(30)]},
                headers=tenant.headers()).raise_for_status()  # fmt: skip
    monitor = client.post("/v1/models/churn/versions/v1/monitors", json=OVER_BUDGET_MONITOR,
                          headers=tenant.headers()).json()  # fmt: skip
    client.post(f"/v1/monitors/{monitor['id']}/run", headers=tenant.headers()).raise_for_status()
    return int(client.get("/v1/alerts", headers=tenant.headers()).json()["items"][0]["id"])


def test_an_incident_from_an_alert_has_its_art_73_deadline(
    client: TestClient, tenant: Tenant, database: Database, manual_clock: ManualClock,
    tmp_path: Path,
) -> None:  # fmt: skip
    compliance = tenant.headers(Role.COMPLIANCE)
    manual_clock.set(at(days=3))
    alert_id = alerted(client, tenant)
    aware = at(days=2, hours=9)
    opened = client.post("/v1/incidents", headers=compliance, json={
        "model": "churn", "version": "v1", "title": "loans refused to one group",
        "classification": "serious_incident", "aware_at": iso(aware), "alert_ids": [alert_id],
        "severity": "critical"})  # fmt: skip
    assert opened.status_code == 201, opened.text
    incident = opened.json()
    deadline = datetime.fromisoformat(incident["deadline_at"])
    assert deadline == aware + timedelta(days=15)
    assert incident["seconds_left"] == (deadline - at(days=3)).total_seconds()
    kinds = [e["kind"] for e in incident["timeline"]]
    assert kinds == ["opened", "alert_linked"]
    assert incident["timeline"][1]["run_id"] is not None

    # Bad input: another version's alert, an unknown classification, backwards moves.
    assert client.post("/v1/incidents", headers=compliance, json={
        "model": "churn", "version": "v1", "title": "x", "alert_ids": [999999]}).status_code == 422  # fmt: skip
    assert client.post(f"/v1/incidents/{incident['id']}/classification", headers=compliance,
                       json={"classification": "mild", "reason": "x"}).status_code == 422  # fmt: skip
    viewer = client.post(f"/v1/incidents/{incident['id']}/notes", json={"text": "hi"},
                         headers=tenant.headers(Role.VIEWER))  # fmt: skip
    assert viewer.status_code == 403

    # A death: 10 days; the change is audited, and the timeline says so.
    changed = client.post(f"/v1/incidents/{incident['id']}/classification", headers=compliance,
                          json={"classification": "death", "reason": "a patient died"}).json()  # fmt: skip
    assert datetime.fromisoformat(changed["deadline_at"]) == aware + timedelta(days=10)
    assert changed["timeline"][-1]["text"].startswith("serious_incident → death")
    audit = client.get("/v1/audit", params={"action": "incident.classify"}, headers=compliance)
    (event,) = audit.json()["items"]
    assert event["payload"]["from"] == "serious_incident"

    # Forward only.
    moved = client.post(f"/v1/incidents/{incident['id']}/status", headers=compliance,
                        json={"status": "investigating", "note": "on it"})  # fmt: skip
    assert moved.status_code == 200
    back = client.post(f"/v1/incidents/{incident['id']}/status", headers=compliance,
                       json={"status": "open", "note": "oops"})  # fmt: skip
    assert back.status_code == 409

    # Two days before the deadline: notified once.
    manual_clock.set(aware + timedelta(days=8, hours=1))
    assert jobs.deadlines(database) == 1
    assert jobs.deadlines(database) == 0
    warned = client.get(f"/v1/incidents/{incident['id']}", headers=compliance).json()
    assert warned["timeline"][-1]["kind"] == "deadline_warning"

    # Its report, and the evidence pack of the period, hold it.
    pdf = client.get(f"/v1/incidents/{incident['id']}/report.pdf", headers=compliance)
    assert pdf.headers["content-type"] == "application/pdf"
    path = tmp_path / "incident.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    assert "loans refused to one group" in text and "death" in text
    pack = client.post("/v1/models/churn/versions/v1/evidence", headers=compliance,
                       json=window(at(0), at(days=12)))  # fmt: skip
    archive = zipfile.ZipFile(io.BytesIO(pack.content))
    assert f"incident-{incident['id']}.pdf" in archive.namelist()
    assert "death" in archive.read("incidents.csv").decode()
