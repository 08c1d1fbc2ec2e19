from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend import clock
from backend.models.base import Base, BigId, UTCDateTime


class IngestBatch(Base):
    """One stored batch of predictions or labels. Each row names the batch that wrote
    it; the batch's audit event carries the Merkle root of those rows. The id exists
    before the rows are inserted, and the chain's lock is taken only at the end."""

    __tablename__ = "ingest_batch"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    kind: Mapped[str] = mapped_column(String(20))  # "predictions" | "labels"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
