from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend import clock
from backend.models.base import Base, JsonValue, UTCDateTime


class ReviewPolicy(Base):
    """Which of a version's predictions go to a human before (or beside) the customer."""

    __tablename__ = "review_policy"
    __table_args__ = (UniqueConstraint("model_version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    max_confidence: Mapped[float | None] = mapped_column(Float)
    sample_rate: Mapped[float] = mapped_column(Float, default=0.0)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    segment: Mapped[dict[str, str] | None] = mapped_column(JsonValue)
    flagged_windows: Mapped[bool] = mapped_column(Boolean, default=False)
    sla_hours: Mapped[float] = mapped_column(Float, default=24.0)
    # Warn (every channel, audited) when the share of overrides among the last
    # decisions passes this.
    max_override_rate: Mapped[float | None] = mapped_column(Float)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class ReviewItem(Base):
    """A prediction queued for a human: claimed with a lease, decided once."""

    __tablename__ = "review_item"
    __table_args__ = (
        UniqueConstraint("project_id", "event_id"),
        Index("ix_review_item_queue", "model_version_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    event_id: Mapped[str] = mapped_column(String(128))
    reasons: Mapped[list[str]] = mapped_column(JsonValue)
    segment: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[str] = mapped_column(String(20), default="pending")
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    claimed_by: Mapped[str | None] = mapped_column(String(300))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision: Mapped[str | None] = mapped_column(String(20))
    label: Mapped[Any] = mapped_column(JsonValue, nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(300))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
