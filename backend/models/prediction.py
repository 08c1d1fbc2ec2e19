from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, BigId, JsonValue, UTCDateTime


class Prediction(Base):
    __tablename__ = "prediction"
    __table_args__ = (
        # The dedup key: an event is stored once per project, however often it is sent.
        UniqueConstraint("project_id", "event_id"),
        Index("ix_prediction_version_time", "model_version_id", "occurred_at"),
        Index("ix_prediction_project_batch", "project_id", "ingest_batch_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    event_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    features: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    prediction: Mapped[Any] = mapped_column(JsonValue)
    score: Mapped[float | None] = mapped_column(Float)
    probabilities: Mapped[dict[str, float] | None] = mapped_column(JsonValue)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    compute_seconds: Mapped[float | None] = mapped_column(Float)
    tags: Mapped[dict[str, str] | None] = mapped_column(JsonValue)
    # The batch whose audit event vouches for this row (its Merkle root).
    ingest_batch_id: Mapped[int | None] = mapped_column(BigId)
