from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, BigId, JsonValue, UTCDateTime


class Label(Base):
    """Ground truth, joined to its prediction by event_id whenever either arrives."""

    __tablename__ = "label"
    __table_args__ = (
        UniqueConstraint("project_id", "event_id"),
        Index("ix_label_project_batch", "project_id", "ingest_batch_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    event_id: Mapped[str] = mapped_column(String(128))
    label: Mapped[Any] = mapped_column(JsonValue)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The batch that last wrote this row; its audit event vouches for it.
    ingest_batch_id: Mapped[int | None] = mapped_column(BigId)
