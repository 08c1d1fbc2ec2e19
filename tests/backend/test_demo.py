from fastapi.testclient import TestClient

from backend.api.roles import Role
from backend.cli.demo import MODEL, VERSION, run_demo
from backend.main import create_app
from tests.factories import counts


def test_demo_registers_the_model_and_posts_traffic_through_the_api(settings, database, tenant):
    with TestClient(create_app(settings)) as demo_client:
        summary = run_demo(
            "http://testserver", tenant.tokens[Role.ADMIN], rows=600, client=demo_client
        )
        assert summary["predictions"] == 600
        version = demo_client.get(f"/v1/models/{MODEL}/versions/{VERSION}").json()
        assert version["artifact"]["sha256"]
        sensitive = [f["name"] for f in version["features"] if f["sensitive"]]
        assert sensitive == ["gender", "age_band"]
        references = demo_client.get(f"/v1/models/{MODEL}/versions/{VERSION}/references").json()
        assert references[0]["row_count"] == 5000
        verify = demo_client.get("/v1/audit/verify").json()
        assert verify["ok"]
    stored = counts(database, tenant.project_id)
    assert stored["predictions"] == 600
    assert stored["labels"] == summary["labels"] > 300
