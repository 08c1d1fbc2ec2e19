"""Serving state over HTTP. Every model server polls the GET with If-None-Match: an
unchanged state answers 304 from one indexed lookup, with no body."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response, status

from backend.api.dependencies import (
    IncidentManager,
    IncidentReader,
    IngestActor,
    ServingController,
    ServingReader,
)
from backend.api.paging import QueryCursor, decode_cursor, next_cursor
from backend.db import DbSession, ReadSession
from backend.http import JsonRoute, PathId
from backend.oversight import incidents, repository, service
from backend.oversight.report import render
from backend.oversight.schemas import (
    Classify,
    IncidentCreate,
    IncidentPage,
    IncidentRead,
    LocalReport,
    Note,
    ServingRead,
    ServingWrite,
    StatusChange,
)

router = APIRouter(prefix="/v1", tags=["oversight"], route_class=JsonRoute)
SERVING = "/models/{model}/versions/{version}/serving-state"


@router.get(
    SERVING,
    response_model=ServingRead,
    responses={304: {"description": "Unchanged since the ETag in If-None-Match."}},
)
def get_serving_state(
    model: str, version: str, request: Request, response: Response, session: ReadSession,
    actor: ServingReader,
) -> ServingRead | Response:  # fmt: skip
    """The version's serving state (active, tripped, stopped), with an ETag."""
    asked = request.headers.get("if-none-match")
    if asked:
        current = service.poll_etag(session, actor=actor, model_name=model, version_name=version)
        if current is not None and current in {tag.strip() for tag in asked.split(",")}:
            return Response(status_code=304, headers={"ETag": current})
    read, tag = service.get(session, actor=actor, model_name=model, version_name=version)
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = "no-cache"
    return read


@router.post(SERVING, response_model=ServingRead)
def set_serving_state(
    model: str, version: str, spec: ServingWrite, response: Response, session: DbSession,
    actor: ServingController,
) -> ServingRead:  # fmt: skip
    """Stop or trip the version with a reason, or restore it (``active``); audited."""
    read, tag = service.set_state(
        session, actor=actor, model_name=model, version_name=version, spec=spec
    )
    response.headers["ETag"] = tag
    return read


@router.post(SERVING + ":report", status_code=status.HTTP_204_NO_CONTENT)
def report_local(
    model: str, version: str, spec: LocalReport, session: DbSession, actor: IngestActor
) -> Response:
    """A model server's SDK reports its local breaker (or its polls failing); audited."""
    service.report(session, actor=actor, model_name=model, version_name=version, spec=spec)
    return Response(status_code=204)


@router.post("/incidents", status_code=status.HTTP_201_CREATED, response_model=IncidentRead)
def open_incident(spec: IncidentCreate, session: DbSession, actor: IncidentManager) -> IncidentRead:
    """Open an incident, by hand or from alerts of one version; its Art. 73
    classification and awareness time give the reporting deadline."""
    return incidents.open_incident(session, actor=actor, spec=spec)


@router.get("/incidents", response_model=IncidentPage)
def list_incidents(
    session: ReadSession,
    actor: IncidentReader,
    cursor: QueryCursor = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> IncidentPage:
    """Newest first."""
    before = decode_cursor("incidents", cursor, int)[0] if cursor else None
    found = repository.incidents_page(session, actor.project_id, before, limit + 1)
    page = found[:limit]
    return IncidentPage(
        items=[incidents.to_read(session, i) for i in page],
        next_cursor=next_cursor("incidents", [i.id for i in page], len(found) > limit),
    )


@router.get("/incidents/{incident_id}", response_model=IncidentRead)
def get_incident(incident_id: PathId, session: ReadSession, actor: IncidentReader) -> IncidentRead:
    return incidents.get(session, actor=actor, incident_id=incident_id)


@router.post("/incidents/{incident_id}/classification", response_model=IncidentRead)
def classify_incident(
    incident_id: PathId, spec: Classify, session: DbSession, actor: IncidentManager
) -> IncidentRead:
    """Change the Art. 73 classification (audited); the deadline follows it."""
    return incidents.classify(session, actor=actor, incident_id=incident_id, spec=spec)


@router.post("/incidents/{incident_id}/status", response_model=IncidentRead)
def incident_status(
    incident_id: PathId, spec: StatusChange, session: DbSession, actor: IncidentManager
) -> IncidentRead:
    """open → investigating → reported → closed, forward only."""
    return incidents.change_status(session, actor=actor, incident_id=incident_id, spec=spec)


@router.post("/incidents/{incident_id}/notes", response_model=IncidentRead)
def incident_note(
    incident_id: PathId, spec: Note, session: DbSession, actor: IncidentManager
) -> IncidentRead:
    return incidents.add_note(session, actor=actor, incident_id=incident_id, spec=spec)


@router.get(
    "/incidents/{incident_id}/report.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The incident report."}},
)
def incident_report(incident_id: PathId, session: ReadSession, actor: IncidentReader) -> Response:
    incident = incidents.get(session, actor=actor, incident_id=incident_id)
    return Response(
        render(incident),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="incident-{incident.id}.pdf"'},
    )
