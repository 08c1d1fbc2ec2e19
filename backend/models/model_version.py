from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend import clock
from backend.models.base import Base, JsonValue, UTCDateTime


class ModelVersion(Base):
    __tablename__ = "model_version"
    __table_args__ = (UniqueConstraint("model_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    version: Mapped[str] = mapped_column(String(100))
    # [{"name", "dtype": "numeric"|"categorical", "sensitive", "categories"}], in the
    # order the artifact expects its input columns.
    features: Mapped[list[dict[str, Any]]] = mapped_column(JsonValue)
    class_labels: Mapped[list[Any] | None] = mapped_column(JsonValue)
    positive_class: Mapped[Any | None] = mapped_column(JsonValue)
    prediction_column: Mapped[str] = mapped_column(String(200), default="prediction")
    score_column: Mapped[str] = mapped_column(String(200), default="score")
    label_column: Mapped[str] = mapped_column(String(200), default="label")
    cost_profile: Mapped[dict[str, Any]] = mapped_column(JsonValue, default=dict)
    # The metric levels the version promises (EU AI Act Art. 15's "declared levels").
    declared_metrics: Mapped[dict[str, float]] = mapped_column(JsonValue, default=dict)
    # Lifecycle (governance): registered → candidate → approved → production → retired,
    # or rejected; a production version's share of traffic (below 1 during a canary).
    stage: Mapped[str] = mapped_column(String(20), default="registered")
    traffic_share: Mapped[float | None] = mapped_column(Float)
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    artifact_path: Mapped[str | None] = mapped_column(String(500))
    artifact_size: Mapped[int | None] = mapped_column(BigInteger)
    artifact_uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
