import re

import pytest
from typer.testing import CliRunner

from backend.cli import app as cli
from backend.config import get_settings

TOKEN = re.compile(r"vt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def run(database, settings, monkeypatch):
    monkeypatch.setenv("VERITY_DATABASE_URL", database.url)
    monkeypatch.setenv("VERITY_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()

    def invoke(*args):
        return CliRunner().invoke(cli, list(args))

    yield invoke
    get_settings.cache_clear()


def test_keys_create_list_revoke(run, client):
    created = run(
        "keys", "create", "--project", "cli-proj", "--role", "compliance", "--name", "auditor"
    )
    assert created.exit_code == 0, created.output
    found = TOKEN.search(created.output)
    assert found is not None
    token = found.group(0)
    prefix = token.split("_")[1]
    assert client.get("/v1/audit/verify", headers={"X-API-Key": token}).status_code == 200

    listed = run("keys", "list", "--project", "cli-proj")
    assert prefix in listed.output and "active" in listed.output and token not in listed.output

    revoked = run("keys", "revoke", prefix, "--project", "cli-proj")
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/v1/audit/verify", headers={"X-API-Key": token}).status_code == 401
    assert "revoked" in run("keys", "list", "--project", "cli-proj").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("keys", "create", "--project", "p", "--role", "root"), "Input should be"),
        (("keys", "list", "--project", "no-such-project"), "no project named"),
        (("keys", "revoke", "000000000000", "--project", "cli-proj-2"), "no project named"),
        (("audit", "verify", "--project", "no-such-project"), "no project named"),
    ],
)
def test_cli_errors_are_readable(run, args, message):
    outcome = run(*args)
    assert outcome.exit_code == 1
    assert message in outcome.output
    assert "Traceback" not in outcome.output


def test_bootstrap_key_is_printed_once_on_a_fresh_store(tmp_path, monkeypatch):
    monkeypatch.setenv("VERITY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VERITY_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(cli, ["db", "upgrade"])
        second = CliRunner().invoke(cli, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert len(TOKEN.findall(first.output)) == 1
    assert "shown once" in first.output
    assert TOKEN.search(second.output) is None
    assert (tmp_path / "verity.db").exists()
