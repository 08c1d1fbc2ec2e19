"""The checkpoint job: sign the head of every chain that grew, and queue each signed
checkpoint to the project's witness webhooks in the same transaction."""

from __future__ import annotations

from backend.audit import keys
from backend.audit import service as audit_service
from backend.config import Settings
from backend.db import Database
from backend.notifications import outbox


def checkpoint_and_publish(database: Database, settings: Settings) -> int:
    """The number of checkpoints written."""
    key = keys.signing_key(settings)
    with database.transaction() as session:
        written = audit_service.write_checkpoints(session, key=key)
        for checkpoint in written:
            outbox.enqueue_checkpoint(session, checkpoint)
    return len(written)
