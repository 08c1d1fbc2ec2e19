"""Overload: past the in-flight limit the API answers 429 with Retry-After at once
(it never queues until it falls over), and SDK clients that back off get every
record stored."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from backend.api.roles import Role
from backend.config import Settings
from backend.db import Database
from tests.factories import Tenant, record, register_model
from tests.live import LiveApi
from tests.reliability.streams import log_range, spooled_client, stored_ids

pytestmark = pytest.mark.slow  # minutes, not seconds: -m 'not slow' leaves it out

CLIENTS = 8
PER_CLIENT = 5_000


def slow_body(started: threading.Event, release: threading.Event) -> Iterator[bytes]:
    yield b'{"records": ['
    started.set()
    release.wait(30)
    yield json.dumps(record(0)).encode() + b"]}"


def test_past_the_limit_the_api_sheds_with_retry_after(
    client: TestClient, tenant: Tenant, settings: Settings
) -> None:
    register_model(client, tenant)
    env = {
        "VERITY_API__MAX_IN_FLIGHT_REQUESTS": "1",
        "VERITY_API__OVERLOAD_RETRY_AFTER_SECONDS": "2",
    }
    api = LiveApi(settings, env=env).start()
    started, release = threading.Event(), threading.Event()
    answers: list[httpx.Response] = []
    headers = {**tenant.headers(), "content-type": "application/json"}

    def hold_the_only_slot() -> None:
        answers.append(
            httpx.post(
                f"{api.url}/v1/predictions",
                content=slow_body(started, release),
                headers=headers,
                timeout=60,
            )
        )

    holder = threading.Thread(target=hold_the_only_slot)
    holder.start()
    try:
        assert started.wait(10)
        api.wait_in_flight(1)
        shed = httpx.post(
            f"{api.url}/v1/predictions",
            json={"records": [record(1)]},
            headers=tenant.headers(),
            timeout=10,
        )
        assert shed.status_code == 429
        assert shed.headers["retry-after"] == "2"
        assert shed.headers["content-type"] == "application/problem+json"
        assert shed.json()["type"].endswith("/overloaded")
        assert httpx.get(f"{api.url}/healthz").status_code == 200  # probes are never shed
        assert api.metric("verity_http_shed_requests_total") == 1
        release.set()
        holder.join(30)
        assert answers[0].status_code == 200, answers[0].text
        after = httpx.post(
            f"{api.url}/v1/predictions",
            json={"records": [record(2)]},
            headers=tenant.headers(),
            timeout=10,
        )
        assert after.status_code == 200, after.text
    finally:
        release.set()
        api.stop()


def test_clients_that_back_off_get_everything_stored(
    client: TestClient, tenant: Tenant, database: Database, settings: Settings, tmp_path: Path
) -> None:
    register_model(client, tenant)
    api = LiveApi(settings, env={"VERITY_API__MAX_IN_FLIGHT_REQUESTS": "2"}).start()
    sdks = [
        # Small batches: many requests at once.
        spooled_client(
            api.url, tenant.tokens[Role.INGEST], tmp_path / f"s{n}", PER_CLIENT, batch_size=250
        )
        for n in range(CLIENTS)
    ]
    try:
        threads = [
            threading.Thread(target=log_range, args=(sdk, n * PER_CLIENT, (n + 1) * PER_CLIENT))
            for n, sdk in enumerate(sdks)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for sdk in sdks:
            assert sdk.flush(timeout=300), sdk.stats
        shed = api.metric("verity_http_shed_requests_total")
        errors = [
            line
            for line in httpx.get(f"{api.url}/metrics").text.splitlines()
            if line.startswith("verity_http_request_duration_seconds_count") and 'status="5' in line
        ]
    finally:
        for sdk in sdks:
            sdk.close()
        api.stop()
    assert shed > 0, "the limit was never reached"
    assert not errors, errors
    assert sum(sdk.stats.dropped for sdk in sdks) == 0
    assert sum(sdk.stats.retries for sdk in sdks) >= shed
    ids = stored_ids(database, tenant.project_id)
    assert len(ids) == len(set(ids)) == CLIENTS * PER_CLIENT
