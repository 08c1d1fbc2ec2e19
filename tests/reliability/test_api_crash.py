"""kill -9 of the API during a 200k-prediction SDK stream, then a restart: every
record the client was told is stored is stored, exactly once, and nothing is
dropped. The same with PostgreSQL restarted under the running API."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from verity_sdk.pipeline import ClientStats

from backend.api.roles import Role
from backend.config import Settings
from backend.db import Database, get_database
from backend.main import create_app
from backend.migrate import upgrade
from tests.conftest import TEST_SECRET
from tests.factories import Tenant, make_tenant, register_model
from tests.live import LiveApi
from tests.reliability.streams import (
    log_range,
    spooled_client,
    stored_ids,
    stored_rows,
    wait_for_rows,
)
from tests.support import pgtemp

pytestmark = pytest.mark.slow  # minutes, not seconds: -m 'not slow' leaves it out

STREAM = 200_000


def assert_exactly_once(database: Database, tenant: Tenant, acknowledged: int) -> None:
    ids = stored_ids(database, tenant.project_id)
    repeated = [event for event, n in Counter(ids).items() if n > 1]
    assert not repeated, f"stored twice: {repeated[:5]}"
    assert len(ids) == acknowledged == STREAM
    assert set(ids) == {f"s-{i}" for i in range(STREAM)}


def stream_through(
    fault: Callable[[], None],
    recover: Callable[[], None],
    api: LiveApi,
    database: Database,
    tenant: Tenant,
    spool: Path,
) -> ClientStats:
    """Streams STREAM predictions with ``fault`` after 30k are stored and ``recover``
    once the second half is logged; returns the client's final stats."""
    sdk = spooled_client(api.url, tenant.tokens[Role.INGEST], spool, STREAM + 1)
    try:
        log_range(sdk, 0, STREAM // 2)
        before = wait_for_rows(database, tenant.project_id, 30_000, timeout=120)
        assert 0 < before < STREAM // 2
        fault()
        log_range(sdk, STREAM // 2, STREAM)
        recover()
        assert sdk.flush(timeout=600), sdk.stats
    finally:
        sdk.close()
        api.stop()
    stats = sdk.stats
    assert stats.dropped == 0, stats
    assert_exactly_once(database, tenant, stats.delivered)
    assert not list(spool.glob("*.batch.json"))
    return stats


def test_api_killed_mid_stream_loses_and_duplicates_nothing(
    client: TestClient, tenant: Tenant, database: Database, settings: Settings, tmp_path: Path
) -> None:
    register_model(client, tenant)
    api = LiveApi(settings).start()
    spool = tmp_path / "spool"

    def restart() -> None:  # once the second half is logged while the API is down
        assert list(spool.glob("*.batch.json")), "nothing was spooled"
        api.start()

    # kill: mid-stream, batches in flight are cut, some after their commit
    stats = stream_through(api.kill, restart, api, database, tenant, spool)
    assert stats.retries > 0, "the kill cut no request"


def restart_postgres() -> None:
    assert shutil.which("pg_ctlcluster"), "the PostgreSQL restart test needs pg_ctlcluster"
    version = sorted(Path("/etc/postgresql").iterdir())[0].name
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"],
        check=True,
        timeout=120,
    )


def test_postgres_restarted_mid_stream_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """Runs on its own PostgreSQL database whatever the backend parameter: it is the
    database server that restarts, under an API and its client that keep running."""
    url = pgtemp.create_database()
    settings = Settings(database_url=url, data_dir=tmp_path, secret_key=TEST_SECRET)
    database = get_database(settings)
    try:
        upgrade(url)
        tenant = make_tenant(database, settings)
        with TestClient(create_app(settings)) as http:
            register_model(http, tenant)
        api = LiveApi(settings).start()
        stream_through(restart_postgres, lambda: None, api, database, tenant, tmp_path / "spool")
        assert stored_rows(database, tenant.project_id) == STREAM
    finally:
        database.engine.dispose()
        pgtemp.drop_database(url)
