"""upgrade → downgrade → upgrade on each backend, and no drift between the ORM
models and the migrations."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from backend.db import make_engine
from backend.migrate import current_revision, downgrade, head_revision, upgrade
from backend.models import Base
from tests.conftest import BACKENDS, new_database_url
from tests.support import pgtemp as pg


@pytest.fixture(params=BACKENDS)
def fresh_url(request, tmp_path):
    url = new_database_url(request.param, tmp_path)
    yield url
    if url.startswith("postgresql"):
        pg.drop_database(url)


def test_upgrade_downgrade_upgrade_and_no_autogenerate_diff(fresh_url):
    engine = make_engine(fresh_url)
    try:
        upgrade(fresh_url)
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables

        downgrade(fresh_url, "base")
        assert current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

        upgrade(fresh_url)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
    finally:
        engine.dispose()
