from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.runs.schemas import CheckRunSummary

State = Literal["open", "acknowledged", "resolved"]


class AlertRead(BaseModel):
    id: int
    model: str
    version: str
    monitor_id: int
    monitor: str
    kind: str
    cause: str
    severity: str
    state: State
    message: str
    details: dict[str, Any]
    first_run_id: int
    last_run_id: int
    run_count: int
    opened_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledge_comment: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolve_comment: str | None


class AlertAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(min_length=1, max_length=2000)


class AlertPage(BaseModel):
    items: list[AlertRead]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")
    next_after_id: int | None = Field(
        description="Deprecated: the old paging parameter's value; use next_cursor.",
        json_schema_extra={"deprecated": True},
    )


class MonitorStatus(BaseModel):
    id: int
    name: str
    kind: str
    version: str
    enabled: bool
    next_run_at: datetime | None
    latest_run: CheckRunSummary | None
    open_alerts: int


class VersionStage(BaseModel):
    version: str
    stage: str = Field(description="registered, candidate, approved, production, retired, rejected")
    traffic_share: float | None


class ModelStatus(BaseModel):
    model: str
    versions: list[VersionStage]
    monitors: list[MonitorStatus]
    open_alerts: list[AlertRead]
