"""The retention job: deletes old prediction payloads, labels, CloudEvents halves,
audit payloads and idempotency replies, in batches of short transactions.

The audit chain is never touched, and it still vouches for everything left: each
deleting transaction appends a ``retention.purge`` event in the same transaction,
recording what it deleted, the new Merkle roots of the ingest batches that lost rows,
and the sequence numbers of the audit payloads it removed. Payloads that anchor
records still stored (ingest batches, runs, alerts, purges) are kept. Each pass ends
with a ``retention.run`` event per project with the counts and cut-offs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from backend import clock, metrics
from backend.audit import service as audit_service
from backend.audit.coverage import ANCHORING_ACTIONS
from backend.config import RetentionSettings
from backend.db import Database
from backend.ingest.repository import by_event_ids
from backend.ingest.service import reanchor
from backend.models import (
    IdempotencyRecord,
    InferenceHalf,
    Label,
    Prediction,
)
from backend.retention import repository

logger = logging.getLogger(__name__)
ACTOR = "verity:retention"


@dataclass
class Purge:
    """What one retention pass deleted: per project and table, and in total."""

    now: datetime
    by_project: dict[int, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    idempotency_records: int = 0

    def add(self, project_id: int, table: str, count: int) -> None:
        if count:
            self.by_project[project_id][table] += count
            metrics.retention_deleted_rows.labels(table).inc(count)

    def totals(self) -> dict[str, int]:
        summed: dict[str, int] = defaultdict(int)
        for tables in self.by_project.values():
            for table, count in tables.items():
                summed[table] += count
        summed["idempotency_record"] = self.idempotency_records
        return dict(summed)


def protected_windows(database: Database) -> dict[int, list[tuple[datetime, datetime]]]:
    """Per model version, the time ranges a monitor still needs: its reference
    window, and a fixed window it has not run yet."""
    ranges: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    with database.transaction(read_only=True) as session:
        for monitor in repository.monitors(session):
            if monitor.reference_start is not None and monitor.reference_end is not None:
                ranges[monitor.model_version_id].append(
                    (monitor.reference_start, monitor.reference_end)
                )
            pending_fixed = monitor.window_seconds is None and monitor.next_run_at is not None
            if pending_fixed and monitor.window_start is not None and monitor.window_end:
                ranges[monitor.model_version_id].append((monitor.window_start, monitor.window_end))
    return ranges


def _drain(database: Database, key: InstrumentedAttribute[int], chosen: Select[tuple[int]]) -> int:
    """Deletes the rows whose ``key`` is ``chosen`` (a batch-sized ``LIMIT`` query), a
    batch per transaction, until none is left; the number deleted."""
    total = 0
    while True:
        with database.transaction() as session:
            deleted = repository.delete_chosen(session, key, chosen)
        total += deleted
        if deleted == 0:
            return total


def _delete_predictions(
    database: Database, chosen: Select[tuple[int]], project_id: int, purge: Purge
) -> None:
    """Deletes the chosen predictions with their labels, a batch per transaction. Each
    transaction also audits what it deleted, with the new Merkle roots of the ingest
    batches that lost rows, so the chain still vouches for every row left."""
    while True:
        with database.transaction() as session:
            batch = repository.predictions_chosen(session, chosen)
            if not batch:
                return
            labels = by_event_ids(
                session,
                Label,
                [Label.id, Label.ingest_batch_id],
                project_id,
                [event_id for _, event_id, _ in batch],
            )
            if labels:
                repository.delete_labels(session, [row[0] for row in labels])
            repository.delete_predictions(session, [id_ for id_, _, _ in batch])
            _audit_purge(
                session,
                project_id,
                {"prediction": len(batch), "label": len(labels)},
                predictions={b for _, _, b in batch if b is not None},
                labels={b for _, b in labels if b is not None},
            )
        # Counted once committed.
        purge.add(project_id, "prediction", len(batch))
        purge.add(project_id, "label", len(labels))


def _audit_purge(
    session: Session,
    project_id: int,
    deleted: dict[str, int],
    *,
    predictions: Collection[int] = (),
    labels: Collection[int] = (),
    audit_payloads: list[list[int]] | None = None,
) -> None:
    payload: dict[str, Any] = {"deleted": deleted}
    reanchored = {
        "predictions": reanchor(session, Prediction, project_id=project_id, batch_ids=predictions),
        "labels": reanchor(session, Label, project_id=project_id, batch_ids=labels),
    }
    if any(reanchored.values()):
        payload["reanchored"] = reanchored
    if audit_payloads:
        payload["audit_payloads"] = audit_payloads
    audit_service.append(
        session,
        project_id=project_id,
        actor=ACTOR,
        action="retention.purge",
        subject=f"project:{project_id}",
        payload=payload,
    )


def _delete_orphaned_labels(
    database: Database, chosen: Select[tuple[int]], project_id: int, purge: Purge
) -> None:
    while True:
        with database.transaction() as session:
            rows = repository.labels_chosen(session, chosen)
            if not rows:
                return
            repository.delete_labels(session, [id_ for id_, _ in rows])
            _audit_purge(
                session,
                project_id,
                {"label": len(rows)},
                labels={b for _, b in rows if b is not None},
            )
        purge.add(project_id, "label", len(rows))


def _purge_predictions(
    database: Database,
    settings: RetentionSettings,
    cutoff: datetime,
    projects: Sequence[int],
    purge: Purge,
) -> None:
    keep = protected_windows(database)
    with database.transaction(read_only=True) as session:
        versions = repository.versions_of(session, projects)
    batch = settings.batch_rows
    for version_id, project_id in versions:
        chosen = repository.old_predictions_query(
            version_id, cutoff, keep.get(version_id, []), batch
        )
        _delete_predictions(database, chosen, project_id, purge)
        halves = repository.old_halves_query(version_id, cutoff, batch)
        purge.add(project_id, "inference_half", _drain(database, InferenceHalf.id, halves))
    for project_id in projects:
        orphaned = repository.orphaned_labels_query(project_id, cutoff, batch)
        _delete_orphaned_labels(database, orphaned, project_id, purge)


def _purge_audit_payloads(
    database: Database,
    settings: RetentionSettings,
    cutoff: datetime,
    projects: Sequence[int],
    purge: Purge,
) -> None:
    """Deletes old payloads, except those that anchor records still stored (ingest
    batches, runs, alerts, purges). Each transaction audits the seqs it removed, so
    verification tells a payload removed by retention from one deleted by hand."""
    for project_id in projects:
        while True:
            with database.transaction() as session:
                rows = repository.old_audit_payloads(
                    session,
                    project_id=project_id,
                    cutoff=cutoff,
                    keep_actions=ANCHORING_ACTIONS,
                    limit=settings.batch_rows,
                )
                if not rows:
                    break
                repository.delete_audit_payloads(session, [id_ for id_, _ in rows])
                _audit_purge(
                    session,
                    project_id,
                    {"audit_payload": len(rows)},
                    audit_payloads=seq_ranges(seq for _, seq in rows),
                )
            purge.add(project_id, "audit_payload", len(rows))


def seq_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """[[first, last], …] covering exactly the given sequence numbers."""
    ranges: list[list[int]] = []
    for seq in sorted(seqs):
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def run_retention(
    database: Database,
    settings: RetentionSettings,
    *,
    now: datetime | None = None,
    projects: Collection[int] | None = None,
) -> Purge:
    """One pass over every project (or the ``projects`` given)."""
    now = now or clock.now()
    purge = Purge(now)
    with database.transaction(read_only=True) as session:
        chosen = repository.project_ids(session, projects)
    cutoffs: dict[str, str] = {}
    if settings.prediction_days is not None:
        cutoff = now - timedelta(days=settings.prediction_days)
        cutoffs["predictions_before"] = cutoff.isoformat()
        _purge_predictions(database, settings, cutoff, chosen, purge)
    if settings.audit_payload_days is not None:
        cutoff = now - timedelta(days=settings.audit_payload_days)
        cutoffs["audit_payloads_before"] = cutoff.isoformat()
        _purge_audit_payloads(database, settings, cutoff, chosen, purge)
    replies = repository.old_idempotency_query(
        chosen, now - timedelta(days=settings.idempotency_days), settings.batch_rows
    )
    purge.idempotency_records = _drain(database, IdempotencyRecord.id, replies)
    metrics.retention_deleted_rows.labels("idempotency_record").inc(purge.idempotency_records)
    for project_id, tables in purge.by_project.items():
        with database.transaction() as session:
            # The pass as a whole; each deletion was audited in its own transaction.
            audit_service.append(
                session,
                project_id=project_id,
                actor=ACTOR,
                action="retention.run",
                subject=f"project:{project_id}",
                payload={"deleted": dict(sorted(tables.items())), **cutoffs},
            )
    logger.info("retention deleted %s", purge.totals())
    return purge
