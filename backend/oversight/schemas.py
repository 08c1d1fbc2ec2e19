from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

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


Short = Annotated[str, Field(max_length=200)]


class ReviewPolicyWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    max_confidence: float | None = Field(
        default=None, gt=0, le=1,
        description="Queue a prediction whose confidence (binary: max(score, 1 − score); "
        "multiclass: the top-2 probability margin) is below this.",
    )  # fmt: skip
    sample_rate: float = Field(default=0.0, ge=0, le=1, description="A seeded random share.")
    seed: int = 0
    segment: dict[Short, Short] | None = Field(
        default=None,
        max_length=5,
        description="Queue predictions whose features hold these values.",
    )
    flagged_windows: bool = Field(
        default=False,
        description="Queue every prediction while a drift or data-quality alert is open.",
    )
    sla_hours: float = Field(default=24, gt=0, le=24 * 30)
    max_override_rate: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Warn every channel (and audit it) when more than this share of the "
        f"last {50} decisions (at least 20) overrode the model.",
    )


class ReviewPolicyRead(ReviewPolicyWrite):
    model: str
    version: str
    revision: int
    updated_by: str
    updated_at: datetime


class ReviewItemRead(BaseModel):
    id: int
    model: str
    version: str
    event_id: str
    reasons: list[str]
    segment: str
    state: Literal["pending", "claimed", "decided"]
    queued_at: datetime
    claimed_by: str | None
    lease_expires_at: datetime | None
    features: dict[str, object]
    prediction: object
    score: float | None
    probabilities: dict[str, float] | None
    decision: str | None
    label: object
    decision_reason: str | None
    decided_by: str | None
    decided_at: datetime | None


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, Field(min_length=1, max_length=100)]
    version: Annotated[str, Field(min_length=1, max_length=100)]
    lease_seconds: int = Field(default=600, ge=10, le=86_400)


class DecisionWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["agree", "override"]
    label: Any = Field(default=None, description="Override only: the right answer.")
    reason: Annotated[str, Field(min_length=1, max_length=5000)]


class QueueHealth(BaseModel):
    model: str
    version: str
    pending: int
    claimed: int
    decided: int
    oldest_pending_seconds: float | None
    sla_hours: float | None
    sla_breaches: int
    override_rate: float | None
    override_rate_by_segment: dict[str, float]
