from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


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
    next_after_seq: int | None
    next_before_seq: int | None = None


class VerifyRead(BaseModel):
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    reason: str | None
    payloads_checked: int
    payloads_missing: int
