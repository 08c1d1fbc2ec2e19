import gzip
import json

import pytest
from fastapi.testclient import TestClient

from backend.auth.roles import Role
from backend.config import IngestSettings
from backend.main import create_app
from tests.factories import counts, record, register_model


@pytest.fixture
def small_client(settings):
    limited = settings.model_copy(
        update={"ingest": IngestSettings(max_body_bytes=4096, max_upload_bytes=8192)}
    )
    with TestClient(create_app(limited), raise_server_exceptions=False) as client:
        yield client


def _ingest_headers(tenant, **extra):
    return {**tenant.headers(Role.INGEST), "Content-Type": "application/json", **extra}


def test_malformed_json_is_400_problem(client, tenant, database):
    register_model(client, tenant)
    before = counts(database, tenant.project_id)
    response = client.post(
        "/v1/predictions", content=b'{"records": [', headers=_ingest_headers(tenant)
    )
    assert response.status_code == 400
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["type"].endswith("/malformed-json") and body["status"] == 400
    assert body["instance"] == "/v1/predictions"
    assert counts(database, tenant.project_id) == before


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_wrong_content_type_is_415(client, tenant, database, content_type):
    register_model(client, tenant)
    before = counts(database, tenant.project_id)
    body = json.dumps({"records": [record(1)]}).encode()
    response = client.post(
        "/v1/predictions",
        content=body,
        headers=_ingest_headers(tenant, **{"Content-Type": content_type}),
    )
    assert response.status_code == 415
    assert content_type in response.json()["detail"]
    assert counts(database, tenant.project_id) == before


def test_oversize_body_is_413_with_or_without_content_length(
    small_client, client, tenant, database
):
    register_model(client, tenant)
    before = counts(database, tenant.project_id)
    body = json.dumps({"records": [record(i) for i in range(40)]}).encode()
    assert len(body) > 4096
    response = small_client.post("/v1/predictions", content=body, headers=_ingest_headers(tenant))
    assert response.status_code == 413
    chunked = small_client.post(
        "/v1/predictions", content=iter([body[:3000], body[3000:]]), headers=_ingest_headers(tenant)
    )
    assert chunked.status_code == 413
    assert counts(database, tenant.project_id) == before


def test_gzip_bomb_is_413_and_broken_gzip_is_400(small_client, client, tenant, database):
    register_model(client, tenant)
    before = counts(database, tenant.project_id)
    bomb = gzip.compress(b'{"records": [' + b" " * 3_000_000 + b"]}")
    assert len(bomb) < 4096
    response = small_client.post(
        "/v1/predictions",
        content=bomb,
        headers=_ingest_headers(tenant, **{"Content-Encoding": "gzip"}),
    )
    assert response.status_code == 413
    broken = small_client.post(
        "/v1/predictions",
        content=b"not gzip",
        headers=_ingest_headers(tenant, **{"Content-Encoding": "gzip"}),
    )
    assert broken.status_code == 400
    odd = small_client.post(
        "/v1/predictions",
        content=b"{}",
        headers=_ingest_headers(tenant, **{"Content-Encoding": "br"}),
    )
    assert odd.status_code == 415
    assert counts(database, tenant.project_id) == before


def test_uploads_have_their_own_larger_limit(small_client, client, tenant):
    register_model(client, tenant)
    rows = "f_num_a,f_num_b,color,group\n" + "1,2,red,g\n" * 600
    assert 4096 < len(rows) < 8192
    response = small_client.post(
        "/v1/models/churn/versions/v1/references",
        content=rows.encode(),
        headers={**tenant.headers(), "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text


def test_unknown_routes_and_methods_are_problems(client, tenant):
    response = client.get("/v1/nothing-here", headers=tenant.headers())
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    response = client.delete("/v1/models", headers=tenant.headers())
    assert response.status_code == 405
    assert response.json()["status"] == 405


def test_openapi_is_served(client):
    spec = client.get("/openapi.json").json()
    assert "/v1/predictions" in spec["paths"]
    assert "requestBody" in spec["paths"]["/v1/models/{model}/versions/{version}/artifact"]["put"]
