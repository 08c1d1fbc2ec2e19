from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend import clock
from backend.clock import ManualClock, use_clock
from backend.config import Settings
from backend.db import Database, get_database, reset_databases
from backend.main import create_app
from backend.migrate import upgrade
from tests.factories import Tenant, make_tenant
from tests.support import pgtemp as pg

BACKENDS = [b for b in os.environ.get("VERITY_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def new_database_url(backend: str, directory: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{directory / 'verity.db'}"
    return pg.create_database()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    url = new_database_url(request.param, tmp_path_factory.mktemp(request.param))
    upgrade(url)
    yield url
    reset_databases()
    if url.startswith("postgresql"):
        pg.drop_database(url)


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        artifact_dir=tmp_path_factory.mktemp("artifacts"),
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key=TEST_SECRET,
    )


@pytest.fixture(scope="session")
def database(settings: Settings) -> Database:
    return get_database(settings)


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def tenant(database: Database, settings: Settings) -> Tenant:
    """A fresh project with one key per role: tests never share rows."""
    return make_tenant(database, settings)


@pytest.fixture
def other_tenant(database: Database, settings: Settings) -> Tenant:
    return make_tenant(database, settings)


@pytest.fixture
def manual_clock() -> Iterator[ManualClock]:
    """The control plane's clock, standing still at the real time until the test
    moves it; the code under test (in this process) reads the same clock."""
    with use_clock(ManualClock(clock.now())) as installed:
        assert isinstance(installed, ManualClock)
        yield installed


def pytest_sessionstart(session: pytest.Session) -> None:
    # As every entry point does: tests call services without going through one.
    from backend.hooks import install

    install()
