"""The database unreachable or out of space: clear 503 problems with Retry-After,
nothing half-stored, and on SQLite a file that passes ``PRAGMA integrity_check``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from backend.auth.tokens import new_token
from backend.config import Settings
from backend.db import get_database
from backend.main import create_app
from backend.migrate import upgrade
from tests.conftest import TEST_SECRET
from tests.factories import make_tenant, record, register_model
from tests.reliability.streams import stored_ids
from tests.support.ports import free_port

pytestmark = pytest.mark.slow  # minutes, not seconds: -m 'not slow' leaves it out


def test_an_unreachable_database_answers_503_and_probes_say_so(tmp_path: Path) -> None:
    # Nothing listens on this port: every connection attempt is refused.
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/verity?connect_timeout=2"
    settings = Settings(database_url=url, data_dir=tmp_path, secret_key=TEST_SECRET)
    with TestClient(create_app(settings)) as http:
        answer = http.post(
            "/v1/predictions",
            json={"records": [record(1)]},
            headers={"Authorization": f"Bearer {new_token()}"},  # well-formed: looked up
        )
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        problem = answer.json()
        assert problem["type"].endswith("/database-unavailable")
        assert "nothing from this request was stored" in problem["detail"]
        assert http.get("/readyz").status_code == 503
        assert http.get("/healthz").status_code == 200
        metrics = http.get("/metrics")
        assert metrics.status_code == 200  # scraping works while the database is down
        assert 'verity_database_unavailable_errors_total{reason="database-unavailable"}' in (
            metrics.text
        )


def test_a_full_sqlite_database_refuses_cleanly_and_stays_intact(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'verity.db'}"
    upgrade(url)
    settings = Settings(database_url=url, data_dir=tmp_path, secret_key=TEST_SECRET)
    database = get_database(settings)
    tenant = make_tenant(database, settings)
    with TestClient(create_app(settings)) as http:
        register_model(http, tenant)
        first = http.post(
            "/v1/predictions",
            json={"records": [record(i) for i in range(200)]},
            headers=tenant.headers(),
        )
        assert first.status_code == 200, first.text
        with database.engine.connect() as connection:
            pages = connection.execute(text("PRAGMA page_count")).scalar_one()

        # A disk that fills up: SQLite may grow the file by a few pages only.
        def cap_the_file(connection: Any, _: Any) -> None:
            connection.execute(f"PRAGMA max_page_count = {pages + 3}")

        event.listen(database.engine, "connect", cap_the_file)
        database.engine.dispose()
        refused = None
        acknowledged = 200
        for start in range(1_000, 20_000, 1_000):
            answer = http.post(
                "/v1/predictions",
                json={"records": [record(i) for i in range(start, start + 1_000)]},
                headers=tenant.headers(),
            )
            if answer.status_code != 200:
                refused = answer
                break
            acknowledged += 1_000
        assert refused is not None, "the capped database never filled"
        assert refused.status_code == 503, refused.text
        assert refused.json()["type"].endswith("/storage-full")
        assert refused.headers["retry-after"] == "30"

        event.remove(database.engine, "connect", cap_the_file)
        database.engine.dispose()
        with database.engine.connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        # Everything acknowledged is there, nothing of the refused batch is.
        assert len(stored_ids(database, tenant.project_id)) == acknowledged
        again = http.post(
            "/v1/predictions",
            json={"records": [record(i) for i in range(50_000, 50_100)]},
            headers=tenant.headers(),
        )
        assert again.status_code == 200, again.text
        assert len(stored_ids(database, tenant.project_id)) == acknowledged + 100
    database.engine.dispose()
