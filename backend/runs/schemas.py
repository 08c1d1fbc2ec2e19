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


class BackfillOutcome(BaseModel):
    windows: int
    created: int
    existing: int
    runs: list[CheckRunSummary]


class CheckRunPage(BaseModel):
    items: list[CheckRunSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")
    next_before_id: int | None = Field(
        description="Deprecated: the old paging parameter's value; use next_cursor.",
        json_schema_extra={"deprecated": True},
    )
