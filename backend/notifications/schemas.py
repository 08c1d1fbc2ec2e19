from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.monitors.schemas import Severity


class ChannelCreate(BaseModel):
    """``secret``: a webhook's signing secret (``whsec_`` + base64; generated and
    returned once when left out) or PagerDuty's routing key (required)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["webhook", "slack", "pagerduty"]
    url: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    secret: Annotated[str, Field(min_length=8, max_length=200)] | None = None
    min_severity: Severity = "info"
    enabled: bool = True
    witness: bool = Field(
        default=False,
        description="Webhook only: also receive every signed audit checkpoint, a copy of "
        "the chain's head kept outside Verity (see docs/security.md).",
    )

    @model_validator(mode="after")
    def _needs(self) -> ChannelCreate:
        if self.witness and self.kind != "webhook":
            raise ValueError("only a webhook channel can be a witness")
        if self.kind in ("webhook", "slack") and not self.url:
            raise ValueError(f"a {self.kind} channel needs a url")
        if self.kind == "pagerduty" and not self.secret:
            raise ValueError("a pagerduty channel needs its routing key as secret")
        if self.kind == "slack" and self.secret:
            raise ValueError("a slack incoming webhook takes no secret")
        return self


class ChannelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    url: str
    min_severity: str
    enabled: bool
    witness: bool
    created_at: datetime


class ChannelCreated(ChannelRead):
    signing_secret: str | None = Field(
        description="The webhook signing secret, shown once when Verity generated it."
    )
