from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class AuditEventRead(BaseModel):
    seq: int
    actor: str
    action: str
    subject: str
    occurred_at: datetime
    payload_sha256: str
    prev_hash: str
    hash: str
    payload: Any | None


class AuditPage(BaseModel):
    items: list[AuditEventRead]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")
    next_after_seq: int | None = Field(
        default=None,
        description="Deprecated: the old paging parameter's value; use next_cursor.",
        json_schema_extra={"deprecated": True},
    )
    next_before_seq: int | None = Field(
        default=None,
        description="Deprecated: the old paging parameter's value; use next_cursor.",
        json_schema_extra={"deprecated": True},
    )


class VerifyRead(BaseModel):
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    reason: str | None
    payloads_checked: int
    payloads_missing: int = Field(
        description="Payloads gone, each within a range a retention purge event recorded."
    )
    predictions_checked: int
    labels_checked: int
    runs_checked: int
    alerts_checked: int
    checkpoint_seq: int | None = Field(
        description="The newest signed checkpoint the chain was checked against."
    )


class CheckpointRead(BaseModel):
    """A signed checkpoint, as published to witnesses and handed back to verify."""

    type: str
    project_id: int
    seq: int
    hash: str
    signed_at: str
    public_key: str
    signature: str


class CheckpointIn(BaseModel):
    """A signed checkpoint as published (``CheckpointRead``)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["verity.audit.checkpoint.v1"]
    project_id: int = Field(ge=1, le=2**31 - 1)
    seq: int = Field(ge=1, le=2**31 - 1)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    signed_at: AwareDatetime
    public_key: str = Field(min_length=1, max_length=100)
    signature: str = Field(min_length=1, max_length=200)


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoints: list[CheckpointIn] = Field(
        default_factory=list,
        max_length=1000,
        description="Checkpoints kept outside Verity (a witness's copies): the chain must "
        "still hold each one, and each must be signed by a trusted key.",
    )
