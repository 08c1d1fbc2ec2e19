from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from backend.alerts import service
from backend.alerts.schemas import AlertAction, AlertPage, AlertRead, ModelStatus
from backend.alerts.status import model_status as model_status_of
from backend.api.dependencies import AlertManager, MonitorReader
from backend.api.paging import QueryCursor, keyset_start, next_cursor
from backend.api.params import QueryDateTime
from backend.db import DbSession, ReadSession
from backend.http import MAX_ID, JsonRoute, PathId, QueryId

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], route_class=JsonRoute)
status_router = APIRouter(prefix="/v1", tags=["checks"], route_class=JsonRoute)


@router.get("", response_model=AlertPage)
def list_alerts(
    response: Response,
    session: ReadSession,
    actor: MonitorReader,
    state: Literal["open", "acknowledged", "resolved"] | None = None,
    severity: Literal["info", "warning", "critical"] | None = None,
    model: str | None = None,
    monitor_id: QueryId = None,
    since: QueryDateTime | None = None,
    cursor: QueryCursor = None,
    after_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, deprecated=True, description="Use cursor.")
    ] = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> AlertPage:
    """Newest first; pass ``next_cursor`` as ``cursor`` for the next page."""
    after_id = keyset_start("alerts", cursor, after_id, "after_id", response)
    found = service.list_alerts(
        session,
        actor=actor,
        state=state,
        severity=severity,
        model=model,
        monitor_id=monitor_id,
        since=since,
        after_id=after_id,
        limit=limit + 1,
    )
    items = [service.to_read(session, a) for a in found[:limit]]
    more = len(found) > limit
    return AlertPage(
        items=items,
        next_cursor=next_cursor("alerts", [a.id for a in items], more),
        next_after_id=items[-1].id if more else None,
    )


@router.get("/{alert_id}", response_model=AlertRead)
def get_alert(alert_id: PathId, session: ReadSession, actor: MonitorReader) -> AlertRead:
    return service.to_read(session, service.get(session, actor=actor, alert_id=alert_id))


@router.post("/{alert_id}/acknowledge", response_model=AlertRead)
def acknowledge_alert(
    alert_id: PathId, action: AlertAction, session: DbSession, actor: AlertManager
) -> AlertRead:
    alert = service.acknowledge(session, actor=actor, alert_id=alert_id, comment=action.comment)
    return service.to_read(session, alert)


@router.post("/{alert_id}/resolve", response_model=AlertRead)
def resolve_alert(
    alert_id: PathId, action: AlertAction, session: DbSession, actor: AlertManager
) -> AlertRead:
    alert = service.resolve(session, actor=actor, alert_id=alert_id, comment=action.comment)
    return service.to_read(session, alert)


@status_router.get("/models/{model}/status", response_model=ModelStatus)
def model_status(model: str, session: ReadSession, actor: MonitorReader) -> ModelStatus:
    """The latest run of each monitor of the model's versions, and its open alerts."""
    return model_status_of(session, actor=actor, model_name=model)
