from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from backend.alerts import service
from backend.alerts.schemas import AlertAction, AlertPage, AlertRead
from backend.auth.dependencies import AlertManager, MonitorReader
from backend.db import DbSession, ReadSession
from backend.http import JsonRoute, PathId, QueryId
from backend.ingest.schemas import QueryDateTime

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], route_class=JsonRoute)


@router.get("", response_model=AlertPage)
def list_alerts(
    session: ReadSession,
    actor: MonitorReader,
    state: Literal["open", "acknowledged", "resolved"] | None = None,
    severity: Literal["info", "warning", "critical"] | None = None,
    model: str | None = None,
    monitor_id: QueryId = None,
    since: QueryDateTime | None = None,
    after_id: QueryId = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> AlertPage:
    """Newest first; pass ``next_after_id`` as ``after_id`` for the next page."""
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
    return AlertPage(items=items, next_after_id=items[-1].id if len(found) > limit else None)


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
