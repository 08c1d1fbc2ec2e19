from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, BigId, UTCDateTime


class AuditCheckpoint(Base):
    """A signed statement "project P's chain had head seq N with hash H at time T".
    Verification checks the chain still holds it: a truncated or rewritten tail
    fails. Published to witness channels, a copy outside the database proves it even
    when the checkpoints here are deleted too."""

    __tablename__ = "audit_checkpoint"
    __table_args__ = (UniqueConstraint("project_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    seq: Mapped[int] = mapped_column()
    hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Ed25519 over the checkpoint's canonical JSON; base64 of the raw key and signature.
    public_key: Mapped[str] = mapped_column(String(100))
    signature: Mapped[str] = mapped_column(String(200))
