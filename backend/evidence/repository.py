"""Every SQL statement of the evidence domain: what a pack holds for a version and
a period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Alert, AuditEvent, CheckRun, Monitor


def runs_overlapping(
    session: Session, *, version_id: int, start: datetime, end: datetime
) -> Sequence[CheckRun]:
    return session.scalars(
        select(CheckRun)
        .where(
            CheckRun.model_version_id == version_id,
            CheckRun.window_end > start,
            CheckRun.window_start < end,
        )
        .order_by(CheckRun.window_end, CheckRun.id)
    ).all()


def monitors_of(session: Session, version_id: int) -> Sequence[Monitor]:
    return session.scalars(select(Monitor).where(Monitor.model_version_id == version_id)).all()


def alerts_of_period(
    session: Session, *, version_id: int, run_ids: Sequence[int], start: datetime, end: datetime
) -> Sequence[Alert]:
    """Alerts raised by the period's runs, and alerts open at any time in the period."""
    return session.scalars(
        select(Alert)
        .where(Alert.model_version_id == version_id)
        .where(
            Alert.first_run_id.in_(run_ids)
            | Alert.last_run_id.in_(run_ids)
            | (
                (Alert.opened_at < end)
                & (Alert.resolved_at.is_(None) | (Alert.resolved_at >= start))
            )
        )
        .order_by(Alert.opened_at, Alert.id)
    ).all()


def events_since(session: Session, *, project_id: int, start: datetime) -> Sequence[AuditEvent]:
    """The project's chain from its first event at or after ``start`` to its head."""
    return session.scalars(
        select(AuditEvent)
        .where(AuditEvent.project_id == project_id)
        .where(
            AuditEvent.seq
            >= select(AuditEvent.seq)
            .where(AuditEvent.project_id == project_id, AuditEvent.occurred_at >= start)
            .order_by(AuditEvent.seq)
            .limit(1)
            .scalar_subquery()
        )
        .order_by(AuditEvent.seq)
    ).all()
