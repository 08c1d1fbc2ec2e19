import pytest
from pydantic import ValidationError

from backend.config import DEFAULT_SECRET_KEY, Settings


def test_production_refuses_the_default_secret():
    with pytest.raises(ValidationError, match="VERITY_SECRET_KEY"):
        Settings(environment="production", database_url="postgresql+psycopg://x/y")


def test_production_refuses_a_short_secret():
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(environment="production", secret_key="short", database_url="sqlite:///x.db")


def test_production_needs_an_explicit_database():
    with pytest.raises(ValidationError, match="VERITY_DATABASE_URL"):
        Settings(environment="production", secret_key="x" * 40)


def test_development_defaults_to_sqlite_under_the_data_dir(monkeypatch):
    monkeypatch.delenv("VERITY_DATABASE_URL", raising=False)
    settings = Settings(data_dir="/tmp/somewhere")
    assert settings.secret_key == DEFAULT_SECRET_KEY
    assert settings.resolved_database_url == "sqlite:////tmp/somewhere/verity.db"
    assert str(settings.resolved_artifact_dir) == "/tmp/somewhere/artifacts"


def test_settings_read_the_env_with_nested_groups(monkeypatch):
    monkeypatch.setenv("VERITY_INGEST__MAX_BATCH_RECORDS", "123")
    monkeypatch.setenv("VERITY_DATABASE_URL", "sqlite:///a.db")
    settings = Settings()
    assert settings.ingest.max_batch_records == 123
    assert settings.resolved_database_url == "sqlite:///a.db"


def test_scheduler_kinds_are_checked_and_split():
    assert Settings(checks={"kinds": "explain, cost"}).checks.claimed_kinds == ["explain", "cost"]
    assert Settings().checks.claimed_kinds is None
    with pytest.raises(ValidationError, match="kinds must name detector kinds"):
        Settings(checks={"kinds": "gpu"})
