from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend import clock
from backend.models.base import Base, JsonValue, UTCDateTime


class Monitor(Base):
    """A scheduled check of one model version: what to run, on which window, against
    which reference, how often, and how loud its alerts are."""

    __tablename__ = "monitor"
    __table_args__ = (
        UniqueConstraint("model_version_id", "name"),
        Index("ix_monitor_due", "enabled", "next_run_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    # Window: a trailing duration ending at each scheduled time, or a fixed range.
    window_seconds: Mapped[int | None] = mapped_column(Integer)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A trailing window may end this long before its scheduled time: realized
    # performance waits for labels that arrive late.
    window_lag_seconds: Mapped[int | None] = mapped_column(Integer)
    min_rows: Mapped[int] = mapped_column(Integer, default=1)
    # A deterministic sampling cap per window, recorded in each run's lineage.
    max_rows: Mapped[int | None] = mapped_column(Integer)
    # Run per segment: the categorical features that define one, and how many of the
    # largest segments get their own result (the rest is one "other" segment).
    segment_by: Mapped[list[str] | None] = mapped_column(JsonValue)
    segment_top_k: Mapped[int | None] = mapped_column(Integer)
    # "critical": an alert this monitor opens trips its version (a human restores it).
    trip_on: Mapped[str | None] = mapped_column(String(20))
    # Reference, pinned: a stored dataset of the version, a past window, or
    # "first_week" (the version's first week of traffic, pinned to that window once
    # complete).
    reference_kind: Mapped[str] = mapped_column(String(20), default="dataset")
    reference_dataset_id: Mapped[int | None] = mapped_column(ForeignKey("reference_dataset.id"))
    reference_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reference_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    schedule_seconds: Mapped[int | None] = mapped_column(Integer)
    cron: Mapped[str | None] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(20), default="warning")
    # The least run status that opens an alert: "alert" or "warning".
    alert_on: Mapped[str] = mapped_column(String(20), default="alert")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A scheduler's claim on the next run; expires so a killed scheduler's run is retried.
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
