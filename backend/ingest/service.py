from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from backend import clock
from backend.api import paging
from backend.api.actor import Actor
from backend.audit import records as audit_records
from backend.audit import service as audit_service
from backend.catalog import repository as catalog_repository
from backend.config import LimitSettings
from backend.errors import InvalidInput, NotFound, PayloadTooLarge
from backend.ingest import repository
from backend.ingest.schemas import (
    IngestResult,
    LabelBatch,
    LabelResult,
    PredictionBatch,
    PredictionPage,
    PredictionRead,
)
from backend.ingest.validation import (
    CompiledSchema,
    ErrorList,
    check_features,
    check_label,
    check_record_strings,
    normalize_outputs,
    too_long,
)
from backend.metrics import duplicate_rows, ingested_rows, rejected_rows
from backend.models import Label, Prediction


def _check_batch_size(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise PayloadTooLarge(f"a batch holds at most {limit} {what}; this one has {count}")


@dataclass(frozen=True)
class PreparedPredictions:
    """A validated batch, ready to store, with each row's Merkle leaf (computed here,
    before the write transaction, so SQLite's writer lock is never held for it)."""

    rows: list[dict[str, Any]]
    event_ids: list[str]
    versions: list[str]
    leaves: dict[str, bytes]


def prepare_predictions(
    session: Session,
    *,
    actor: Actor,
    batch: PredictionBatch,
    max_records: int,
    limits: LimitSettings,
) -> PreparedPredictions:
    """Validate a batch against each record's version schema; reads only.

    Raises ``InvalidInput`` naming every bad record and field, so the batch is
    rejected whole before anything is written.
    """
    records = batch.records
    _check_batch_size(len(records), max_records, "records")
    resolved = catalog_repository.find_versions(
        session, project_id=actor.project_id, pairs={(r.model, r.version) for r in records}
    )
    schemas = {
        pair: CompiledSchema.of(model, version) for pair, (model, version) in resolved.items()
    }
    errors = ErrorList()
    first_index: dict[str, int] = {}
    received_at = clock.now()
    rows: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if (seen := first_index.setdefault(record.event_id, index)) != index:
            errors.add(
                index, record.event_id, "event_id", f"duplicates record {seen} of this batch"
            )
        check_record_strings(index, record, limits, errors)
        schema = schemas.get((record.model, record.version))
        if schema is None:
            errors.add(
                index,
                record.event_id,
                "model",
                f"no model '{record.model}' with version '{record.version}' in this project",
            )
            continue
        check_features(index, record, schema, errors, limits.value_chars)
        prediction, probabilities = normalize_outputs(index, record, schema, errors)
        rows.append(
            {
                "project_id": actor.project_id,
                "model_version_id": schema.version_id,
                "event_id": record.event_id,
                "occurred_at": record.occurred_at,
                "received_at": received_at,
                "features": record.features,
                "prediction": prediction,
                "score": record.score,
                "probabilities": probabilities,
                "latency_ms": record.latency_ms,
                "compute_seconds": record.compute_seconds,
                "tags": record.tags,
            }
        )
    if errors.items:
        rejected_rows.labels("prediction").inc(len(records))
        raise InvalidInput(
            f"{len(errors.bad_records)} of {len(records)} records are invalid; "
            "nothing in this batch was stored",
            errors=errors.items,
        )
    received = audit_records.stamp(received_at)
    leaves = {}
    for row in rows:
        # Serialized once: stored as is, and embedded in the row's Merkle leaf.
        row["features_json"] = features = audit_records.features_json(row["features"])
        leaves[row["event_id"]] = audit_records.prediction_leaf(
            row, features=features, received=received
        )
    return PreparedPredictions(
        rows=rows,
        event_ids=[r.event_id for r in records],
        versions=sorted(f"{m}/{v}" for m, v in resolved),
        leaves=leaves,
    )


StoredHook = Callable[[Session, list[dict[str, Any]]], None]
_stored_hooks: list[StoredHook] = []


def register_stored_hook(hook: StoredHook) -> None:
    """Work a higher domain does on newly stored predictions, in their transaction
    (the review queue's selection). Idempotent per hook."""
    if hook not in _stored_hooks:
        _stored_hooks.append(hook)


def store_predictions(
    session: Session, *, actor: Actor, prepared: PreparedPredictions, body_sha256: str
) -> IngestResult:
    """Insert a prepared batch; event_ids already stored are counted, not stored again.
    The audit event carries the Merkle root of the rows stored (``batch``)."""
    batch_id = repository.new_batch(session, project_id=actor.project_id, kind="predictions")
    for row in prepared.rows:
        row["ingest_batch_id"] = batch_id
    inserted = repository.insert_predictions(session, prepared.rows)
    if _stored_hooks and inserted:
        # The review queue selects in this transaction: a prediction is queued once,
        # with its row, or not at all.
        fresh = [row for row in prepared.rows if row["event_id"] in inserted]
        for hook in _stored_hooks:
            hook(session, fresh)
    count, root = audit_records.root_of(
        (event_id, leaf) for event_id, leaf in prepared.leaves.items() if event_id in inserted
    )
    duplicates = [event_id for event_id in prepared.event_ids if event_id not in inserted]
    result = IngestResult(
        received=len(prepared.event_ids),
        stored=len(inserted),
        duplicates=len(duplicates),
        duplicate_event_ids=duplicates,
    )
    audit_service.record(
        session,
        actor,
        "predictions.ingest",
        "predictions",
        {
            "body_sha256": body_sha256,
            "received": result.received,
            "stored": result.stored,
            "duplicates": result.duplicates,
            "versions": prepared.versions,
            "first_event_id": prepared.event_ids[0],
            "last_event_id": prepared.event_ids[-1],
            "batch": {"id": batch_id, "rows": count, "root": root},
        },
    )
    ingested_rows.labels("prediction").inc(result.stored)
    duplicate_rows.labels("prediction").inc(result.duplicates)
    return result


@dataclass(frozen=True)
class PreparedLabels:
    rows: list[dict[str, Any]]
    matched: int


def prepare_labels(
    session: Session, *, actor: Actor, batch: LabelBatch, max_records: int, limits: LimitSettings
) -> PreparedLabels:
    """Validate labels against their predictions' versions where those have arrived."""
    labels = batch.labels
    _check_batch_size(len(labels), max_records, "labels")
    event_ids = [item.event_id for item in labels]
    errors = ErrorList()
    first_index: dict[str, int] = {}
    for index, item in enumerate(labels):
        if (seen := first_index.setdefault(item.event_id, index)) != index:
            errors.add(index, item.event_id, "event_id", f"duplicates label {seen} of this batch")
        if problem := too_long(item.event_id, limits.event_id_chars):
            errors.add(index, item.event_id[:64], "event_id", problem)
        # Pending labels too: their prediction, and so their schema, may never come.
        if problem := too_long(item.label, limits.value_chars):
            errors.add(index, item.event_id, "label", problem)
    version_of = repository.prediction_versions(
        session, project_id=actor.project_id, event_ids=event_ids
    )
    schemas = {
        version.id: CompiledSchema.of(model, version)
        for model, version in repository.versions_with_models(session, version_of.values())
    }
    now = clock.now()
    rows: list[dict[str, Any]] = []
    for index, item in enumerate(labels):
        value: Any = item.label
        version_id = version_of.get(item.event_id)
        if version_id is not None:
            schema = schemas[version_id]
            value, problem = check_label(item.label, schema.task, schema)
            if problem:
                errors.add(index, item.event_id, "label", problem)
        rows.append(
            {
                "project_id": actor.project_id,
                "event_id": item.event_id,
                "label": value,
                "occurred_at": item.occurred_at,
                "received_at": now,
                "updated_at": now,
            }
        )
    if errors.items:
        rejected_rows.labels("label").inc(len(labels))
        raise InvalidInput(
            f"{len(errors.bad_records)} of {len(labels)} labels are invalid; "
            "nothing in this batch was stored",
            errors=errors.items,
        )
    return PreparedLabels(rows=rows, matched=len(version_of))


def store_labels(
    session: Session, *, actor: Actor, prepared: PreparedLabels, body_sha256: str
) -> LabelResult:
    rows = prepared.rows
    before = repository.existing_labels(
        session, project_id=actor.project_id, event_ids=[row["event_id"] for row in rows]
    )
    batch_id = repository.new_batch(session, project_id=actor.project_id, kind="labels")
    for row in rows:
        row["ingest_batch_id"] = batch_id
    repository.upsert_labels(session, rows)
    # A replaced label keeps the time it was first received.
    count, root = audit_records.root_of(
        (
            row["event_id"],
            audit_records.label_leaf(
                {**row, "received_at": before[row["event_id"]][1]}
                if row["event_id"] in before
                else row
            ),
        )
        for row in rows
    )
    # The batches whose labels this one replaced hold fewer rows now: their new roots.
    moved_from = {batch for _, _, batch in before.values() if batch is not None}
    reanchored = reanchor(session, Label, project_id=actor.project_id, batch_ids=moved_from)
    stored = sum(1 for row in rows if row["event_id"] not in before)
    unchanged = sum(
        1
        for row in rows
        if row["event_id"] in before and before[row["event_id"]][0] == row["label"]
    )
    result = LabelResult(
        received=len(rows),
        stored=stored,
        updated=len(rows) - stored - unchanged,
        unchanged=unchanged,
        matched=prepared.matched,
        pending=len(rows) - prepared.matched,
    )
    audit_service.record(
        session,
        actor,
        "labels.ingest",
        "labels",
        {
            "body_sha256": body_sha256,
            **result.model_dump(),
            "batch": {"id": batch_id, "rows": count, "root": root},
            "reanchored": {"labels": reanchored},
        },
    )
    ingested_rows.labels("label").inc(stored)
    return result


def reanchor(
    session: Session, model: type[Prediction] | type[Label], *, project_id: int, batch_ids: Any
) -> dict[str, dict[str, Any]]:
    """The rows and Merkle root of each batch as its rows stand now, for batches that
    lost rows to a later batch or to retention (by batch id, as text)."""
    if not batch_ids:
        return {}
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in repository.batch_rows(session, model, project_id=project_id, batch_ids=batch_ids):
        grouped[row["ingest_batch_id"]].append(row)
    leaf = audit_records.prediction_leaf if model is Prediction else audit_records.label_leaf
    anchors = {}
    for batch_id in sorted(batch_ids):
        count, root = audit_records.root_of(
            (row["event_id"], leaf(row)) for row in grouped[batch_id]
        )
        anchors[str(batch_id)] = {"rows": count, "root": root}
    return anchors


def _read(row: Row[Any]) -> PredictionRead:
    prediction, model_name, version, label, label_received_at, schema = row
    stored = prediction.features
    # In the schema's order: storage orders keys its own way (sorted, or JSONB's).
    features = {f["name"]: stored[f["name"]] for f in schema if f["name"] in stored}
    return PredictionRead(
        event_id=prediction.event_id,
        model=model_name,
        version=version,
        occurred_at=prediction.occurred_at,
        received_at=prediction.received_at,
        features=features,
        prediction=prediction.prediction,
        score=prediction.score,
        probabilities=prediction.probabilities,
        latency_ms=prediction.latency_ms,
        compute_seconds=prediction.compute_seconds,
        tags=prediction.tags,
        label=label,
        label_received_at=label_received_at,
    )


def get_prediction(session: Session, *, actor: Actor, event_id: str) -> PredictionRead:
    row = repository.find_prediction(session, project_id=actor.project_id, event_id=event_id)
    if row is None:
        raise NotFound(f"no prediction with event_id '{event_id}'")
    return _read(row)


def encode_prediction_cursor(occurred_at: datetime, row_id: int) -> str:
    return paging.encode_cursor("predictions", occurred_at.isoformat(), row_id)


def decode_prediction_cursor(cursor: str) -> tuple[datetime, int]:
    stamp, row_id = paging.decode_cursor("predictions", cursor, str, int)
    try:
        return datetime.fromisoformat(stamp), int(row_id)
    except ValueError:
        raise InvalidInput(
            "the cursor is not one this list (predictions) returned",
            errors=[{"field": "cursor", "message": "malformed or from another list"}],
        ) from None


def search_predictions(
    session: Session,
    *,
    actor: Actor,
    model: str | None,
    version: str | None,
    start: datetime | None,
    end: datetime | None,
    cursor: str | None,
    limit: int,
) -> PredictionPage:
    if version is not None and model is None:
        raise InvalidInput(
            "filtering by version needs the model too",
            errors=[{"field": "version", "message": "give model as well"}],
        )
    if start is not None and end is not None and start >= end:
        raise InvalidInput(
            "start must come before end", errors=[{"field": "start", "message": "after end"}]
        )
    rows: Sequence[Row[Any]] = repository.page_predictions(
        session,
        project_id=actor.project_id,
        model=model,
        version=version,
        start=start,
        end=end,
        after=decode_prediction_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    items = [_read(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_prediction_cursor(last.occurred_at, last.id)
    return PredictionPage(items=items, next_cursor=next_cursor)
