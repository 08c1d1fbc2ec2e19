from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

State = Literal["active", "tripped", "stopped"]


class ServingRead(BaseModel):
    model: str
    version: str
    state: State
    reason: str
    changed_by: str | None
    person: str | None
    alert_id: int | None
    revision: int = Field(description="Grows with each change; the ETag is derived from it.")
    changed_at: datetime | None


class ServingWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: State
    person: Annotated[str, Field(min_length=1, max_length=200)]
    reason: Annotated[str, Field(min_length=1, max_length=5000)]


class LocalReport(BaseModel):
    """What a model server's SDK reports: its local breaker opening or closing, or the
    control plane being unreachable, with its counters."""

    model_config = ConfigDict(extra="forbid")

    event: Literal["breaker_open", "breaker_half_open", "breaker_closed", "poll_failures"]
    detail: Annotated[str, Field(max_length=2000)] = ""
    counts: dict[Annotated[str, Field(max_length=100)], int] = Field(
        default_factory=dict, max_length=50
    )
    instance: Annotated[str, Field(max_length=200)] = ""


Classification = Literal[
    "unclassified", "serious_incident", "death", "widespread_or_critical_infrastructure",
    "not_reportable",
]  # fmt: skip
IncidentStatus = Literal["open", "investigating", "reported", "closed"]


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, Field(min_length=1, max_length=100)]
    version: Annotated[str, Field(min_length=1, max_length=100)]
    title: Annotated[str, Field(min_length=1, max_length=300)]
    severity: Literal["low", "medium", "high", "critical"] = "high"
    classification: Classification = "unclassified"
    aware_at: datetime | None = Field(
        default=None, description="When the team became aware; now when omitted."
    )
    alert_ids: list[int] = Field(default_factory=list, max_length=100)
    note: Annotated[str, Field(max_length=5000)] = ""


class Classify(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classification: Classification
    reason: Annotated[str, Field(min_length=1, max_length=5000)]


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: IncidentStatus
    note: Annotated[str, Field(min_length=1, max_length=5000)]


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=5000)]


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str
    text: str
    run_id: int | None
    data: dict[str, object]


class IncidentRead(BaseModel):
    id: int
    model: str
    version: str
    title: str
    severity: str
    classification: Classification
    status: IncidentStatus
    aware_at: datetime
    deadline_at: datetime | None = Field(
        description="Art. 73: 15 days after awareness for a serious incident, 10 after a "
        "death, 2 for a widespread infringement or critical-infrastructure disruption."
    )
    seconds_left: float | None
    overdue: bool
    opened_by: str
    created_at: datetime
    timeline: list[TimelineEntry]


class IncidentPage(BaseModel):
    items: list[IncidentRead]
    next_cursor: str | None
