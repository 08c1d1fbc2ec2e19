"""The control plane's ASGI app: ``create_app()``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from backend.alerts.endpoints import router as alerts_router
from backend.alerts.endpoints import status_router as model_status_router
from backend.audit.endpoints import router as audit_router
from backend.auth.endpoints import me_router
from backend.auth.endpoints import router as keys_router
from backend.auth.gate import key_authenticator
from backend.catalog.endpoints import router as catalog_router
from backend.catalog.endpoints import uploads as catalog_uploads
from backend.catalog.storage import ArtifactStore
from backend.config import Settings, get_settings
from backend.db import get_database
from backend.evidence.endpoints import router as evidence_router
from backend.governance.endpoints import router as governance_router
from backend.health.endpoints import router as health_router
from backend.hooks import install as install_hooks
from backend.http import add_body_schemas, document_problems, install_problem_handlers
from backend.ingest.endpoints import router as ingest_router
from backend.ingest.receivers import router as receivers_router
from backend.middleware import (
    AuthGateMiddleware,
    BodyLimitMiddleware,
    InFlight,
    LoadShedMiddleware,
    MetricsMiddleware,
    SdkVersionMiddleware,
    parse_version,
)
from backend.monitors.endpoints import router as monitors_router
from backend.notifications.endpoints import router as channels_router
from backend.observability import RequestIdMiddleware, configure_logging
from backend.oversight.endpoints import router as oversight_router
from backend.runs.endpoints import router as runs_router
from backend.runtime import tune_allocator
from backend.tracing import configure_tracing

# Every router, in one place (a test checks each is mounted).
ROUTERS = (
    health_router,
    keys_router,
    me_router,
    catalog_router,
    catalog_uploads,
    ingest_router,
    receivers_router,
    audit_router,
    monitors_router,
    runs_router,
    alerts_router,
    model_status_router,
    channels_router,
    governance_router,
    oversight_router,
    evidence_router,
)

API_DESCRIPTION = """\
Verity's control plane. Authenticate with an API key: `Authorization: Bearer vt_…`
or `X-API-Key: vt_…`. Errors are RFC 9457 problem JSON. Timestamps without a time zone
are taken as UTC. Request bodies may be gzip-compressed (`Content-Encoding: gzip`).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    install_hooks()
    database = get_database(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_allocator()  # manual check runs execute in the API process
        configure_logging(settings.log_format)
        yield
        database.engine.dispose()

    app = FastAPI(
        title="Verity",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.artifact_store = ArtifactStore(settings.resolved_artifact_dir)
    install_problem_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    # Added innermost first: RequestId → Metrics → AuthGate → LoadShed → SdkVersion →
    # BodyLimit.
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.ingest.max_body_bytes,
        max_upload_bytes=settings.ingest.max_upload_bytes,
        timeout_seconds=settings.api.body_timeout_seconds,
        min_rate=settings.api.body_min_rate,
    )
    app.add_middleware(
        SdkVersionMiddleware,
        minimum=parse_version(settings.api.min_sdk_version),
    )
    # Sheds before a body is read or a thread is taken, and counts only callers
    # with a valid key.
    app.state.in_flight = InFlight(limit=settings.api.max_in_flight_requests)
    app.add_middleware(
        LoadShedMiddleware,
        in_flight=app.state.in_flight,
        retry_after_seconds=settings.api.overload_retry_after_seconds,
    )
    app.state.authenticate = key_authenticator(database, settings)
    app.add_middleware(AuthGateMiddleware, authenticate=app.state.authenticate)
    app.add_middleware(MetricsMiddleware)
    # Outermost: the id is set before any other middleware logs.
    app.add_middleware(RequestIdMiddleware)
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(add_body_schemas(build_openapi()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
    configure_tracing("verity-api", database.engine, app)
    return app
