from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend import clock
from backend.models.base import Base, JsonValue, UTCDateTime


class Notification(Base):
    """One alert transition, or one signed audit checkpoint, to deliver to one channel
    (an outbox row, written in the transaction that made it)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channel.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id"))
    event: Mapped[str] = mapped_column(String(20))
    # Standard Webhooks' webhook-id: the same for every attempt of this notification.
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationAttempt(Base):
    """Every delivery attempt, kept."""

    __tablename__ = "notification_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column()
