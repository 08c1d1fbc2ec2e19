from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend import clock
from backend.models.base import Base, JsonValue, UTCDateTime


class GatePolicy(Base):
    """A model's release gate, versioned: each change is a new revision (audited);
    evaluations name the revision they used."""

    __tablename__ = "gate_policy"
    __table_args__ = (UniqueConstraint("model_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    revision: Mapped[int] = mapped_column(Integer)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JsonValue)
    # An approval needs a passing evaluation at most this old.
    approval_max_age_hours: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
