"""A keyless client cannot take the API down (outside attack, findings 1 and 2):
slow bodies without a key are answered 401 before their body is read and never
count against the in-flight limit, while an authenticated SDK client streams
predictions through them; an authenticated slow body is cut off with 408 and its
slot freed; a saturated replica says so on /readyz."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow  # minutes, not seconds: -m 'not slow' leaves it out

HEAD = (
    "POST /v1/predictions HTTP/1.1\r\nHost: verity\r\nContent-Type: application/json\r\n"
    "Content-Length: 1000000\r\n{auth}\r\n"
)
PARTIAL_BODY = b'{"records": [{'  # 14 bytes of the promised 1,000,000


@contextmanager
def slow_bodies(port: int, count: int, auth: str = "") -> Iterator[list[socket.socket]]:
    sockets = []
    try:
        for _ in range(count):
            connection = socket.create_connection(("127.0.0.1", port), timeout=30)
            connection.sendall(HEAD.format(auth=auth).encode() + PARTIAL_BODY)
            sockets.append(connection)
        yield sockets
    finally:
        for connection in sockets:
            connection.close()


def status_of(connection: socket.socket) -> int:
    line = connection.makefile("rb").readline()
    return int(line.split()[1])


@pytest.mark.parametrize("attackers", [64, 512])
def test_keyless_slow_bodies_do_not_stop_an_sdk_stream(
    client: TestClient,
    tenant: Tenant,
    database: Database,
    settings: Settings,
    tmp_path: Path,
    attackers: int,
) -> None:
    register_model(client, tenant)
    api = LiveApi(settings).start()
    try:
        with slow_bodies(api.port, attackers) as sockets:
            # Each is answered at once, its body unread.
            assert {status_of(s) for s in sockets} == {401}
            assert api.metric("verity_http_in_flight_requests") == 0
            sdk = spooled_client(api.url, tenant.tokens[Role.INGEST], tmp_path, 50_000)
            log_range(sdk, 0, 20_000)
            assert sdk.flush(timeout=120)
            sdk.close()
            stats = sdk.stats
        assert stats.dropped == 0 and stats.retries == 0, stats
        assert api.metric("verity_http_shed_requests_total") == 0
        assert len(set(stored_ids(database, tenant.project_id))) == 20_000
        assert httpx.get(f"{api.url}/readyz").status_code == 200
    finally:
        api.stop()


def test_an_authenticated_slow_body_is_cut_off_and_its_slot_freed(
    client: TestClient, tenant: Tenant, settings: Settings
) -> None:
    register_model(client, tenant)
    env = {
        "VERITY_API__BODY_TIMEOUT_SECONDS": "1",
        "VERITY_API__BODY_MIN_RATE": "100000",
        "VERITY_API__MAX_IN_FLIGHT_REQUESTS": "1",
    }
    api = LiveApi(settings, env=env).start()
    auth = f"Authorization: Bearer {tenant.tokens[Role.INGEST]}\r\n"
    try:
        with slow_bodies(api.port, 1, auth) as (held,):
            # In flight, holding the only slot: the replica says it is saturated.
            api.wait_in_flight(1)
            ready = httpx.get(f"{api.url}/readyz")
            assert ready.status_code == 503 and "saturated" in ready.json()["detail"]
            assert status_of(held) == 408  # the body's deadline passed
        wait_until(
            lambda: api.metric("verity_http_in_flight_requests") == 0,
            timeout=30,
            what="the slot to be freed",
        )
        assert httpx.get(f"{api.url}/readyz").status_code == 200
        stored = httpx.post(
            f"{api.url}/v1/predictions",
            json={"records": [record(1)]},
            headers=tenant.headers(Role.INGEST),
        )
        assert stored.status_code == 200, stored.text
    finally:
        api.stop()


def test_a_keyless_gzip_bomb_costs_the_server_nothing(
    client: TestClient, tenant: Tenant, settings: Settings
) -> None:
    import gzip

    api = LiveApi(settings).start()
    assert api.process is not None

    def rss_kib() -> int:
        with open(f"/proc/{api.process.pid}/status") as status:  # type: ignore[union-attr]
            line = next(line for line in status if line.startswith("VmRSS:"))
        return int(line.split()[1])

    bomb = gzip.compress(b"\0" * (256 * 1024**2))  # 256 MiB inflated, 250 KiB sent
    try:
        before = rss_kib()
        answers: list[int] = []

        def send() -> None:
            answers.append(
                httpx.put(
                    f"{api.url}/v1/models/churn/versions/1/artifact",
                    content=bomb,
                    headers={"Content-Encoding": "gzip"},
                    timeout=60,
                ).status_code
            )

        threads = [threading.Thread(target=send) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert answers == [401, 401, 401]
        assert rss_kib() - before < 64 * 1024  # far from the 256 MiB a bomb inflates to
    finally:
        api.stop()
