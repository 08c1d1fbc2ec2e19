import gzip
import json

import pytest
from fastapi.testclient import TestClient

from backend.api.roles import Role
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


# --- auth before work (outside attack, findings 2, 3, 4 and 9) ----------------------


def test_no_body_is_parsed_or_validated_without_a_key(client):
    # Finding 3: a keyless body got a 422 naming the rule; now 401, body unread.
    for body in (b'{"records": []}', b"{not json", b"\x1f\x8b garbage"):
        answer = client.post(
            "/v1/predictions", content=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 401, answer.text
        assert answer.json()["type"].endswith("/unauthorized")
    bad_key = client.post(
        "/v1/predictions",
        content=b'{"records": []}',
        headers={"Content-Type": "application/json", "Authorization": "Bearer vt_nope_nope"},
    )
    assert bad_key.status_code == 401


def test_a_gzip_bomb_without_a_key_is_never_inflated(small_client):
    # Finding 2: a keyless upload path inflated 512 MiB before answering.
    bomb = gzip.compress(b"\0" * 2_000_000)
    for path in ("/v1/models/churn/versions/1/artifact", "/v1/models/x/versions/y/artifact"):
        answer = small_client.put(
            path,
            content=bomb,
            headers={"Content-Type": "application/octet-stream", "Content-Encoding": "gzip"},
        )
        assert answer.status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (gzip.compress(b'{"records": []}') + b"trailing", "follow the end of the gzip stream"),
        (gzip.compress(b'{"records": []}')[:-8], "truncated"),
        (gzip.compress(b'{"records": ') + gzip.compress(b"[]}"), "more than one gzip member"),
        (gzip.compress(b'{"records": []}')[:-8] + b"\0\0\0\0\0\0\0\0", "incorrect data check"),
    ],
)
def test_gzip_is_strict(client, tenant, body, message):
    # Finding 9: trailing bytes and a missing trailer were accepted, and a second
    # member silently dropped.
    answer = client.post(
        "/v1/predictions",
        content=body,
        headers=_ingest_headers(tenant, **{"Content-Encoding": "gzip"}),
    )
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["detail"]


def test_a_client_that_disconnects_mid_body_is_499_not_a_logged_500(settings, tenant, caplog):
    # Finding 4: ClientDisconnect escaped as a 500 with an ERROR traceback.
    import asyncio

    from backend import metrics

    app = create_app(settings)
    token = tenant.tokens[Role.ADMIN]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/predictions",
        "raw_path": b"/v1/predictions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"100000"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    messages = [
        {"type": "http.request", "body": b'{"records": [', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent = []

    async def send(message):
        sent.append(message)

    def count(status: str) -> float:
        value = metrics.registry.get_sample_value(
            "verity_http_request_duration_seconds_count",
            {"method": "POST", "route": "/v1/predictions", "status": status},
        )
        return value or 0.0

    before_499, before_500 = count("499"), count("500")
    with caplog.at_level("INFO"):
        asyncio.run(app(scope, receive, send))
    assert count("499") == before_499 + 1
    assert count("500") == before_500
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert any("client_disconnected" in r.getMessage() for r in caplog.records)
