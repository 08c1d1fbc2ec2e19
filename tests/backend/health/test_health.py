from fastapi.testclient import TestClient

from backend.api.roles import Role
from backend.main import create_app
from tests.factories import record, register_model


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_readyz_is_503_before_migrations(settings, tmp_path):
    unmigrated = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'empty.db'}"})
    with TestClient(create_app(unmigrated)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "verity db upgrade" in response.json()["detail"]


def test_metrics_count_ingested_and_rejected_rows_and_latency(client, tenant):
    register_model(client, tenant)
    client.post(
        "/v1/predictions",
        json={"records": [record(1), record(2)]},
        headers=tenant.headers(Role.INGEST),
    )
    client.post(
        "/v1/predictions",
        json={"records": [record(3, score=5.0)]},
        headers=tenant.headers(Role.INGEST),
    )
    text = client.get("/metrics").text
    assert 'verity_ingested_rows_total{kind="prediction"}' in text
    assert 'verity_rejected_rows_total{kind="prediction"}' in text
    assert (
        'verity_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/predictions",status="200"}'
        in text
    )
