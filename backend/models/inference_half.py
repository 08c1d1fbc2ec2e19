from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, BigId, JsonValue, UTCDateTime


class InferenceHalf(Base):
    """One half of an inference (the request or the response event of a KServe /
    MLServer CloudEvents logger) waiting for its partner with the same ``ce-id``.
    Joined halves are deleted; halves whose partner never comes are marked expired
    and reported."""

    __tablename__ = "inference_half"
    __table_args__ = (
        UniqueConstraint("project_id", "model_version_id", "ce_id", "half"),
        Index("ix_inference_half_state_received", "state", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    ce_id: Mapped[str] = mapped_column(String(200))
    half: Mapped[str] = mapped_column(String(16))  # "request" | "response"
    ce_type: Mapped[str] = mapped_column(String(200))
    ce_source: Mapped[str] = mapped_column(String(500))
    ce_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    body: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | expired | failed
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
