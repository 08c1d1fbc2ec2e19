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
