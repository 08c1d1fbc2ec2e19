"""The dashboard's API client returns typed answers, checked against the API's
response schemas: a real answer passes unchanged, and an answer that lost a field the
pages read is one clear error instead of a KeyError inside a chart."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from backend.api.roles import Role
from dashboard.api import ApiError, VerityApi
from tests.factories import Tenant, register_model


def test_real_answers_validate_unchanged(client: TestClient, tenant: Tenant) -> None:
    register_model(client, tenant)
    headers = tenant.headers(Role.COMPLIANCE)

    def through_the_app(request: httpx.Request) -> httpx.Response:
        answer = client.request(
            request.method, request.url.path, params=request.url.params, headers=headers
        )
        return httpx.Response(answer.status_code, content=answer.content)

    api = VerityApi("http://verity.test", "unused", transport=httpx.MockTransport(through_the_app))
    assert api.whoami()["role"] == "compliance"
    assert [m["name"] for m in api.models()] == ["churn"]
    version = api.versions("churn")[0]
    assert version == client.get("/v1/models/churn/versions", headers=headers).json()[0]
    assert api.alerts(limit=5)["items"] == []
    page = api.audit(limit=2)
    assert len(page["items"]) == 2
    assert isinstance(page["next_cursor"], str)


def test_an_answer_of_another_shape_is_one_clear_error() -> None:
    def old_api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [{"id": 1, "severity": "critical"}]})

    api = VerityApi("http://verity.test", "k", transport=httpx.MockTransport(old_api))
    with pytest.raises(ApiError, match="Unexpected answer from Verity") as refused:
        api.alerts()
    assert "items.0" in str(refused.value)
