"""Alert life cycle: open → acknowledged → resolved, one unresolved alert per
monitor and cause. Every transition is audited and queued for notification in the
transaction that makes it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import clock, metrics
from backend.alerts.schemas import AlertRead
from backend.audit import records
from backend.audit import service as audit_service
from backend.auth.actor import Actor
from backend.checks.causes import ERROR_CAUSE, Cause
from backend.errors import Conflict, NotFound
from backend.models import Alert, CheckRun, Model, ModelVersion, Monitor
from backend.monitors.repository import names
from backend.notifications import outbox

AUTO_ACTOR = "verity:scheduler"


def _audit(
    session: Session, alert: Alert, actor: str, action: str, extra: dict[str, object]
) -> None:
    audit_service.append(
        session,
        project_id=alert.project_id,
        actor=actor,
        action=action,
        subject=f"monitor:{alert.monitor_id}/alert:{alert.id}",
        payload={
            "alert_id": alert.id,
            "cause": alert.cause,
            "severity": alert.severity,
            "state": alert.state,
            "run_id": alert.last_run_id,
            # The whole row as this transition leaves it: verification recomputes it.
            "record_sha256": records.alert_sha256(alert),
            **extra,
        },
    )


def digests(session: Session, alert_ids: Sequence[int]) -> dict[str, str]:
    """The record digest of each alert, as it stands in this transaction."""
    found = session.scalars(select(Alert).where(Alert.id.in_(alert_ids))).all()
    return {str(alert.id): records.alert_sha256(alert) for alert in found}


def unresolved(session: Session, monitor_id: int) -> Sequence[Alert]:
    return session.scalars(
        select(Alert).where(Alert.monitor_id == monitor_id, Alert.state != "resolved")
    ).all()


def apply_run(
    session: Session, monitor: Monitor, run: CheckRun, found: list[Cause], *, clears: bool
) -> dict[str, list[int]]:
    """Open or refresh an alert per cause; when the run ``clears`` (it completed),
    resolve the monitor's unresolved alerts whose cause it no longer shows."""
    now = clock.now()
    existing = {a.cause: a for a in unresolved(session, monitor.id)}
    changes: dict[str, list[int]] = {"opened": [], "updated": [], "resolved": []}
    for cause in found:
        alert = existing.get(cause.key)
        if alert is not None:
            alert.last_run_id = run.id
            alert.run_count += 1
            alert.message = cause.message
            alert.details = cause.details
            alert.updated_at = now
            changes["updated"].append(alert.id)
            continue
        alert = Alert(
            project_id=monitor.project_id,
            monitor_id=monitor.id,
            model_version_id=monitor.model_version_id,
            cause=cause.key,
            severity=monitor.severity,
            state="open",
            message=cause.message,
            details=cause.details,
            first_run_id=run.id,
            last_run_id=run.id,
            run_count=1,
            opened_at=now,
            updated_at=now,
        )
        session.add(alert)
        session.flush()
        _audit(session, alert, AUTO_ACTOR, "alert.open", {"message": cause.message})
        outbox.enqueue(session, alert, "opened")
        changes["opened"].append(alert.id)
    keys = {c.key for c in found}
    for cause_key, alert in existing.items():
        if cause_key in keys or not (
            clears or (cause_key == ERROR_CAUSE and run.status != "error")
        ):
            continue
        alert.state = "resolved"
        alert.resolved_at = now
        alert.resolved_by = AUTO_ACTOR
        alert.resolve_comment = f"check run {run.id} no longer shows it"
        alert.last_run_id = run.id
        alert.updated_at = now
        session.flush()
        _audit(session, alert, AUTO_ACTOR, "alert.resolve", {"comment": alert.resolve_comment})
        outbox.enqueue(session, alert, "resolved")
        changes["resolved"].append(alert.id)
    return changes


def get(session: Session, *, actor: Actor, alert_id: int) -> Alert:
    alert = session.scalars(
        select(Alert).where(Alert.id == alert_id, Alert.project_id == actor.project_id)
    ).one_or_none()
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


def acknowledge(session: Session, *, actor: Actor, alert_id: int, comment: str) -> Alert:
    alert = get(session, actor=actor, alert_id=alert_id)
    if alert.state != "open":
        raise Conflict(f"alert {alert_id} is {alert.state}; only an open alert is acknowledged")
    now = clock.now()
    alert.state = "acknowledged"
    alert.acknowledged_at = now
    alert.acknowledged_by = actor.label
    alert.acknowledge_comment = comment
    alert.updated_at = now
    session.flush()
    _audit(session, alert, actor.label, "alert.acknowledge", {"comment": comment})
    outbox.enqueue(session, alert, "acknowledged")
    # Counted before the request commits; a commit failing here is a 5xx and rare.
    metrics.alert_transitions.labels("acknowledged", alert.severity).inc()
    return alert


def resolve(session: Session, *, actor: Actor, alert_id: int, comment: str) -> Alert:
    alert = get(session, actor=actor, alert_id=alert_id)
    if alert.state == "resolved":
        raise Conflict(f"alert {alert_id} is resolved already")
    now = clock.now()
    alert.state = "resolved"
    alert.resolved_at = now
    alert.resolved_by = actor.label
    alert.resolve_comment = comment
    alert.updated_at = now
    session.flush()
    _audit(session, alert, actor.label, "alert.resolve", {"comment": comment})
    outbox.enqueue(session, alert, "resolved")
    metrics.alert_transitions.labels("resolved", alert.severity).inc()
    return alert


def list_alerts(
    session: Session,
    *,
    actor: Actor,
    state: str | None = None,
    severity: str | None = None,
    model: str | None = None,
    monitor_id: int | None = None,
    since: datetime | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> Sequence[Alert]:
    """Newest first, keyset-paged by id."""
    query = select(Alert).where(Alert.project_id == actor.project_id)
    if state is not None:
        query = query.where(Alert.state == state)
    if severity is not None:
        query = query.where(Alert.severity == severity)
    if monitor_id is not None:
        query = query.where(Alert.monitor_id == monitor_id)
    if since is not None:
        query = query.where(Alert.opened_at >= since)
    if after_id is not None:
        query = query.where(Alert.id < after_id)
    if model is not None:
        query = (
            query.join(ModelVersion, ModelVersion.id == Alert.model_version_id)
            .join(Model, Model.id == ModelVersion.model_id)
            .where(Model.name == model)
        )
    return session.scalars(query.order_by(Alert.id.desc()).limit(limit)).all()


def to_read(session: Session, alert: Alert) -> AlertRead:
    monitor = session.get(Monitor, alert.monitor_id)
    assert monitor is not None
    model_name, version_name = names(session, alert.model_version_id)
    return AlertRead(
        id=alert.id,
        model=model_name,
        version=version_name,
        monitor_id=monitor.id,
        monitor=monitor.name,
        kind=monitor.kind,
        cause=alert.cause,
        severity=alert.severity,
        state=alert.state,
        message=alert.message,
        details=alert.details,
        first_run_id=alert.first_run_id,
        last_run_id=alert.last_run_id,
        run_count=alert.run_count,
        opened_at=alert.opened_at,
        updated_at=alert.updated_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        acknowledge_comment=alert.acknowledge_comment,
        resolved_at=alert.resolved_at,
        resolved_by=alert.resolved_by,
        resolve_comment=alert.resolve_comment,
    )
