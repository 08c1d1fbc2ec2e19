"""kill -9 of the API during a 200k-prediction SDK stream, then a restart: every
record the client was told is stored is stored, exactly once, and nothing is
dropped. The same with PostgreSQL restarted under the running API."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient

from backend.auth.roles import Role
from backend.config import Settings
from backend.db import Database, get_database
from backend.main import create_app
from backend.migrate import upgrade
from benchmarks import pgtemp
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

STREAM = 200_000


def assert_exactly_once(database: Database, tenant: Tenant, acknowledged: int) -> None:
    ids = stored_ids(database, tenant.project_id)
    repeated = [event for event, n in Counter(ids).items() if n > 1]
    assert not repeated, f"stored twice: {repeated[:5]}"
    assert len(ids) == acknowledged == STREAM
    assert set(ids) == {f"s-{i}" for i in range(STREAM)}


def test_api_killed_mid_stream_loses_and_duplicates_nothing(
    client: TestClient, tenant: Tenant, database: Database, settings: Settings, tmp_path: Path
) -> None:
    register_model(client, tenant)
    api = LiveApi(settings).start()
    sdk = spooled_client(api.url, tenant.tokens[Role.INGEST], tmp_path / "spool", STREAM + 1)
    try:
        log_range(sdk, 0, STREAM // 2)
        before_kill = wait_for_rows(database, tenant.project_id, 30_000, timeout=120)
        api.kill()  # mid-stream: batches in flight are cut, some after their commit
        assert 0 < before_kill < STREAM // 2
        log_range(sdk, STREAM // 2, STREAM)  # logged while the API is down
        assert list((tmp_path / "spool").glob("*.batch.json")), "nothing was spooled"
        api.start()
        assert sdk.flush(timeout=600), sdk.stats
    finally:
        sdk.close()
        api.stop()
    stats = sdk.stats
    assert stats.dropped == 0, stats
    assert stats.retries > 0, "the kill cut no request"
    assert_exactly_once(database, tenant, stats.delivered)
    assert not list((tmp_path / "spool").glob("*.batch.json"))


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
        sdk = spooled_client(api.url, tenant.tokens[Role.INGEST], tmp_path / "spool", STREAM + 1)
        try:
            log_range(sdk, 0, STREAM // 2)
            wait_for_rows(database, tenant.project_id, 30_000, timeout=120)
            restart_postgres()
            log_range(sdk, STREAM // 2, STREAM)
            assert sdk.flush(timeout=600), sdk.stats
        finally:
            sdk.close()
            api.stop()
        stats = sdk.stats
        assert stats.dropped == 0, stats
        assert_exactly_once(database, tenant, stats.delivered)
        assert stored_rows(database, tenant.project_id) == STREAM
    finally:
        database.engine.dispose()
        pgtemp.drop_database(url)
