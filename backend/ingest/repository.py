from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

import orjson
from sqlalchemy import Row, Select, String, and_, bindparam, delete, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.models import InferenceHalf, IngestBatch, Label, Model, ModelVersion, Prediction

# Stay under SQLite's and psycopg's bound-parameter limits in IN (...) lists.
_IN_CHUNK = 5000


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


_PREDICTION_COLUMNS = (
    "project_id",
    "model_version_id",
    "event_id",
    "occurred_at",
    "received_at",
    "features",
    "prediction",
    "score",
    "probabilities",
    "latency_ms",
    "compute_seconds",
    "tags",
    "ingest_batch_id",
)
_JSON_COLUMNS = frozenset({"features", "prediction", "probabilities", "tags"})
_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS prediction_stage (
    project_id integer, model_version_id integer, event_id varchar(128),
    occurred_at timestamptz, received_at timestamptz, features jsonb, prediction jsonb,
    score double precision, probabilities jsonb, latency_ms double precision,
    compute_seconds double precision, tags jsonb, ingest_batch_id bigint
) ON COMMIT DELETE ROWS
"""


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _features_text(row: dict[str, Any]) -> str:
    # The service serializes features once, for storage and for the row's audit leaf.
    serialized = row.get("features_json")
    return (serialized if serialized is not None else orjson.dumps(row["features"])).decode()


def new_batch(session: Session, *, project_id: int, kind: str) -> int:
    batch = IngestBatch(project_id=project_id, kind=kind)
    session.add(batch)
    session.flush()
    return batch.id


def insert_predictions(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert rows, skipping event_ids the project already has; return those inserted.

    The rows' event_ids are distinct (the service rejects in-batch duplicates).
    """
    if session.get_bind().dialect.name == "postgresql":
        return _insert_predictions_postgresql(session, rows)
    return _insert_predictions_sqlite(session, rows)


def _insert_predictions_sqlite(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """sqlite3's C ``executemany`` on values converted here.

    SQLAlchemy's multi-row INSERT … RETURNING with its per-value bind processors costs
    21 ms of a 1,000-row batch of 25 features, this about 8 ms (measured here). The
    conversions equal SQLAlchemy's own (a test holds them to it).

    Which rows were new: SQLite gives a new INTEGER PRIMARY KEY row the largest id
    plus one, and this transaction holds the write lock (BEGIN IMMEDIATE), so the rows
    above the id watermark taken before the insert are exactly this batch's new ones.
    Only a batch with duplicates needs to read them back.
    """
    if not rows:
        return set()
    table = Prediction.__table__
    watermark = session.scalar(select(func.coalesce(func.max(table.c.id), 0)))
    placeholders = ", ".join("?" for _ in _PREDICTION_COLUMNS)
    connection = session.connection().connection.driver_connection
    before = connection.total_changes  # type: ignore[union-attr]
    cursor = connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(
            f"INSERT INTO prediction ({', '.join(_PREDICTION_COLUMNS)}) VALUES ({placeholders}) "
            "ON CONFLICT (project_id, event_id) DO NOTHING",
            sqlite_prediction_values(rows),
        )
    finally:
        cursor.close()
    if connection.total_changes - before == len(rows):  # type: ignore[union-attr]
        return {row["event_id"] for row in rows}
    return set(session.scalars(select(table.c.event_id).where(table.c.id > watermark)).all())


def sqlite_prediction_values(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as sqlite3 parameters, in ``_PREDICTION_COLUMNS`` order."""
    dumps = orjson.dumps
    stamps: dict[datetime, str] = {}

    def stamp(value: datetime) -> str:
        text = stamps.get(value)
        if text is None:
            text = stamps[value] = _sqlite_timestamp(value)
        return text

    def json_text(value: Any) -> str | None:
        return None if value is None else dumps(value).decode()

    return [
        (
            row["project_id"],
            row["model_version_id"],
            row["event_id"],
            stamp(row["occurred_at"]),
            stamp(row["received_at"]),
            _features_text(row),
            json_text(row["prediction"]),
            row["score"],
            json_text(row["probabilities"]),
            row["latency_ms"],
            row["compute_seconds"],
            json_text(row["tags"]),
            row["ingest_batch_id"],
        )
        for row in rows
    ]


def _sqlite_timestamp(value: datetime) -> str:
    # SQLAlchemy's SQLite DATETIME storage format, of the UTC time (UTCDateTime).
    utc = value.astimezone(UTC) if value.tzinfo is not None else value
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}"
    )


def _insert_predictions_postgresql(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """COPY into a per-connection staging table, then one INSERT … ON CONFLICT.

    A multi-row INSERT with 13 parameters per row spends most of its time binding
    them; COPY streams the rows (measured here: 32 ms instead of 160 ms per 1,000 rows
    of 25 features). The staging table empties itself at commit or rollback.
    """
    columns = ", ".join(_PREDICTION_COLUMNS)
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor:  # type: ignore[union-attr]  # psycopg on this dialect
        cursor.execute(_STAGE_DDL)
        with cursor.copy(f"COPY prediction_stage ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    tuple(
                        _features_text(row)
                        if name == "features"
                        else _json_text(row[name])
                        if name in _JSON_COLUMNS
                        else row[name]
                        for name in _PREDICTION_COLUMNS
                    )
                )
        cursor.execute(
            f"INSERT INTO prediction ({columns}) SELECT {columns} FROM prediction_stage "
            "ON CONFLICT (project_id, event_id) DO NOTHING RETURNING event_id"
        )
        inserted = {event_id for (event_id,) in cursor.fetchall()}
        cursor.execute("TRUNCATE prediction_stage")
    return inserted


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def by_event_ids(
    session: Session, model: Any, columns: Sequence[Any], project_id: int, chunk: Sequence[str]
) -> list[tuple[Any, ...]]:
    """Rows of ``model`` in ``project_id`` whose event_id is in ``chunk``.

    PostgreSQL gets the ids as one array joined through ``unnest``: a prepared
    statement's generic plan for a long ``IN ($1, ..., $n)`` list can scan the whole
    project testing each row against every id (seconds per batch on an unanalysed
    table), while an index lookup per id is always the right plan here."""
    if session.get_bind().dialect.name == "postgresql":
        wanted = (
            func.unnest(bindparam("event_ids", list(chunk), type_=postgresql.ARRAY(String)))
            .table_valued("event_id")
            .render_derived(name="wanted")
        )
        statement = (
            select(*columns)
            .select_from(wanted)
            .join(model, and_(model.project_id == project_id, model.event_id == wanted.c.event_id))
        )
    else:
        statement = select(*columns).where(
            model.project_id == project_id, model.event_id.in_(chunk)
        )
    return [tuple(row) for row in session.execute(statement).tuples()]


def prediction_versions(
    session: Session, *, project_id: int, event_ids: Sequence[str]
) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(event_ids):
        found.update(
            by_event_ids(
                session,
                Prediction,
                (Prediction.event_id, Prediction.model_version_id),
                project_id,
                chunk,
            )
        )
    return found


def versions_with_models(
    session: Session, version_ids: Iterable[int]
) -> list[tuple[Model, ModelVersion]]:
    ids = sorted(set(version_ids))
    if not ids:
        return []
    rows = session.execute(
        select(Model, ModelVersion)
        .join(ModelVersion, ModelVersion.model_id == Model.id)
        .where(ModelVersion.id.in_(ids))
    ).all()
    return [(model, version) for model, version in rows]


def existing_labels(
    session: Session, *, project_id: int, event_ids: Sequence[str]
) -> dict[str, tuple[Any, datetime, int | None]]:
    """(label, received_at, ingest_batch_id) of the labels already stored."""
    columns = (Label.event_id, Label.label, Label.received_at, Label.ingest_batch_id)
    found: dict[str, tuple[Any, datetime, int | None]] = {}
    for chunk in _chunks(event_ids):
        for event_id, label, received_at, batch_id in by_event_ids(
            session, Label, columns, project_id, chunk
        ):
            found[event_id] = (label, received_at, batch_id)
    return found


def upsert_labels(session: Session, rows: list[dict[str, Any]]) -> None:
    """A label sent again replaces the stored one and moves it to the new batch; it
    keeps the time it was first received."""
    statement = _insert(session, Label)
    statement = statement.on_conflict_do_update(
        index_elements=["project_id", "event_id"],
        set_={
            "label": statement.excluded.label,
            "occurred_at": statement.excluded.occurred_at,
            "updated_at": statement.excluded.updated_at,
            "ingest_batch_id": statement.excluded.ingest_batch_id,
        },
    )
    session.execute(statement, rows)


LABEL_LEAF_COLUMNS = (
    Label.event_id,
    Label.label,
    Label.occurred_at,
    Label.received_at,
    Label.updated_at,
    Label.ingest_batch_id,
)
PREDICTION_LEAF_COLUMNS = (
    Prediction.event_id,
    Prediction.model_version_id,
    Prediction.occurred_at,
    Prediction.received_at,
    Prediction.features,
    Prediction.prediction,
    Prediction.score,
    Prediction.probabilities,
    Prediction.latency_ms,
    Prediction.compute_seconds,
    Prediction.tags,
    Prediction.ingest_batch_id,
)


def batch_rows(
    session: Session, model: Any, *, project_id: int, batch_ids: Collection[int]
) -> list[dict[str, Any]]:
    """The rows of ``model`` (Prediction or Label) that these batches wrote, with the
    columns their Merkle leaves cover."""
    columns = PREDICTION_LEAF_COLUMNS if model is Prediction else LABEL_LEAF_COLUMNS
    rows = session.execute(
        select(*columns).where(
            model.project_id == project_id, model.ingest_batch_id.in_(sorted(batch_ids))
        )
    ).mappings()
    return [dict(row) for row in rows]


def _prediction_query(project_id: int) -> Select[Any]:
    return (
        select(
            Prediction,
            Model.name,
            ModelVersion.version,
            Label.label,
            Label.received_at,
            ModelVersion.features,
        )
        .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
        .join(Model, Model.id == ModelVersion.model_id)
        .outerjoin(
            Label,
            and_(Label.project_id == Prediction.project_id, Label.event_id == Prediction.event_id),
        )
        .where(Prediction.project_id == project_id)
    )


def find_prediction(session: Session, *, project_id: int, event_id: str) -> Row[Any] | None:
    return session.execute(
        _prediction_query(project_id).where(Prediction.event_id == event_id)
    ).one_or_none()


def page_predictions(
    session: Session,
    *,
    project_id: int,
    model: str | None,
    version: str | None,
    start: datetime | None,
    end: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """Newest first, keyset-paged on (occurred_at, id)."""
    statement = _prediction_query(project_id)
    if model is not None:
        statement = statement.where(Model.name == model)
    if version is not None:
        statement = statement.where(ModelVersion.version == version)
    if start is not None:
        statement = statement.where(Prediction.occurred_at >= start)
    if end is not None:
        statement = statement.where(Prediction.occurred_at < end)
    if after is not None:
        occurred_at, row_id = after
        statement = statement.where(
            or_(
                Prediction.occurred_at < occurred_at,
                and_(Prediction.occurred_at == occurred_at, Prediction.id < row_id),
            )
        )
    statement = statement.order_by(Prediction.occurred_at.desc(), Prediction.id.desc()).limit(limit)
    return session.execute(statement).all()


Bucket = Literal["hour", "day"]


def _bucket(session: Session, bucket: Bucket) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc(bucket, Prediction.occurred_at)
    # SQLite stores UTC as 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
    return func.substr(Prediction.occurred_at, 1, 13 if bucket == "hour" else 10)


def volume_rows(
    session: Session, *, model_id: int, start: datetime, end: datetime, bucket: Bucket
) -> list[tuple[str, Any, int, int, float | None]]:
    """(version, bucket start, predictions, labelled, mean latency) per version and
    bucket, in bucket order; the bucket start as the database gives it."""
    slot = _bucket(session, bucket).label("slot")
    rows = session.execute(
        select(
            ModelVersion.version,
            slot,
            func.count(Prediction.id),
            func.count(Label.id),
            func.avg(Prediction.latency_ms),
        )
        .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
        .outerjoin(
            Label,
            and_(Label.project_id == Prediction.project_id, Label.event_id == Prediction.event_id),
        )
        .where(
            ModelVersion.model_id == model_id,
            Prediction.occurred_at >= start,
            Prediction.occurred_at < end,
        )
        .group_by(ModelVersion.version, slot)
        .order_by(slot, ModelVersion.version)
    ).all()
    return [(v, at, int(n), int(labeled), latency) for v, at, n, labeled, latency in rows]


# --- CloudEvents pairing: a request and a response half wait for each other ---------


def expire_halves(
    session: Session, *, project_id: int, received_before: datetime, now: datetime
) -> int:
    result = session.execute(
        update(InferenceHalf)
        .where(
            InferenceHalf.project_id == project_id,
            InferenceHalf.state == "pending",
            InferenceHalf.received_at < received_before,
        )
        .values(state="expired", closed_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def pair_lock(session: Session, key: int) -> None:
    """On PostgreSQL, a transaction lock on a 32-bit ``key`` (SQLite serializes
    writers already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": 0x5E1A, "b": key - 2**31}
        )


class PairKey(TypedDict):
    project_id: int
    version_id: int
    ce_id: str


def _half(key: PairKey, half: str) -> list[Any]:
    return [
        InferenceHalf.project_id == key["project_id"],
        InferenceHalf.model_version_id == key["version_id"],
        InferenceHalf.ce_id == key["ce_id"],
        InferenceHalf.half == half,
    ]


def pending_half(session: Session, *, key: PairKey, half: str) -> InferenceHalf | None:
    return session.scalars(
        select(InferenceHalf).where(*_half(key, half), InferenceHalf.state == "pending")
    ).one_or_none()


def has_half(session: Session, *, key: PairKey, half: str) -> bool:
    found = session.scalars(select(InferenceHalf.id).where(*_half(key, half))).first()
    return found is not None


def delete_half(session: Session, half_id: int) -> None:
    session.execute(delete(InferenceHalf).where(InferenceHalf.id == half_id))


def halves(
    session: Session, *, project_id: int, state: str, limit: int
) -> list[tuple[InferenceHalf, str, str]]:
    """Halves in ``state``, newest first, with their model's and version's names."""
    rows = session.execute(
        select(InferenceHalf, Model.name, ModelVersion.version)
        .join(ModelVersion, ModelVersion.id == InferenceHalf.model_version_id)
        .join(Model, Model.id == ModelVersion.model_id)
        .where(InferenceHalf.project_id == project_id, InferenceHalf.state == state)
        .order_by(InferenceHalf.received_at.desc())
        .limit(limit)
    ).all()
    return [(half, model, version) for half, model, version in rows]


def half_counts(session: Session, *, project_id: int) -> dict[str, int]:
    rows = session.execute(
        select(InferenceHalf.state, func.count())
        .where(InferenceHalf.project_id == project_id)
        .group_by(InferenceHalf.state)
    ).all()
    return {state: int(count) for state, count in rows}
