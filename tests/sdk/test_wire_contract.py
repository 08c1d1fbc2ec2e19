"""The wire contract between SDK and API, both ways: the API still reads exactly what
the previous SDK sent (a pinned record of its requests), the current SDK names its
version on every request, and an SDK older than the API supports is told so (426) and
keeps or reports its records instead of losing them silently."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from verity_sdk import VerityClient, __version__

from backend.api.roles import Role
from backend.config import Settings
from tests.factories import Tenant, register_model
from tests.live import LiveApi

RECORD = Path(__file__).with_name("contract") / "sdk-0.1.0.json"
FEATURES = {"f_num_a": 1.0, "f_num_b": 0.5, "color": "red", "group": "g1"}


def test_the_api_reads_what_the_previous_sdk_sent(client: TestClient, tenant: Tenant) -> None:
    register_model(client, tenant)
    recorded = json.loads(RECORD.read_text())
    for request in recorded["requests"]:
        answer = client.request(
            request["method"],
            request["path"],
            content=gzip.compress(json.dumps(request["body"]).encode()),
            headers={**request["headers"], **tenant.headers(Role.INGEST)},
        )
        assert answer.status_code == 200, (request["path"], answer.text)
        sent = request["body"].get("records", request["body"].get("labels"))
        assert answer.json()["stored"] == len(sent)
    first = client.get("/v1/predictions/prev-sdk-1", headers=tenant.headers()).json()
    assert first["features"] == FEATURES
    assert first["score"] == 0.9
    assert first["label"] == 1
    second = client.get("/v1/predictions/prev-sdk-2", headers=tenant.headers()).json()
    assert second["features"]["f_num_b"] is None
    assert second["label"] == 0


@pytest.fixture
def strict_api(settings: Settings) -> Iterator[LiveApi]:
    # An API that reads only SDKs newer than this one.
    api = LiveApi(settings, env={"VERITY_API__MIN_SDK_VERSION": "99.0.0"}).start()
    yield api
    api.stop()


def test_the_sdk_names_its_version_and_an_old_one_is_refused_plainly(
    client: TestClient, tenant: Tenant, strict_api: LiveApi, tmp_path: Path
) -> None:
    register_model(client, tenant)
    raw = client.post(
        "/v1/predictions",
        json={"records": []},
        headers={**tenant.headers(Role.INGEST), "User-Agent": f"verity-sdk/{__version__}"},
    )
    assert raw.status_code != 426  # this API reads the current SDK
    refused = strict_api_post(strict_api, tenant)
    assert refused["status"] == 426
    assert "verity-sdk 99.0.0 or later" in str(refused["detail"])
    drops: list[tuple[str, int, str]] = []
    plain = VerityClient(
        strict_api.url,
        tenant.tokens[Role.INGEST],
        "churn",
        "v1",
        on_drop=lambda reason, count, detail: drops.append((reason, count, detail)),
        max_attempts=3,
    )
    for i in range(5):
        plain.log(FEATURES, 1, event_id=f"old-{i}")
    plain.flush(timeout=30)
    plain.close()
    assert plain.stats.dropped_unsupported == 5
    assert plain.stats.delivered == 0
    assert drops and drops[0][0] == "unsupported" and "99.0.0" in drops[0][2]
    spooled = VerityClient(
        strict_api.url,
        tenant.tokens[Role.INGEST],
        "churn",
        "v1",
        spool_dir=tmp_path / "spool",
        max_attempts=3,
    )
    for i in range(5):
        spooled.log(FEATURES, 1, event_id=f"kept-{i}")
    spooled.flush(timeout=5)
    spooled.close()
    assert spooled.stats.held_unsupported == 5
    assert spooled.stats.dropped == 0
    assert any((tmp_path / "spool").iterdir())  # kept for an SDK the API reads


def strict_api_post(api: LiveApi, tenant: Tenant) -> dict[str, object]:
    import httpx

    answer = httpx.post(
        f"{api.url}/v1/predictions",
        json={"records": []},
        headers={**tenant.headers(Role.INGEST), "User-Agent": "verity-sdk/0.2.0"},
        timeout=10,
    )
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["upgrade"] == "verity-sdk/99.0.0"
    return {"status": answer.status_code, **answer.json()}
