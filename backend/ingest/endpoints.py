from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy.orm import Session

from backend import clock
from backend.api.actor import Actor
from backend.api.dependencies import IngestActor, MonitorReader, PredictionReader
from backend.api.params import QueryDateTime
from backend.db import DbSession, ReadSession
from backend.errors import InvalidInput
from backend.http import JsonRoute, json_body, json_body_openapi
from backend.idempotency import service as idempotency
from backend.ingest import service
from backend.ingest.schemas import (
    IngestResult,
    LabelBatch,
    LabelResult,
    PredictionBatch,
    PredictionPage,
    PredictionRead,
)
from backend.ingest.volume import Bucket, Volume, volume

router = APIRouter(prefix="/v1", tags=["ingest"], route_class=JsonRoute)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A replay with the same key and body returns the first answer.",
    ),
]


Prepared = TypeVar("Prepared")


@dataclass(frozen=True)
class _Idempotency:
    """One request's idempotency key: a replay looked up before the work, the key held
    for the write transaction, the first answer remembered in it."""

    actor: Actor
    key: str | None
    endpoint: str
    request: Request

    def replay(self, session: Session, response: Response) -> dict[str, Any] | None:
        if self.key is None:
            return None
        found = idempotency.find_replay(
            session,
            project_id=self.actor.project_id,
            key=self.key,
            endpoint=self.endpoint,
            request_sha256=self.request.state.body_sha256,
        )
        if found is None:
            return None
        response.status_code = found.status_code
        response.headers["Idempotent-Replayed"] = "true"
        return found.body

    def hold(self, session: Session, response: Response) -> dict[str, Any] | None:
        """Holds the key in the write transaction; the first answer if another request
        with it committed since ``replay`` looked."""
        if self.key is None:
            return None
        idempotency.hold(session, project_id=self.actor.project_id, key=self.key)
        return self.replay(session, response)

    def run(
        self,
        read_session: Session,
        session: Session,
        response: Response,
        prepare: Callable[[], Prepared],
        store: Callable[[Prepared], BaseModel],
    ) -> Any:
        """A first answer replayed, or the batch prepared (validated, read-only), the
        key held, and the batch stored with its answer remembered, in one transaction."""
        if (replayed := self.replay(read_session, response)) is not None:
            return replayed
        prepared = prepare()
        if (replayed := self.hold(session, response)) is not None:
            return replayed
        result = store(prepared)
        self.remember(session, result)
        return result

    def remember(self, session: Session, result: BaseModel) -> None:
        if self.key is not None:
            idempotency.remember(
                session,
                project_id=self.actor.project_id,
                key=self.key,
                endpoint=self.endpoint,
                request_sha256=self.request.state.body_sha256,
                status_code=status.HTTP_200_OK,
                body=result.model_dump(mode="json"),
            )


@router.post(
    "/predictions", response_model=IngestResult, openapi_extra=json_body_openapi(PredictionBatch)
)
def ingest_predictions(
    batch: Annotated[PredictionBatch, Depends(json_body(PredictionBatch))],
    request: Request,
    response: Response,
    read_session: ReadSession,
    session: DbSession,
    actor: IngestActor,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Store a batch of predictions whole, or reject it whole (422 naming every bad
    record and field). Timestamps without a zone are taken as UTC."""
    settings = request.app.state.settings
    return _Idempotency(actor, idempotency_key, "predictions", request).run(
        read_session,
        session,
        response,
        lambda: service.prepare_predictions(
            read_session,
            actor=actor,
            batch=batch,
            max_records=settings.ingest.max_batch_records,
            limits=settings.limits,
        ),
        lambda prepared: service.store_predictions(
            session, actor=actor, prepared=prepared, body_sha256=request.state.body_sha256
        ),
    )


@router.post("/labels", response_model=LabelResult, openapi_extra=json_body_openapi(LabelBatch))
def ingest_labels(
    batch: Annotated[LabelBatch, Depends(json_body(LabelBatch))],
    request: Request,
    response: Response,
    read_session: ReadSession,
    session: DbSession,
    actor: IngestActor,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Ground truth, joined to predictions by event_id whether it arrives before or after."""
    settings = request.app.state.settings
    return _Idempotency(actor, idempotency_key, "labels", request).run(
        read_session,
        session,
        response,
        lambda: service.prepare_labels(
            read_session,
            actor=actor,
            batch=batch,
            max_records=settings.ingest.max_batch_records,
            limits=settings.limits,
        ),
        lambda prepared: service.store_labels(
            session, actor=actor, prepared=prepared, body_sha256=request.state.body_sha256
        ),
    )


@router.get("/predictions", response_model=PredictionPage)
def search_predictions(
    session: DbSession,
    actor: PredictionReader,
    model: str | None = None,
    version: str | None = None,
    start: Annotated[QueryDateTime | None, Query(description="Inclusive; UTC if no zone")] = None,
    end: Annotated[QueryDateTime | None, Query(description="Exclusive; UTC if no zone")] = None,
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


@router.get("/models/{model}/volume", response_model=Volume, tags=["checks"])
def model_volume(
    model: str,
    session: ReadSession,
    actor: MonitorReader,
    start: Annotated[QueryDateTime | None, Query(description="Default: 7 days before end.")] = None,
    end: Annotated[QueryDateTime | None, Query(description="Exclusive; default: now.")] = None,
    bucket: Bucket = "hour",
) -> Volume:
    """Predictions, labels and mean latency per hour or day and version."""
    end = end or clock.now()
    start = start or end - timedelta(days=7)
    if start >= end:
        raise InvalidInput("start must be before end")
    if bucket == "hour" and end - start > timedelta(days=92):
        raise InvalidInput("hourly volume covers at most 92 days; use bucket=day")
    return volume(session, actor=actor, model_name=model, start=start, end=end, bucket=bucket)
