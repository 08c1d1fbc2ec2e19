from __future__ import annotations

import contextlib

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import InterfaceError, OperationalError

from backend.config import Settings
from backend.db import Database
from backend.health import repository
from backend.health.state_metrics import exposition
from backend.http import problem
from backend.metrics import registry
from backend.migrate import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(request: Request) -> dict[str, str] | Response:
    """The database answers, its schema is at the newest migration, and this process
    is not saturated (requests in flight below the limit)."""
    database: Database = request.app.state.database
    try:
        repository.ping(database.engine)
        current = current_revision(database.engine)
    except Exception as exc:
        return problem(
            503,
            slug="not-ready",
            title="Not ready",
            detail=f"database unreachable: {type(exc).__name__}",
        )
    head = head_revision()
    in_flight = request.app.state.in_flight
    if in_flight.saturated:
        # A load balancer should send new requests elsewhere until this one drains.
        return problem(
            503,
            slug="not-ready",
            title="Not ready",
            detail=f"saturated: {in_flight.count} requests in flight, the limit is "
            f"{in_flight.limit}",
            headers={"Retry-After": "1"},
        )
    if current != head:
        return problem(
            503,
            slug="not-ready",
            title="Not ready",
            detail=f"database schema is at {current}, code expects {head}; run 'verity db upgrade'",
        )
    return {"status": "ready", "schema": head or ""}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> Response:
    """Prometheus metrics: this process's counters, then gauges read from the
    database (unresolved alerts, the notification queue, overdue monitors)."""
    settings: Settings = request.app.state.settings
    body = generate_latest(registry)
    # Scraping must not fail when the database is down: the process counters
    # (including the database errors) are what an operator needs then.
    with contextlib.suppress(OperationalError, InterfaceError):
        body += exposition(request.app.state.database, settings.checks.tick_seconds)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
