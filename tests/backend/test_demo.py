import httpx

from backend.api.roles import Role
from backend.cli.demo import MODEL, VERSION, run_demo
from tests.factories import counts
from tests.live import LiveApi


def test_demo_registers_the_model_and_posts_traffic_through_the_sdk(settings, database, tenant):
    api = LiveApi(settings).start()
    try:
        token = tenant.tokens[Role.ADMIN]
        summary = run_demo(api.url, token, rows=600)
        assert summary["predictions"] == 600
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=api.url, headers=headers, timeout=30) as http:
            version = http.get(f"/v1/models/{MODEL}/versions/{VERSION}").json()
            assert version["artifact"]["format"] == "torch.export"
            sensitive = [f["name"] for f in version["features"] if f["sensitive"]]
            assert sensitive == ["gender", "age_band"]
            references = http.get(f"/v1/models/{MODEL}/versions/{VERSION}/references").json()
            assert references[0]["row_count"] == 5000
            assert http.get("/v1/audit/verify").json()["ok"]
            agents = {
                e["actor"]
                for e in http.get(
                    "/v1/audit", params={"action": "predictions.ingest", "limit": 1000}
                ).json()["items"]
            }
            assert agents  # stored in batches by the SDK, each audited
    finally:
        api.stop()
    stored = counts(database, tenant.project_id)
    assert stored["predictions"] == 600
    assert stored["labels"] == summary["labels"] > 300
