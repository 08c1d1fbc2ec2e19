from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from backend.auth.dependencies import MonitorReader, MonitorWriter
from backend.checks import service as checks_service
from backend.checks.schemas import BackfillOutcome, CheckRunPage, CheckRunRead, RunOutcome
from backend.checks.series import Series, series
from backend.db import DbSession, ReadSession
from backend.errors import NotFound
from backend.http import JsonRoute, PathId, QueryId, check_name_lengths
from backend.monitors import service
from backend.monitors.schemas import (
    BackfillRequest,
    MonitorCreate,
    MonitorRead,
    MonitorUpdate,
    RunRequest,
)
from detectors.registry import kinds

router = APIRouter(prefix="/v1", tags=["monitors"], route_class=JsonRoute)
VERSION_MONITORS = "/models/{model}/versions/{version}/monitors"


@router.get("/detectors")
def list_detectors(actor: MonitorReader) -> dict[str, Any]:
    """Every detector kind with its version and params JSON schema."""
    return kinds()


@router.post(VERSION_MONITORS, status_code=status.HTTP_201_CREATED, response_model=MonitorRead)
def create_monitor(
    model: str,
    version: str,
    spec: MonitorCreate,
    request: Request,
    session: DbSession,
    actor: MonitorWriter,
) -> MonitorRead:
    check_name_lengths(request, name=spec.name)
    monitor = service.create(
        session, actor=actor, model_name=model, version_name=version, spec=spec
    )
    return service.to_read(session, monitor)


@router.post(VERSION_MONITORS + ":default", status_code=status.HTTP_201_CREATED)
def create_default_monitors(
    model: str, version: str, session: DbSession, actor: MonitorWriter
) -> dict[str, Any]:
    """Drift on every feature and the prediction, bias on every sensitive feature and
    their intersection, explain and cost, where the version allows each."""
    created, skipped = service.create_defaults(
        session, actor=actor, model_name=model, version_name=version
    )
    return {
        "created": [service.to_read(session, m).model_dump(mode="json") for m in created],
        "skipped": skipped,
    }


@router.get(VERSION_MONITORS, response_model=list[MonitorRead])
def list_monitors(
    model: str, version: str, session: ReadSession, actor: MonitorReader
) -> list[MonitorRead]:
    found = service.list_monitors(session, actor=actor, model_name=model, version_name=version)
    return [service.to_read(session, m) for m in found]


@router.get("/monitors/{monitor_id}", response_model=MonitorRead)
def get_monitor(monitor_id: PathId, session: ReadSession, actor: MonitorReader) -> MonitorRead:
    return service.to_read(session, service.get(session, actor=actor, monitor_id=monitor_id))


@router.patch("/monitors/{monitor_id}", response_model=MonitorRead)
def update_monitor(
    monitor_id: PathId, spec: MonitorUpdate, session: DbSession, actor: MonitorWriter
) -> MonitorRead:
    """Change params, window, reference, schedule, severity; ``enabled: false``
    disables it."""
    monitor = service.update(session, actor=actor, monitor_id=monitor_id, spec=spec)
    return service.to_read(session, monitor)


@router.post("/monitors/{monitor_id}/run", response_model=RunOutcome)
async def run_monitor(
    monitor_id: PathId,
    request: Request,
    session: ReadSession,
    actor: MonitorWriter,
    spec: RunRequest | None = None,
) -> RunOutcome:
    """Run now, for the window ending at ``end`` (now when omitted). A window with a
    run already answers that run with ``created: false``."""
    service.get(session, actor=actor, monitor_id=monitor_id)
    return await run_in_threadpool(
        checks_service.run_now,
        request.app.state.database,
        request.app.state.settings,
        monitor_id,
        spec.end if spec else None,
    )


@router.post("/monitors/{monitor_id}/backfill", response_model=BackfillOutcome)
async def backfill_monitor(
    monitor_id: PathId,
    spec: BackfillRequest,
    request: Request,
    session: ReadSession,
    actor: MonitorWriter,
) -> BackfillOutcome:
    """Run every scheduled window ending in [start, end] that has no run yet."""
    monitor = service.get(session, actor=actor, monitor_id=monitor_id)
    ends = checks_service.backfill_ends(monitor, spec, request.app.state.settings)
    return await run_in_threadpool(
        checks_service.backfill,
        request.app.state.database,
        request.app.state.settings,
        monitor_id,
        ends,
    )


@router.get("/monitors/{monitor_id}/runs", response_model=CheckRunPage)
def list_runs(
    monitor_id: PathId,
    session: ReadSession,
    actor: MonitorReader,
    before_id: QueryId = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> CheckRunPage:
    """Newest first, keyset-paged: pass ``next_before_id`` for the next page."""
    service.get(session, actor=actor, monitor_id=monitor_id)
    return checks_service.list_runs(session, monitor_id, before_id=before_id, limit=limit)


@router.get("/monitors/{monitor_id}/series", response_model=Series)
def run_series(
    monitor_id: PathId,
    session: ReadSession,
    actor: MonitorReader,
    before_id: QueryId = None,
    limit: int = Query(default=200, ge=1, le=1000),
) -> Series:
    """The monitor's runs as a time series (drift scores per column, disparities per
    attribute, importance per feature, cost and latency), oldest first; keyset-paged
    backwards in time with ``next_before_id``."""
    monitor = service.get(session, actor=actor, monitor_id=monitor_id)
    return series(
        session, monitor_id=monitor_id, kind=monitor.kind, before_id=before_id, limit=limit
    )


@router.get(
    "/runs/{run_id}/report",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "Evidently's report."}},
)
def run_report(
    run_id: PathId, request: Request, session: ReadSession, actor: MonitorReader
) -> Response:
    """Evidently's HTML drift report for a drift run whose monitor asked for one
    (``params.report_rows``), as a download: it carries its own scripts."""
    run = checks_service.get_run(session, actor=actor, run_id=run_id)
    report = (run.result or {}).get("report") or {}
    if "path" not in report:
        raise NotFound(report.get("error") or f"check run {run_id} has no Evidently report")
    html = request.app.state.artifact_store.read(report["path"])
    return Response(
        content=html,
        media_type="text/html",
        headers={
            "Content-Disposition": f'attachment; filename="verity-run-{run_id}-evidently.html"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/runs/{run_id}", response_model=CheckRunRead)
def get_run(run_id: PathId, session: ReadSession, actor: MonitorReader) -> CheckRunRead:
    return CheckRunRead.model_validate(checks_service.get_run(session, actor=actor, run_id=run_id))
