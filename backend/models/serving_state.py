from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend import clock
from backend.models.base import Base, UTCDateTime


class ServingState(Base):
    """Whether a version serves: ``active``, ``tripped`` (its traffic goes to the
    fallback) or ``stopped``. No row is ``active``. ``revision`` grows with each change:
    it is the ETag model servers poll with."""

    __tablename__ = "serving_state"
    __table_args__ = (UniqueConstraint("model_version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(300))
    person: Mapped[str | None] = mapped_column(String(200))
    alert_id: Mapped[int | None] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
