"""Hooks a higher domain registers with a lower one, installed once at start-up by
every entry point (``create_app``, the CLI, the scheduler), so that no lower domain
imports a higher one (docs/architecture.md)."""

from __future__ import annotations

from backend.alerts import service as alerts_service
from backend.audit import service as audit_service
from backend.ingest import service as ingest_service
from backend.oversight import review as oversight_review
from backend.oversight import service as oversight_service
from backend.runs import execute
from backend.runs.lineage import record_sha256


def install() -> None:
    """Idempotent: each hook is set, not appended."""
    audit_service.register_run_digest(record_sha256)
    execute.register_alerts(alerts_service)
    execute.register_tripper(oversight_service.trip_from_alerts)
    ingest_service.register_stored_hook(oversight_review.select_at_ingest)
