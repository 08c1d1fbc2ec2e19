"""Queued work done now, as a scheduler would do it."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient

from backend.config import Settings
from backend.db import Database
from backend.runs import jobs


def backfill(
    client: TestClient,
    headers: dict[str, str],
    monitor_id: int,
    body: dict[str, Any],
    *,
    database: Database,
    settings: Settings,
) -> dict[str, Any]:
    """Queue a backfill, run the queued jobs, and return the job as the API tells it."""
    queued = client.post(f"/v1/monitors/{monitor_id}/backfill", json=body, headers=headers)
    assert queued.status_code == 202, queued.text
    assert queued.json()["state"] == "queued"
    jobs.backfill(database, settings, owner="test", stopping=threading.Event())
    answer = client.get(queued.headers["Location"], headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()
