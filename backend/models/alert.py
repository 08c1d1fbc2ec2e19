from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from backend import clock
from backend.models.base import Base, JsonValue, UTCDateTime


class Alert(Base):
    """A problem a monitor found, open until a later run clears it or someone
    resolves it. One unresolved alert per monitor and cause."""

    __tablename__ = "alert"
    __table_args__ = (
        Index(
            "uq_alert_unresolved_cause",
            "monitor_id",
            "cause",
            unique=True,
            sqlite_where=text("state != 'resolved'"),
            postgresql_where=text("state != 'resolved'"),
        ),
        Index("ix_alert_project_state", "project_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitor.id"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    cause: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="open")
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    first_run_id: Mapped[int] = mapped_column(ForeignKey("check_run.id"))
    last_run_id: Mapped[int] = mapped_column(ForeignKey("check_run.id"))
    run_count: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledge_comment: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolve_comment: Mapped[str | None] = mapped_column(Text)
