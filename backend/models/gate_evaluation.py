from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend import clock
from backend.models.base import Base, JsonValue, UTCDateTime


class GateEvaluation(Base):
    """A gate policy revision evaluated on a version: each condition with what was
    observed, the run it came from, and why it passed or failed."""

    __tablename__ = "gate_evaluation"
    __table_args__ = (Index("ix_gate_evaluation_version", "model_version_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("gate_policy.id"))
    passed: Mapped[bool] = mapped_column(Boolean)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JsonValue)
    evaluated_by: Mapped[str] = mapped_column(String(300))
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
