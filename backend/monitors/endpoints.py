from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status

from backend.api.dependencies import MonitorReader, MonitorWriter
from backend.db import DbSession, ReadSession
from backend.http import JsonRoute, PathId, check_name_lengths
from backend.monitors import service
from backend.monitors.schemas import MonitorCreate, MonitorRead, MonitorUpdate
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
