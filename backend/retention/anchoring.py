"""Records stored before the audit chain vouched for each one (Verity 0.1: predictions
and labels with no ingest batch, alerts whose transitions carried no digest) are
anchored once, when the database is upgraded: in batches, each batch's rows get an
ingest batch and a ``records.anchor`` audit event carrying their Merkle root, and
every alert's digest goes into one more such event. From then on ``verify`` holds
these records to the same standard as new ones.

It lives with retention, the layer that may touch every record kind.
"""

from __future__ import annotations

import logging

from backend.audit import service as audit_service
from backend.audit.records import alert_sha256
from backend.db import Database
from backend.ingest import repository as ingest_repository
from backend.ingest.service import reanchor
from backend.models import Label, Prediction
from backend.retention import repository

logger = logging.getLogger(__name__)
ACTOR = "verity:upgrade"
BATCH_ROWS = 10_000


def anchor_legacy(database: Database, *, alerts: bool) -> dict[str, int]:
    """Anchors every prediction and label without an ingest batch, and (``alerts``)
    every alert; counts of what was anchored."""
    counts = {"predictions": 0, "labels": 0, "alerts": 0}
    with database.transaction(read_only=True) as session:
        projects = repository.project_ids(session, None)
    for project_id in projects:
        for model, kind in ((Prediction, "predictions"), (Label, "labels")):
            counts[kind] += _anchor_rows(database, project_id, model, kind)
        if alerts:
            counts["alerts"] += _anchor_alerts(database, project_id)
    if any(counts.values()):
        logger.info("anchored legacy records %s", counts)
    return counts


def _anchor_rows(
    database: Database, project_id: int, model: type[Prediction] | type[Label], kind: str
) -> int:
    total = 0
    while True:
        with database.transaction() as session:
            ids = repository.unanchored_ids(session, model, project_id=project_id, limit=BATCH_ROWS)
            if not ids:
                return total
            batch_id = ingest_repository.new_batch(session, project_id=project_id, kind=kind)
            repository.set_ingest_batch(session, model, ids, batch_id)
            anchor = reanchor(session, model, project_id=project_id, batch_ids={batch_id})
            audit_service.append(
                session,
                project_id=project_id,
                actor=ACTOR,
                action="records.anchor",
                subject=f"{kind}",
                payload={"kind": kind, "batch": {"id": batch_id, **anchor[str(batch_id)]}},
            )
        total += len(ids)


def _anchor_alerts(database: Database, project_id: int) -> int:
    with database.transaction() as session:
        found = repository.alerts_of(session, project_id)
        if not found:
            return 0
        audit_service.append(
            session,
            project_id=project_id,
            actor=ACTOR,
            action="records.anchor",
            subject="alerts",
            payload={"alert_records": {str(a.id): alert_sha256(a) for a in found}},
        )
        return len(found)
