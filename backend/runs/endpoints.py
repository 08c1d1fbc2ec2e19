"""Check runs: run a monitor now, backfill its windows, list and read its runs and
their series, and explain one prediction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from backend.api.dependencies import MonitorReader, MonitorWriter, PredictionReader
from backend.api.paging import QueryCursor, keyset_start
from backend.db import DbSession, ReadSession
from backend.errors import NotFound
from backend.http import MAX_ID, JsonRoute, PathId
from backend.monitors import service as monitors_service
from backend.monitors.schemas import BackfillRequest, RunRequest
from backend.runs import service as checks_service
from backend.runs.explanation import PredictionExplanation, explain_prediction
from backend.runs.schemas import CheckRunPage, CheckRunRead, JobRead, RunOutcome
from backend.runs.series import Series, series

router = APIRouter(prefix="/v1", tags=["monitors"], route_class=JsonRoute)


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
    monitors_service.get(session, actor=actor, monitor_id=monitor_id)
    return await run_in_threadpool(
        checks_service.run_now,
        request.app.state.database,
        request.app.state.settings,
        monitor_id,
        spec.end if spec else None,
    )


@router.post(
    "/monitors/{monitor_id}/backfill",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobRead,
)
def backfill_monitor(
    monitor_id: PathId,
    spec: BackfillRequest,
    request: Request,
    response: Response,
    session: DbSession,
    actor: MonitorWriter,
) -> JobRead:
    """Queue a run of every scheduled window ending in [start, end]; a scheduler does
    it (job ``runs.backfill``), and a window that has its run already keeps it. The
    answer is the job: follow ``Location`` (``GET /v1/jobs/{id}``) for its progress."""
    monitor = monitors_service.get(session, actor=actor, monitor_id=monitor_id)
    ends = checks_service.backfill_ends(monitor, spec, request.app.state.settings)
    job = checks_service.queue_backfill(session, actor=actor, monitor=monitor, ends=ends)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return JobRead.model_validate(job)


@router.get("/jobs/{job_id}", response_model=JobRead)
def get_job(job_id: PathId, session: ReadSession, actor: MonitorReader) -> JobRead:
    """A queued job: its state, progress, the runs it made and the windows that failed."""
    return JobRead.model_validate(checks_service.get_job(session, actor=actor, job_id=job_id))


@router.get("/monitors/{monitor_id}/runs", response_model=CheckRunPage)
def list_runs(
    monitor_id: PathId,
    response: Response,
    session: ReadSession,
    actor: MonitorReader,
    cursor: QueryCursor = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, deprecated=True, description="Use cursor.")
    ] = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> CheckRunPage:
    """Newest first, keyset-paged: pass ``next_cursor`` as ``cursor`` for the next page."""
    before_id = keyset_start("runs", cursor, before_id, "before_id", response)
    monitors_service.get(session, actor=actor, monitor_id=monitor_id)
    return checks_service.list_runs(session, monitor_id, before_id=before_id, limit=limit)


@router.get("/monitors/{monitor_id}/series", response_model=Series)
def run_series(
    monitor_id: PathId,
    response: Response,
    session: ReadSession,
    actor: MonitorReader,
    cursor: QueryCursor = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, deprecated=True, description="Use cursor.")
    ] = None,
    limit: int = Query(default=200, ge=1, le=1000),
    segment: Annotated[
        str | None,
        Query(max_length=700, description="A segment of a segmented monitor: region=eu."),
    ] = None,
) -> Series:
    """The monitor's runs as a time series (drift scores per column, disparities per
    attribute, importance per feature, cost and latency, performance and its
    estimate): the newest ``limit`` runs, in window order within the page;
    ``next_cursor`` pages back in time. With ``segment``, that segment's figures."""
    before_id = keyset_start("series", cursor, before_id, "before_id", response)
    monitor = monitors_service.get(session, actor=actor, monitor_id=monitor_id)
    return series(
        session,
        monitor_id=monitor_id,
        kind=monitor.kind,
        before_id=before_id,
        limit=limit,
        segment=segment,
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


@router.get(
    "/predictions/{event_id}/explanation",
    response_model=PredictionExplanation,
    tags=["checks"],
)
def prediction_explanation(
    event_id: str,
    request: Request,
    session: ReadSession,
    actor: PredictionReader,
    reference: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="The background's reference dataset, by name or content hash; "
            "required when the version has several.",
        ),
    ] = None,
) -> PredictionExplanation:
    """Why this decision: SHAP attributions of one prediction's model inputs (exact
    Shapley values up to 12 inputs, Kernel SHAP beyond), against a background drawn
    from the reference dataset named (or the version's only one). The answer names
    the reference and its content hash."""
    return explain_prediction(
        session,
        actor=actor,
        store=request.app.state.artifact_store,
        settings=request.app.state.settings,
        event_id=event_id,
        reference_name=reference,
    )
