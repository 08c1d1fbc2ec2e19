"""OpenTelemetry: off (nothing imported) without an OTLP endpoint; with one, a span per
request carrying its route and status, spans for the SQL it ran under it, and a
``verity.check_run`` span per check run."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from backend import tracing
from backend.config import Settings
from backend.db import Database
from backend.main import create_app
from tests.factories import Tenant, over_budget_model


def test_without_an_endpoint_nothing_is_imported(settings: Settings) -> None:
    code = (
        "import sys; from backend.main import create_app; from backend.config import Settings;"
        f"create_app(Settings(database_url={settings.resolved_database_url!r}));"
        "print(any(m.startswith('opentelemetry.sdk') for m in sys.modules))"
    )
    env = {"PATH": "/usr/bin:/bin", "VERITY_SECRET_KEY": settings.secret_key}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.fixture
def spans(settings: Settings, database: Database) -> tuple[InMemorySpanExporter, TestClient]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(settings)
    tracing.instrument(provider, database.engine, app)
    return exporter, TestClient(app)


def test_requests_sql_and_check_runs_are_traced(
    spans: tuple[InMemorySpanExporter, TestClient], tenant: Tenant
) -> None:
    exporter, client = spans
    try:
        with client:
            monitor, _ = over_budget_model(client, tenant, rows=20)
            exporter.clear()
            run = client.post(f"/v1/monitors/{monitor['id']}/run", headers=tenant.headers())
            assert run.status_code == 200, run.text
        finished = exporter.get_finished_spans()
        server = [s for s in finished if s.kind is SpanKind.SERVER]
        assert len(server) == 1
        assert server[0].attributes is not None
        assert server[0].attributes["http.route"] == "/v1/monitors/{monitor_id}/run"
        trace_id = server[0].context.trace_id
        sql = [s for s in finished if s.attributes and "db.system" in s.attributes]
        assert sql and all(s.context.trace_id == trace_id for s in sql)
        check = [s for s in finished if s.name == "verity.check_run"]
        assert len(check) == 1 and check[0].context.trace_id == trace_id
        attributes = check[0].attributes or {}
        assert attributes["verity.kind"] == "cost"
        assert attributes["verity.status"] == "alert"
        assert attributes["verity.rows"] == 20
        assert attributes["monitor_id"] == monitor["id"]
    finally:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().uninstrument()
        tracing._provider = None
