from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CheckRunSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    monitor_id: int
    trigger: str
    window_start: datetime
    window_end: datetime
    status: str
    rows: int
    labeled_rows: int
    reference_rows: int
    device: str
    duration_s: float
    finished_at: datetime
    error: str | None


class CheckRunRead(CheckRunSummary):
    """A run with its lineage and result."""

    rows_in_window: int
    window_sha256: str
    reference_sha256: str | None
    reference_source: str
    sampling: dict[str, Any] | None
    detector_kind: str
    detector_version: str
    params: dict[str, Any]
    library_versions: dict[str, str]
    artifact_sha256: str | None
    started_at: datetime
    compute_seconds: float
    compute_cost: float
    record_sha256: str
    result: dict[str, Any] | None


class RunOutcome(BaseModel):
    created: bool
    run: CheckRunRead


class JobRead(BaseModel):
    """Queued work and how far it got: a backfill runs its windows in order, and each
    window's run is stored as it finishes."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    monitor_id: int
    state: str = Field(description="queued, running, done or failed.")
    windows: list[datetime] = Field(description="The end of each window, in run order.")
    windows_done: int
    runs_created: int
    runs_existing: int = Field(description="Windows that had their run already.")
    run_ids: list[int]
    errors: list[dict[str, Any]] = Field(description="Windows whose run could not be stored.")
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class CheckRunPage(BaseModel):
    items: list[CheckRunSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")
    next_before_id: int | None = Field(
        description="Deprecated: the old paging parameter's value; use next_cursor.",
        json_schema_extra={"deprecated": True},
    )
