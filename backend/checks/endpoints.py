from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from backend import clock
from backend.auth.dependencies import MonitorReader, PredictionReader
from backend.checks import service
from backend.checks.explanation import PredictionExplanation, explain_prediction
from backend.checks.schemas import ModelStatus
from backend.checks.volume import Bucket, Volume, volume
from backend.db import ReadSession
from backend.errors import InvalidInput
from backend.http import JsonRoute
from backend.ingest.schemas import QueryDateTime

router = APIRouter(prefix="/v1", tags=["checks"], route_class=JsonRoute)


@router.get("/models/{model}/status", response_model=ModelStatus)
def model_status(model: str, session: ReadSession, actor: MonitorReader) -> ModelStatus:
    """The latest run of each monitor of the model's versions, and its open alerts."""
    return service.model_status(session, actor=actor, model_name=model)


@router.get("/models/{model}/volume", response_model=Volume)
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


@router.get("/predictions/{event_id}/explanation", response_model=PredictionExplanation)
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
