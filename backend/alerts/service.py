"""Alert life cycle: open → acknowledged → resolved, one unresolved alert per
monitor and cause. Every transition is audited and queued for notification in the
transaction that makes it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend import clock, metrics
from backend.alerts import repository
from backend.alerts.causes import ERROR_CAUSE, Cause, causes
from backend.alerts.schemas import AlertRead
from backend.api.actor import Actor
from backend.audit import records
from backend.audit import service as audit_service
from backend.errors import Conflict, NotFound
from backend.models import Alert, CheckRun, Monitor
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
    found = repository.by_ids(session, alert_ids)
    return {str(alert.id): records.alert_sha256(alert) for alert in found}


def unresolved(session: Session, monitor_id: int) -> Sequence[Alert]:
    return repository.unresolved(session, [monitor_id])


def apply_outcome(
    session: Session,
    monitor: Monitor,
    run: CheckRun,
    *,
    status: str,
    result: dict[str, Any] | None,
    error: str | None,
) -> dict[str, list[int]]:
    """The alerts a stored run opens, refreshes or resolves: a failed check is its own
    cause; a completed one raises the causes its result shows and clears the rest."""
    if status == "error":
        found = [Cause(ERROR_CAUSE, f"Check failed: {error}")]
    elif result is not None and status != "insufficient_data":
        found = causes(monitor.kind, result, monitor.params, monitor.alert_on)
    else:
        found = []
    clears = status not in ("error", "insufficient_data")
    return apply_run(session, monitor, run, found, clears=clears)


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
    alert = repository.get(session, project_id=actor.project_id, alert_id=alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


def acknowledge(session: Session, *, actor: Actor, alert_id: int, comment: str) -> Alert:
    alert = get(session, actor=actor, alert_id=alert_id)
    if alert.state != "open":
        raise Conflict(f"alert {alert_id} is {alert.state}; only an open alert is acknowledged")
    return _transition(session, actor, alert, "acknowledged", comment)


def resolve(session: Session, *, actor: Actor, alert_id: int, comment: str) -> Alert:
    alert = get(session, actor=actor, alert_id=alert_id)
    if alert.state == "resolved":
        raise Conflict(f"alert {alert_id} is resolved already")
    return _transition(session, actor, alert, "resolved", comment)


def _transition(session: Session, actor: Actor, alert: Alert, state: str, comment: str) -> Alert:
    """A person's acknowledge or resolve: the state, who, when and why, audited and
    queued for notification."""
    now = clock.now()
    field = "acknowledge" if state == "acknowledged" else "resolve"
    alert.state = state
    setattr(alert, f"{state}_at", now)
    setattr(alert, f"{state}_by", actor.label)
    setattr(alert, f"{field}_comment", comment)
    alert.updated_at = now
    session.flush()
    _audit(session, alert, actor.label, f"alert.{field}", {"comment": comment})
    outbox.enqueue(session, alert, state)
    # Counted before the request commits; a commit failing here is a 5xx and rare.
    metrics.alert_transitions.labels(state, alert.severity).inc()
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
    return repository.page(
        session,
        project_id=actor.project_id,
        state=state,
        severity=severity,
        model=model,
        monitor_id=monitor_id,
        since=since,
        after_id=after_id,
        limit=limit,
    )


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
