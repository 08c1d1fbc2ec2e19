from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, JsonValue, UTCDateTime


class CheckRun(Base):
    """One run of a monitor over one window, with everything needed to reproduce it."""

    __tablename__ = "check_run"
    __table_args__ = (
        # A rerun of the same window is refused, so nothing is counted twice.
        UniqueConstraint("monitor_id", "window_end"),
        Index("ix_check_run_project_time", "project_id", "finished_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitor.id"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    trigger: Mapped[str] = mapped_column(String(20))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(30))
    rows: Mapped[int] = mapped_column(BigInteger)
    rows_in_window: Mapped[int] = mapped_column(BigInteger)
    labeled_rows: Mapped[int] = mapped_column(BigInteger)
    reference_rows: Mapped[int] = mapped_column(BigInteger)
    # Lineage.
    window_sha256: Mapped[str] = mapped_column(String(64))
    reference_sha256: Mapped[str | None] = mapped_column(String(64))
    reference_source: Mapped[str] = mapped_column(String(200))
    sampling: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    detector_kind: Mapped[str] = mapped_column(String(40))
    detector_version: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    library_versions: Mapped[dict[str, str]] = mapped_column(JsonValue)
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_s: Mapped[float] = mapped_column(Float)
    # Verity's own cost of the check: seconds spent on the device, and their price.
    compute_seconds: Mapped[float] = mapped_column(Float)
    compute_cost: Mapped[float] = mapped_column(Float)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    error: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of the canonical record (lineage + status + result), also written to the
    # audit chain: an edit of the stored run is caught by audit verify.
    record_sha256: Mapped[str] = mapped_column(String(64))
