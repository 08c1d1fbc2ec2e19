from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend import clock
from backend.models.base import Base, UTCDateTime


class NotificationChannel(Base):
    """Where alert transitions are sent: a signed webhook, Slack or PagerDuty."""

    __tablename__ = "notification_channel"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(2000))
    # The webhook signing secret (whsec_…) or PagerDuty's routing key. It must be
    # readable to sign or route, so it is stored as given and never returned by the API.
    secret: Mapped[str | None] = mapped_column(String(200))
    min_severity: Mapped[str] = mapped_column(String(20), default="info")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # A witness webhook also receives every signed audit checkpoint: a copy of the
    # chain's head outside this database, so a truncated chain is caught.
    witness: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
