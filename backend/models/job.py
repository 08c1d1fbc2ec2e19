from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend import clock
from backend.models.base import Base, JsonValue, UTCDateTime


class Job(Base):
    """Queued work an API request asked for and a scheduler does: today a backfill of a
    monitor's scheduled windows. Progress is stored after each window, so a job whose
    scheduler dies resumes where it stopped once its lease expires."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_claim", "state", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitor.id"), index=True)
    # queued → running → done | failed
    state: Mapped[str] = mapped_column(String(20))
    # The windows' end times (ISO 8601), in order; the job runs them by index.
    windows: Mapped[list[str]] = mapped_column(JsonValue)
    windows_done: Mapped[int] = mapped_column(Integer, default=0)
    runs_created: Mapped[int] = mapped_column(Integer, default=0)
    runs_existing: Mapped[int] = mapped_column(Integer, default=0)
    run_ids: Mapped[list[int]] = mapped_column(JsonValue)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JsonValue)
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
