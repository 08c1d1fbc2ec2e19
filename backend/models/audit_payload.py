from __future__ import annotations

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, BigId


class AuditPayload(Base):
    """An audit event's payload, kept apart so retention can delete it without
    breaking the chain (the chain holds only its SHA-256)."""

    __tablename__ = "audit_payload"

    audit_event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("audit_event.id"), primary_key=True
    )
    # The canonical JSON text exactly as hashed.
    body: Mapped[str] = mapped_column(Text)
