"""SIGTERM, as an orchestrator stops a pod: the API finishes the batch it is
receiving before it exits, and the scheduler stores the run it is in, then exits 0
without claiming another."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.config import Settings
from backend.db import Database
from backend.models import CheckRun, Monitor
from tests.factories import Tenant, record, register_model
from tests.live import LiveApi
from tests.reliability.streams import stored_rows
from tests.reliability.test_scheduler_crash import create_monitors, start_scheduler
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow  # minutes, not seconds: -m 'not slow' leaves it out


def test_the_api_finishes_the_batch_in_flight(
    client: TestClient, tenant: Tenant, database: Database, settings: Settings
) -> None:
    register_model(client, tenant)
    api = LiveApi(settings).start()
    assert api.process is not None
    started, release = threading.Event(), threading.Event()
    answers: list[httpx.Response] = []
    records = [record(i) for i in range(1_000)]

    def body() -> Iterator[bytes]:
        text = json.dumps({"records": records}).encode()
        yield text[: len(text) // 2]
        started.set()
        release.wait(30)
        yield text[len(text) // 2 :]

    def send() -> None:
        answers.append(
            httpx.post(
                f"{api.url}/v1/predictions",
                content=body(),
                headers={**tenant.headers(), "content-type": "application/json"},
                timeout=60,
            )
        )

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert started.wait(10)
        api.wait_in_flight(1)  # half the body is sent and the request is in the app
        api.process.send_signal(signal.SIGTERM)
        # Shutting down: the listening socket is closed, no new connection is taken.
        wait_until(api.refuses_connections, timeout=30, what="the API to stop listening")
        assert api.process.poll() is None, "exited with a request in flight"
        release.set()
        sender.join(30)
        assert answers and answers[0].status_code == 200, answers
        assert answers[0].json()["stored"] == 1_000
        # uvicorn re-raises SIGTERM after its graceful shutdown.
        assert api.process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        release.set()
        api.stop()
    assert stored_rows(database, tenant.project_id) == 1_000


def test_the_scheduler_stores_the_run_in_progress_then_exits(
    client: TestClient, tenant: Tenant, database: Database, settings: Settings
) -> None:
    ids = create_monitors(client, tenant)
    scheduler = start_scheduler(database, settings)
    try:
        deadline = time.monotonic() + 60
        claimed = None
        while claimed is None:
            assert time.monotonic() < deadline, "the scheduler claimed nothing"
            with database.transaction(read_only=True) as session:
                claimed = session.scalars(
                    select(Monitor.id).where(Monitor.id.in_(ids), Monitor.lease_owner.is_not(None))
                ).first()
            time.sleep(0.01)
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=60) == 0
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
    with database.transaction(read_only=True) as session:
        leased = session.scalars(
            select(Monitor.id).where(Monitor.id.in_(ids), Monitor.lease_owner.is_not(None))
        ).all()
        ran = set(session.scalars(select(CheckRun.monitor_id).where(CheckRun.monitor_id.in_(ids))))
    assert not leased, "a claimed run was abandoned"
    assert claimed in ran
    assert len(ran) < len(ids), "it went on claiming after SIGTERM"
