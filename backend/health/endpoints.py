from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from backend.db import Database
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
    """The database answers and its schema is at the newest migration."""
    database: Database = request.app.state.database
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = current_revision(database.engine)
    except Exception as exc:
        return problem(
            503,
            slug="not-ready",
            title="Not ready",
            detail=f"database unreachable: {type(exc).__name__}",
        )
    head = head_revision()
    if current != head:
        return problem(
            503,
            slug="not-ready",
            title="Not ready",
            detail=f"database schema is at {current}, code expects {head}; run 'verity db upgrade'",
        )
    return {"status": "ready", "schema": head or ""}


@router.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
