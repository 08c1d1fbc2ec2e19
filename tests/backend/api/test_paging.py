"""One paging convention on every list: newest first, ``limit`` + ``cursor`` in,
``items`` + ``next_cursor`` out; a cursor works only on the list that gave it; the old
parameters still page as they did, answered with a ``Deprecation`` header."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient

from backend.config import Settings
from backend.db import Database
from backend.runs import jobs
from tests.factories import Tenant, record, register_model
from tests.support.timeline import at, window

URL = "/v1/models/churn/versions/v1/monitors"


def walk(client: TestClient, tenant: Tenant, path: str, key: str = "id") -> list[Any]:
    """Every item's key, following next_cursor one item at a time."""
    seen: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        answer = client.get(path, params=params, headers=tenant.headers())
        assert answer.status_code == 200, answer.text
        assert "Deprecation" not in answer.headers
        page = answer.json()
        seen += [item[key] for item in page.get("items", page.get("points", []))]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def over_budget_monitors(
    client: TestClient, tenant: Tenant, database: Database, settings: Settings, count: int
) -> list[int]:
    register_model(client, tenant)
    client.post(
        "/v1/predictions",
        json={"records": [record(i) for i in range(300)]},
        headers=tenant.headers(),
    ).raise_for_status()
    ids = []
    for n in range(count):
        spec = {
            "name": f"cost-{n}",
            "kind": "cost",
            "params": {"price_per_1k_predictions": 2.0, "budget": 1e-6, "budget_period": "day"},
            "window": {"duration": "1h"},
            "schedule": {"every": "1h"},
        }
        monitor = client.post(URL, json=spec, headers=tenant.headers()).json()
        client.post(
            f"/v1/monitors/{monitor['id']}/backfill",
            json=window(at(hours=1), at(hours=4)),
            headers=tenant.headers(),
        ).raise_for_status()
        ids.append(monitor["id"])
    jobs.backfill(database, settings, owner="test", stopping=threading.Event())
    return ids


def test_every_list_pages_newest_first_by_cursor(
    client: TestClient, tenant: Tenant, database: Database, settings: Settings
) -> None:
    monitors = over_budget_monitors(client, tenant, database, settings, 3)
    runs = walk(client, tenant, f"/v1/monitors/{monitors[0]}/runs")
    assert len(runs) == 4
    assert runs == sorted(runs, reverse=True)
    series = walk(client, tenant, f"/v1/monitors/{monitors[0]}/series", key="run_id")
    assert sorted(series) == sorted(runs)
    alerts = walk(client, tenant, "/v1/alerts")
    assert len(alerts) == 3
    assert alerts == sorted(alerts, reverse=True)
    events = walk(client, tenant, "/v1/predictions", key="event_id")
    assert len(events) == 300
    assert events[0] == "evt-299"


def test_old_parameters_still_page_and_say_they_are_deprecated(
    client: TestClient, tenant: Tenant, database: Database, settings: Settings
) -> None:
    (monitor,) = over_budget_monitors(client, tenant, database, settings, 1)
    newest = client.get(f"/v1/monitors/{monitor}/runs?limit=2", headers=tenant.headers()).json()
    old = client.get(
        f"/v1/monitors/{monitor}/runs?limit=2&before_id={newest['next_before_id']}",
        headers=tenant.headers(),
    )
    new = client.get(
        f"/v1/monitors/{monitor}/runs?limit=2&cursor={newest['next_cursor']}",
        headers=tenant.headers(),
    )
    assert old.headers["Deprecation"].startswith("@")
    assert "Deprecation" not in new.headers
    assert old.json()["items"] == new.json()["items"]
    alerts = client.get("/v1/alerts?after_id=2147483647", headers=tenant.headers())
    assert alerts.headers["Deprecation"].startswith("@")
    assert len(alerts.json()["items"]) == 1
    schema = client.get("/openapi.json").json()
    parameters = schema["paths"]["/v1/alerts"]["get"]["parameters"]
    assert next(p for p in parameters if p["name"] == "after_id")["deprecated"] is True


def test_a_cursor_works_only_on_its_own_list(
    client: TestClient, tenant: Tenant, database: Database, settings: Settings
) -> None:
    (monitor,) = over_budget_monitors(client, tenant, database, settings, 1)
    runs = client.get(f"/v1/monitors/{monitor}/runs?limit=1", headers=tenant.headers()).json()
    elsewhere = client.get(
        "/v1/alerts", params={"cursor": runs["next_cursor"]}, headers=tenant.headers()
    )
    assert elsewhere.status_code == 422
    assert elsewhere.headers["content-type"] == "application/problem+json"
    assert "cursor" in elsewhere.json()["detail"]
    for bad in ("@@@", "W10", "x" * 300):
        answer = client.get("/v1/predictions", params={"cursor": bad}, headers=tenant.headers())
        assert answer.status_code == 422, bad
    both = client.get(
        f"/v1/monitors/{monitor}/runs?before_id=5&cursor={runs['next_cursor']}",
        headers=tenant.headers(),
    )
    assert both.status_code == 422
