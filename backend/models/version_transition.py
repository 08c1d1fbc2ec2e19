from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend import clock
from backend.models.base import Base, UTCDateTime


class VersionTransition(Base):
    """One step of a version's lifecycle: who moved it, as which person, and why. An
    approval is the transition to ``approved``; a rollback is marked as one."""

    __tablename__ = "version_transition"
    __table_args__ = (Index("ix_version_transition_version", "model_version_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    from_stage: Mapped[str] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(300))
    key_id: Mapped[int | None] = mapped_column(Integer)
    person: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    rollout_mode: Mapped[str | None] = mapped_column(String(20))
    traffic_share: Mapped[float | None] = mapped_column(Float)
    gate_evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("gate_evaluation.id"))
    rollback: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
