"""Every SQL statement of the health domain: the readiness ping and the shared-state
gauges' counts (across every project: they describe the deployment)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from backend.models import Alert, Monitor, Notification


def ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def unresolved_alert_counts(session: Session) -> list[tuple[str, str, int]]:
    rows = session.execute(
        select(Alert.state, Alert.severity, func.count())
        .where(Alert.state != "resolved")
        .group_by(Alert.state, Alert.severity)
    ).all()
    return [(state, severity, int(count)) for state, severity, count in rows]


def notification_queue(session: Session) -> list[tuple[str, int, Any]]:
    """Per state (pending, failed): the count and the oldest creation time."""
    rows = session.execute(
        select(Notification.state, func.count(), func.min(Notification.created_at))
        .where(Notification.state.in_(("pending", "failed")))
        .group_by(Notification.state)
    ).all()
    return [(state, int(count), first) for state, count, first in rows]


def overdue_monitors(session: Session, *, due_before: datetime) -> int:
    count = session.scalar(
        select(func.count()).where(Monitor.enabled.is_(True), Monitor.next_run_at < due_before)
    )
    return int(count or 0)
