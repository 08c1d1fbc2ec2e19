"""Serving state over HTTP. Every model server polls the GET with If-None-Match: an
unchanged state answers 304 from one indexed lookup, with no body."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response, status

from backend.api.dependencies import (
    IncidentManager,
    IncidentReader,
    IngestActor,
    MonitorReader,
    MonitorWriter,
    Reviewer,
    ServingController,
    ServingReader,
)
from backend.api.paging import QueryCursor, decode_cursor, next_cursor
from backend.db import DbSession, ReadSession
from backend.http import JsonRoute, PathId
from backend.oversight import incidents, repository, review, service
from backend.oversight.report import render
from backend.oversight.schemas import (
    ClaimRequest,
    Classify,
    DecisionWrite,
    IncidentCreate,
    IncidentPage,
    IncidentRead,
    LocalReport,
    Note,
    QueueHealth,
    ReviewItemRead,
    ReviewPolicyRead,
    ReviewPolicyWrite,
    ServingRead,
    ServingWrite,
    StatusChange,
)
from backend.runs.explanation import PredictionExplanation, explain_prediction

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


REVIEW_POLICY = "/models/{model}/versions/{version}/review-policy"


@router.put(REVIEW_POLICY, response_model=ReviewPolicyRead)
def put_review_policy(
    model: str, version: str, spec: ReviewPolicyWrite, session: DbSession, actor: MonitorWriter
) -> ReviewPolicyRead:
    """Which predictions go to a human (audited); applies to predictions ingested
    from now on."""
    return review.set_policy(
        session, actor=actor, model_name=model, version_name=version, spec=spec
    )


@router.get(REVIEW_POLICY, response_model=ReviewPolicyRead)
def get_review_policy(
    model: str, version: str, session: ReadSession, actor: MonitorReader
) -> ReviewPolicyRead:
    return review.get_policy(session, actor=actor, model_name=model, version_name=version)


@router.post(
    "/review/claim",
    response_model=ReviewItemRead,
    responses={204: {"description": "Nothing to review."}},
)
def claim_review(
    spec: ClaimRequest, session: DbSession, actor: Reviewer
) -> ReviewItemRead | Response:
    """The oldest item waiting (or whose lease expired), leased to this key."""
    item = review.claim(session, actor=actor, spec=spec)
    return Response(status_code=204) if item is None else item


@router.get("/review/items/{item_id}", response_model=ReviewItemRead)
def get_review_item(item_id: PathId, session: ReadSession, actor: Reviewer) -> ReviewItemRead:
    return review.get_item(session, actor=actor, item_id=item_id)


@router.get("/review/items/{item_id}/explanation", response_model=PredictionExplanation)
def review_explanation(
    item_id: PathId, request: Request, session: ReadSession, actor: Reviewer
) -> PredictionExplanation:
    """The SHAP explanation of the item's prediction, as a reviewer sees it."""
    item = review.get_item(session, actor=actor, item_id=item_id)
    return explain_prediction(
        session,
        actor=actor,
        store=request.app.state.artifact_store,
        settings=request.app.state.settings,
        event_id=item.event_id,
        reference_name=None,
    )


@router.post("/review/items/{item_id}/decision", response_model=ReviewItemRead)
def decide_review(
    item_id: PathId, spec: DecisionWrite, request: Request, session: DbSession, actor: Reviewer
) -> ReviewItemRead:
    """Agree, or override with the right label and a reason: stored as the
    prediction's label (source human) and audited."""
    return review.decide(
        session, actor=actor, item_id=item_id, spec=spec,
        limits=request.app.state.settings.limits,
    )  # fmt: skip


@router.get("/review/decisions/{event_id}", response_model=ReviewItemRead)
def review_decision(event_id: str, session: ReadSession, actor: ServingReader) -> ReviewItemRead:
    """A model server reads the decision on a prediction it queued."""
    return review.decision_of(session, actor=actor, event_id=event_id)


@router.get("/models/{model}/versions/{version}/review-queue", response_model=QueueHealth)
def review_queue_health(
    model: str, version: str, session: ReadSession, actor: Reviewer
) -> QueueHealth:
    """Pending, oldest age, SLA breaches, override rate (per segment)."""
    return review.health(session, actor=actor, model_name=model, version_name=version)
