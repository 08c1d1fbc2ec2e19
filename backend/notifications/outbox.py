"""Alert transitions queued for delivery in the same transaction as the change: a
transition is never lost, and never announced if its transaction rolls back."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from backend import clock
from backend.audit.checkpoints import Checkpoint
from backend.models import Alert, Monitor, Notification
from backend.monitors.repository import names
from backend.monitors.schemas import SEVERITY_ORDER
from backend.notifications import repository


def alert_payload(session: Session, alert: Alert, event: str) -> dict[str, Any]:
    monitor = session.get(Monitor, alert.monitor_id)
    assert monitor is not None
    model_name, version_name = names(session, alert.model_version_id)
    return {
        "type": f"alert.{event}",
        "alert": {
            "id": alert.id,
            "state": alert.state,
            "severity": alert.severity,
            "cause": alert.cause,
            "message": alert.message,
            "details": alert.details,
            "model": model_name,
            "version": version_name,
            "monitor": monitor.name,
            "kind": monitor.kind,
            "run_id": alert.last_run_id,
            "opened_at": alert.opened_at.isoformat(),
            "acknowledged_by": alert.acknowledged_by,
            "comment": alert.resolve_comment if event == "resolved" else alert.acknowledge_comment,
        },
    }


def enqueue_checkpoint(session: Session, checkpoint: Checkpoint) -> list[Notification]:
    """A signed audit checkpoint to every witness webhook of its project."""
    channels = repository.enabled_channels(
        session, project_id=checkpoint.project_id, witness_only=True
    )
    queued = [
        Notification(
            project_id=checkpoint.project_id,
            channel_id=channel.id,
            alert_id=None,
            event="checkpoint",
            message_id=f"msg_{uuid.uuid4().hex}",
            payload={"type": "audit.checkpoint", "checkpoint": checkpoint.as_json()},
            state="pending",
            attempts=0,
            next_attempt_at=clock.now(),
        )
        for channel in channels
    ]
    session.add_all(queued)
    session.flush()
    return queued


def enqueue_event(
    session: Session, project_id: int, event: str, payload: dict[str, Any], *, severity: str
) -> list[Notification]:
    """A notification that is not an alert's (an incident's deadline) to every enabled
    channel that takes its severity."""
    rank = SEVERITY_ORDER[severity]
    queued = [
        Notification(
            project_id=project_id,
            channel_id=channel.id,
            alert_id=None,
            event=event,
            message_id=f"msg_{uuid.uuid4().hex}",
            payload=payload,
            state="pending",
            attempts=0,
            next_attempt_at=clock.now(),
        )
        for channel in repository.enabled_channels(session, project_id=project_id)
        if SEVERITY_ORDER[channel.min_severity] <= rank
    ]
    session.add_all(queued)
    session.flush()
    return queued


def enqueue(session: Session, alert: Alert, event: str) -> list[Notification]:
    channels = repository.enabled_channels(session, project_id=alert.project_id)
    rank = SEVERITY_ORDER[alert.severity]
    payload = alert_payload(session, alert, event)
    queued = []
    for channel in channels:
        if SEVERITY_ORDER[channel.min_severity] > rank:
            continue
        notification = Notification(
            project_id=alert.project_id,
            channel_id=channel.id,
            alert_id=alert.id,
            event=event,
            message_id=f"msg_{uuid.uuid4().hex}",
            payload=payload,
            state="pending",
            attempts=0,
            next_attempt_at=clock.now(),
        )
        session.add(notification)
        queued.append(notification)
    session.flush()
    return queued
