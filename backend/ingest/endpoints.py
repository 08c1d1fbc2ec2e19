from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status

from backend.auth.actor import Actor
from backend.auth.dependencies import IngestActor, PredictionReader
from backend.db import DbSession
from backend.http import JsonRoute
from backend.idempotency import service as idempotency
from backend.ingest import service
from backend.ingest.schemas import (
    IngestResult,
    LabelBatch,
    LabelResult,
    PredictionBatch,
    PredictionPage,
    PredictionRead,
    UtcDateTime,
)

router = APIRouter(prefix="/v1", tags=["ingest"], route_class=JsonRoute)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A replay with the same key and body returns the first answer.",
    ),
]


def _idempotent(
    session: DbSession,
    *,
    actor: Actor,
    key: str | None,
    endpoint: str,
    request: Request,
    response: Response,
    work: Any,
) -> Any:
    body_sha256: str = request.state.body_sha256
    if key is not None:
        replay = idempotency.find_replay(
            session,
            project_id=actor.project_id,
            key=key,
            endpoint=endpoint,
            request_sha256=body_sha256,
        )
        if replay is not None:
            response.status_code = replay.status_code
            response.headers["Idempotent-Replayed"] = "true"
            return replay.body
    result = work(body_sha256)
    if key is not None:
        idempotency.remember(
            session,
            project_id=actor.project_id,
            key=key,
            endpoint=endpoint,
            request_sha256=body_sha256,
            status_code=status.HTTP_200_OK,
            body=result.model_dump(mode="json"),
        )
    return result


@router.post("/predictions", response_model=IngestResult)
def ingest_predictions(
    batch: PredictionBatch,
    request: Request,
    response: Response,
    session: DbSession,
    actor: IngestActor,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Store a batch of predictions whole, or reject it whole (422 naming every bad
    record and field). Timestamps without a zone are taken as UTC."""
    limit = request.app.state.settings.ingest.max_batch_records
    return _idempotent(
        session,
        actor=actor,
        key=idempotency_key,
        endpoint="predictions",
        request=request,
        response=response,
        work=lambda sha: service.ingest_predictions(
            session, actor=actor, batch=batch, body_sha256=sha, max_records=limit
        ),
    )


@router.post("/labels", response_model=LabelResult)
def ingest_labels(
    batch: LabelBatch,
    request: Request,
    response: Response,
    session: DbSession,
    actor: IngestActor,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Ground truth, joined to predictions by event_id whether it arrives before or after."""
    limit = request.app.state.settings.ingest.max_batch_records
    return _idempotent(
        session,
        actor=actor,
        key=idempotency_key,
        endpoint="labels",
        request=request,
        response=response,
        work=lambda sha: service.ingest_labels(
            session, actor=actor, batch=batch, body_sha256=sha, max_records=limit
        ),
    )


@router.get("/predictions", response_model=PredictionPage)
def search_predictions(
    session: DbSession,
    actor: PredictionReader,
    model: str | None = None,
    version: str | None = None,
    start: Annotated[UtcDateTime | None, Query(description="Inclusive; UTC if no zone")] = None,
    end: Annotated[UtcDateTime | None, Query(description="Exclusive; UTC if no zone")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> PredictionPage:
    return service.search_predictions(
        session,
        actor=actor,
        model=model,
        version=version,
        start=start,
        end=end,
        cursor=cursor,
        limit=limit,
    )


@router.get("/predictions/{event_id}", response_model=PredictionRead)
def get_prediction(event_id: str, session: DbSession, actor: PredictionReader) -> PredictionRead:
    return service.get_prediction(session, actor=actor, event_id=event_id)
