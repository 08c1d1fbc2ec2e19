from __future__ import annotations

from fastapi import APIRouter

from backend.auth.dependencies import MonitorReader
from backend.checks import service
from backend.checks.schemas import ModelStatus
from backend.db import ReadSession
from backend.http import JsonRoute

router = APIRouter(prefix="/v1", tags=["checks"], route_class=JsonRoute)


@router.get("/models/{model}/status", response_model=ModelStatus)
def model_status(model: str, session: ReadSession, actor: MonitorReader) -> ModelStatus:
    """The latest run of each monitor of the model's versions, and its open alerts."""
    return service.model_status(session, actor=actor, model_name=model)
