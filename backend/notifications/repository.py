"""Every SQL statement of the notifications domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Notification, NotificationChannel


def channel_by_name(session: Session, *, project_id: int, name: str) -> NotificationChannel | None:
    return session.scalars(
        select(NotificationChannel).where(
            NotificationChannel.project_id == project_id, NotificationChannel.name == name
        )
    ).one_or_none()


def get_channel(
    session: Session, *, project_id: int, channel_id: int
) -> NotificationChannel | None:
    return session.scalars(
        select(NotificationChannel).where(
            NotificationChannel.id == channel_id, NotificationChannel.project_id == project_id
        )
    ).one_or_none()


def channels(session: Session, *, project_id: int) -> Sequence[NotificationChannel]:
    return session.scalars(
        select(NotificationChannel)
        .where(NotificationChannel.project_id == project_id)
        .order_by(NotificationChannel.id)
    ).all()


def enabled_channels(
    session: Session, *, project_id: int, witness_only: bool = False
) -> Sequence[NotificationChannel]:
    query = select(NotificationChannel).where(
        NotificationChannel.project_id == project_id, NotificationChannel.enabled.is_(True)
    )
    if witness_only:
        query = query.where(NotificationChannel.witness.is_(True))
    return session.scalars(query).all()


def due(
    session: Session, *, now: datetime, limit: int, skip_locked: bool
) -> Sequence[Notification]:
    """Pending notifications whose next attempt is due, oldest first; with
    ``skip_locked`` (PostgreSQL), rows another deliverer holds are passed over."""
    query = (
        select(Notification)
        .where(Notification.state == "pending", Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).all()
