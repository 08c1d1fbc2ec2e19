"""Columnar reads of a window of predictions: one array per column, not one Python
object per value.

A 1M-row window of 25 features is 25M values; turning each into a Python object and
then into a DataFrame costs far more than the detectors themselves. So:

* PostgreSQL builds the window's CSV text itself, one long ``string_agg`` value per
  chunk of ids, and Arrow's multi-threaded CSV reader parses it into typed arrays.
* SQLite (3.40: no JSON parse cache, no COPY) reads each chunk of ids as one
  ``group_concat`` string per column. A multi-path ``json_extract`` parses a row's
  JSON once; the JSON-array text of its numeric features, brackets trimmed, is a CSV
  line holding each number exactly as it was logged, and Arrow parses those lines.
  REAL columns, which SQLite cannot print exactly, come row by row in a narrow query.

Categorical features, the prediction and the label arrive as JSON text and are
decoded once per distinct value.
"""

from __future__ import annotations

import contextvars
import io
import json
import queue
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import (
    ColumnElement,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    text,
    type_coerce,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from backend.models import Label, ModelVersion, Prediction
from detectors.base import ColumnKind, ColumnSpec

# Keeps each group_concat string far below SQLite's 1 GB limit on a value.
SQLITE_CHUNK_ROWS = 200_000
# Lines per string_agg value: a few tens of MB of text each.
PG_CHUNK_ROWS = 100_000
# Connections building chunks at once (one server process each).
PG_READERS = 2

T = TypeVar("T")
A = TypeVar("A")


@dataclass(frozen=True)
class WindowQuery:
    version: ModelVersion
    specs: tuple[ColumnSpec, ...]
    start: datetime
    end: datetime
    outputs: bool
    labels: bool
    # Float columns of the prediction row: latency_ms, compute_seconds, score.
    floats: tuple[str, ...] = ()

    @property
    def numeric(self) -> list[str]:
        return [s.name for s in self.specs if s.kind == ColumnKind.NUMERIC]

    @property
    def categorical(self) -> list[str]:
        return [s.name for s in self.specs if s.kind != ColumnKind.NUMERIC]


@dataclass
class RawColumns:
    """The window as arrays in id order: float64 for numeric features and the float
    columns, decoded JSON values (object) for categorical features, prediction and
    label."""

    event_ids: np.ndarray
    numeric: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    floats: dict[str, np.ndarray]


def _dialect(session: Session | Connection) -> str:
    return (
        session.dialect.name if isinstance(session, Connection) else session.get_bind().dialect.name
    )


def fetch(session: Session, query: WindowQuery) -> RawColumns:
    if _dialect(session) == "postgresql":
        return _fetch_postgresql(session, query)
    return _fetch_sqlite(session, query)


def first_prediction_at(session: Session, version_id: int) -> datetime | None:
    found: datetime | None = session.scalar(
        select(func.min(Prediction.occurred_at)).where(Prediction.model_version_id == version_id)
    )
    if found is not None and found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    return found


def has_scores(session: Session, version: ModelVersion, start: datetime, end: datetime) -> bool:
    """Whether any prediction of the window logged a score (one index range scan)."""
    found = session.execute(
        select(Prediction.id)
        .where(
            Prediction.model_version_id == version.id,
            Prediction.occurred_at >= start,
            Prediction.occurred_at < end,
            Prediction.score.is_not(None),
        )
        .limit(1)
    ).first()
    return found is not None


def decode_json(texts: np.ndarray) -> np.ndarray:
    """JSON texts (None for SQL NULL) decoded once per distinct text."""
    codes, uniques = pd.factorize(texts, use_na_sentinel=True)
    # SQLite's JSON columns have numeric affinity: a number's text is stored as the
    # number itself, already decoded.
    decoded = np.array(
        [_loads(text) if isinstance(text, str) else text for text in uniques] + [None],
        dtype=object,
    )
    return decoded[codes]


def _int_or_float(text: str) -> int | float:
    # jsonb prints a large float such as 1.8e308 as an integer literal; past int64 it
    # can only have been a float, and the driver reads it as one.
    value = int(text)
    return value if -(2**63) <= value < 2**63 else float(text)


def _loads(text: str) -> Any:
    return json.loads(text, parse_int=_int_or_float)


def _json_text(column: Any) -> ColumnElement[str]:
    return type_coerce(column, String)


def _in_window(query: WindowQuery) -> list[ColumnElement[bool]]:
    return [
        Prediction.model_version_id == query.version.id,
        Prediction.occurred_at >= query.start,
        Prediction.occurred_at < query.end,
    ]


def _label_join() -> ColumnElement[bool]:
    return and_(Label.project_id == Prediction.project_id, Label.event_id == Prediction.event_id)


def _id_chunks(
    session: Session | Connection, query: WindowQuery, chunk_rows: int
) -> list[tuple[np.ndarray, list[ColumnElement[bool]]]]:
    """The window's ids in ascending order, cut into chunks of consecutive ids, each
    with the conditions that select exactly its rows."""
    in_window = _in_window(query)
    if _dialect(session) == "postgresql":
        listing: Any = func.string_agg(cast(Prediction.id, Text), literal(","))
    else:
        listing = type_coerce(func.group_concat(Prediction.id), String)
    listed = session.execute(select(listing).where(*in_window)).scalar_one()
    ids = np.sort(np.array(listed.split(","), dtype=np.int64)) if listed else np.empty(0, np.int64)
    return [
        (chunk, [*in_window, Prediction.id.between(int(chunk[0]), int(chunk[-1]))])
        for chunk in np.split(ids, range(chunk_rows, len(ids), chunk_rows))
        if len(chunk)
    ]


def _float_names(query: WindowQuery) -> list[str]:
    return list(query.floats)


# --- PostgreSQL ---------------------------------------------------------------------


def _csv_field(value: Any, quoted: bool) -> ColumnElement[str]:
    """A CSV field; SQL NULL is the empty unquoted field. PostgreSQL prints float8
    as the shortest text that reads back as the same double."""
    text: ColumnElement[str] = cast(value, Text)
    if quoted:
        text = literal('"') + func.replace(text, '"', '""') + literal('"')
    return func.coalesce(text, "")


class _SnapshotReaders:
    """Extra connections that see exactly what ``session`` sees (its exported
    snapshot), so that the server builds several chunks at once: turning jsonb into
    text is what a PostgreSQL window read spends its time on."""

    def __init__(self, session: Session, count: int) -> None:
        self.session = session
        self.count = count
        self.connections: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self.opened: list[Connection] = []
        self.pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="window-read")

    def __enter__(self) -> _SnapshotReaders:
        snapshot = self.session.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        engine = self.session.get_bind()
        assert isinstance(engine, Engine)
        for _ in range(self.count):
            connection = engine.connect().execution_options(isolation_level="REPEATABLE READ")
            self.opened.append(connection)
            connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            self.connections.put(connection)
        return self

    def first(self, work: Callable[[Connection], T]) -> T:
        return work(self.opened[0])

    def map(self, work: Callable[[A, Connection], T], items: list[A]) -> Iterator[T]:
        # The caller's context (its trace span, its request id) goes with each item.
        context = contextvars.copy_context()

        def run(item: A) -> T:
            connection = self.connections.get()
            try:
                return context.copy().run(work, item, connection)
            finally:
                self.connections.put(connection)

        return self.pool.map(run, items)

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for connection in self.opened:
            connection.rollback()
            connection.close()


def _fetch_postgresql(session: Session, query: WindowQuery) -> RawColumns:
    """The window as CSV text built by the server, a few long ``string_agg`` values
    of PG_CHUNK_ROWS lines each (not a message per row, which costs psycopg more
    than the query), parsed by Arrow into typed arrays."""
    features = Prediction.features
    numeric = query.numeric
    categorical = query.categorical
    fields: list[tuple[str, Any, bool]] = [("event_id", Prediction.event_id, True)]
    fields += [(f"n{i}", features.op("->>")(literal(n)), False) for i, n in enumerate(numeric)]
    fields += [(f"c{i}", features.op("->")(literal(n)), True) for i, n in enumerate(categorical)]
    if query.outputs:
        fields.append(("prediction", Prediction.prediction, True))
    fields += [(name, getattr(Prediction, name), False) for name in query.floats]
    if query.labels:
        fields.append(("label", Label.label, True))
    line = func.concat_ws(
        ",", Prediction.id, *[_csv_field(value, quoted) for _, value, quoted in fields]
    )
    names = ["id", *[name for name, _, _ in fields]]
    types = {n: pa.string() for n in names}
    types["id"] = pa.int64()
    for name in [f"n{i}" for i in range(len(numeric))] + _float_names(query):
        types[name] = pa.float64()
    tables = []
    with _SnapshotReaders(session, PG_READERS) as readers:
        chunks = readers.first(lambda conn: _id_chunks(conn, query, PG_CHUNK_ROWS))

        def chunk_text(bounded: list[ColumnElement[bool]], conn: Connection) -> str:
            # No ORDER BY: sorting the wide lines would spill to disk; Arrow sorts.
            statement = select(func.string_agg(line, literal("\n"))).where(*bounded)
            if query.labels:
                statement = statement.outerjoin(Label, _label_join())
            return conn.execute(statement).scalar_one() or ""

        texts = readers.map(chunk_text, [bounded for _, bounded in chunks])
        for (ids, _), csv_text in zip(chunks, texts, strict=True):
            chunk = _read_csv(csv_text.encode(), names, types, null_values=[""]).sort_by("id")
            if not np.array_equal(chunk.column("id").to_numpy(), ids):
                raise RuntimeError("the window's rows changed while it was read")
            tables.append(chunk)
    table = (
        pa.concat_tables(tables)
        if tables
        else pa.table({n: pa.array([], type=types[n]) for n in names})
    )
    values = {n: decode_json(_strings(table.column(f"c{i}"))) for i, n in enumerate(categorical)}
    for name in ("prediction", "label"):
        if name in names:
            values[name] = decode_json(_strings(table.column(name)))
    return RawColumns(
        event_ids=_strings(table.column("event_id")),
        numeric={n: _floats(table.column(f"n{i}")) for i, n in enumerate(numeric)},
        values=values,
        floats={n: _floats(table.column(n)) for n in _float_names(query)},
    )


# --- SQLite -------------------------------------------------------------------------


def _sqlite_path(name: str) -> str | None:
    # SQLite's quoted path label ends at the next double quote; it has no escape.
    return None if '"' in name else f'$."{name}"'


def _json_array(paths: list[str]) -> ColumnElement[str]:
    # One path would return the bare value, not a JSON array: ask for it twice.
    paths = paths * 2 if len(paths) == 1 else paths
    return type_coerce(func.json_extract(_json_text(Prediction.features), *paths), String)


def _lines(value: str | None) -> list[str]:
    return value.split("\n") if value else []


def _fetch_sqlite(session: Session, query: WindowQuery) -> RawColumns:
    """The window in chunks of consecutive ids, each chunk read as a handful of
    ``group_concat`` strings (one per column) and, for the REAL columns SQLite cannot
    print exactly, one narrow row-wise query."""
    chunks = [
        _sqlite_chunk(session, query, bounded, ids)
        for ids, bounded in _id_chunks(session, query, SQLITE_CHUNK_ROWS)
    ] or [_empty(query)]
    return RawColumns(
        event_ids=np.concatenate([c.event_ids for c in chunks]),
        numeric={n: np.concatenate([c.numeric[n] for c in chunks]) for n in chunks[0].numeric},
        values={n: np.concatenate([c.values[n] for c in chunks]) for n in chunks[0].values},
        floats={n: np.concatenate([c.floats[n] for c in chunks]) for n in chunks[0].floats},
    )


def _sqlite_chunk(
    session: Session, query: WindowQuery, bounded: list[ColumnElement[bool]], ids: np.ndarray
) -> RawColumns:
    numeric = query.numeric
    categorical = query.categorical
    unaddressable = [n for n in numeric + categorical if _sqlite_path(n) is None]
    numeric_paths = [n for n in numeric if n not in unaddressable]
    category_paths = [n for n in categorical if n not in unaddressable]
    newline = literal("\n")
    columns: list[ColumnElement[Any]] = [
        func.group_concat(Prediction.id),
        func.group_concat(Prediction.event_id, newline),
    ]
    if numeric_paths:
        # The array's text, brackets trimmed, is a CSV line of the numbers as logged.
        array = _json_array([_sqlite_path(n) or "" for n in numeric_paths])
        columns.append(func.group_concat(func.rtrim(func.ltrim(array, "["), "]"), newline))
    if category_paths:
        columns.append(
            func.group_concat(_json_array([_sqlite_path(n) or "" for n in category_paths]), newline)
        )
    if unaddressable:
        columns.append(func.group_concat(_json_text(Prediction.features), newline))
    outputs = {"prediction": Prediction.prediction} if query.outputs else {}
    if query.labels:
        outputs["label"] = Label.label
    for value in outputs.values():
        columns.append(func.group_concat(_exact_json_text(value), newline))
    statement = select(*[type_coerce(c, String) for c in columns]).where(*bounded)
    if query.labels:
        statement = statement.outerjoin(Label, _label_join())
    texts = list(session.execute(statement).one())
    # group_concat's order is the scan's: every column shares it, the ids give it.
    order = np.argsort(np.array(texts.pop(0).split(","), dtype=np.int64), kind="stable")
    event_ids = np.array(_lines(texts.pop(0)), dtype=object)[order]
    raw = RawColumns(event_ids=event_ids, numeric={}, values={}, floats={})
    if numeric_paths:
        names = [f"n{i}" for i in range(max(len(numeric_paths), 2))]
        table = _read_csv(
            texts.pop(0).encode(),
            names,
            dict.fromkeys(names, pa.float64()),
            null_values=["null"],
        )
        for i, name in enumerate(numeric_paths):
            raw.numeric[name] = _floats(table.column(f"n{i}"))[order]
    if category_paths:
        arrays = _decode_rows(_lines(texts.pop(0)), len(category_paths))
        for name, values in zip(category_paths, arrays, strict=False):
            raw.values[name] = values[order]
    if unaddressable:
        decoded = [json.loads(line) for line in _lines(texts.pop(0))]
        for name in unaddressable:
            values = np.array([row.get(name) for row in decoded] + [None], dtype=object)[:-1]
            if name in numeric:
                raw.numeric[name] = np.array(
                    [np.nan if v is None else v for v in values[order]], dtype=np.float64
                )
            else:
                raw.values[name] = values[order]
    row_by_row = []
    for name in outputs:
        lines = np.array(_lines(texts.pop(0)), dtype=object)
        if (lines == REAL_MARK).any():
            row_by_row.append(name)
        else:
            lines[lines == ""] = None
            raw.values[name] = decode_json(lines)[order]
    _sqlite_row_by_row(session, query, bounded, ids, raw, row_by_row)
    return raw


# group_concat would print a REAL inexactly: such values are marked and read row by row.
REAL_MARK = "~"


def _exact_json_text(value: Any) -> ColumnElement[str]:
    """A JSON column's text for group_concat: '' for NULL, REAL_MARK for a REAL
    (SQLite's numeric affinity turned the number's text into one)."""
    return func.coalesce(
        case((func.typeof(value) == "real", literal(REAL_MARK)), else_=_json_text(value)), ""
    )


def _sqlite_row_by_row(
    session: Session,
    query: WindowQuery,
    bounded: list[ColumnElement[bool]],
    ids: np.ndarray,
    raw: RawColumns,
    json_columns: list[str],
) -> None:
    """REAL columns row by row: SQLite prints a REAL as text (printf, quote,
    group_concat) that does not always read back as the same double."""
    columns: dict[str, Any] = {"id": Prediction.id}
    for name in query.floats:
        columns[name] = getattr(Prediction, name)
    for name in json_columns:
        columns[name] = _json_text(Prediction.prediction if name == "prediction" else Label.label)
    if len(columns) == 1:
        return
    statement = select(*columns.values()).where(*bounded)
    if "label" in json_columns:
        statement = statement.outerjoin(Label, _label_join())
    result = session.connection().execute(statement)
    # The driver's rows as they are, converted by numpy in C: SQLAlchemy's per-row
    # processing would cost more than the query.
    rows = result.cursor.fetchall()
    result.close()
    table = np.array(rows, dtype=object if json_columns else np.float64).reshape(
        len(rows), len(columns)
    )
    row_ids = table[:, 0].astype(np.int64)
    order = np.argsort(row_ids, kind="stable")
    if not np.array_equal(row_ids[order], ids):
        raise RuntimeError("the window's rows changed while it was read")
    for at, name in enumerate(columns):
        if name in json_columns:
            raw.values[name] = decode_json(table[order, at])
        elif name != "id":
            raw.floats[name] = table[order, at].astype(np.float64)


def _decode_rows(lines: list[str], width: int) -> list[np.ndarray]:
    """JSON arrays, one per row, decoded once per distinct row: ``width`` object
    arrays of their values."""
    codes, uniques = pd.factorize(np.array(lines, dtype=object))
    decoded = [json.loads(text) for text in uniques]
    return [
        np.array([row[j] for row in decoded] + [None], dtype=object)[:-1][codes]
        for j in range(width)
    ]


def _empty(query: WindowQuery) -> RawColumns:
    empty_object = np.empty(0, dtype=object)
    values = dict.fromkeys(query.categorical, empty_object)
    if query.outputs:
        values["prediction"] = empty_object
    if query.labels:
        values["label"] = empty_object
    return RawColumns(
        event_ids=empty_object,
        numeric={n: np.empty(0) for n in query.numeric},
        values=values,
        floats={n: np.empty(0) for n in _float_names(query)},
    )


# --- Arrow --------------------------------------------------------------------------


def _read_csv(
    data: bytes, names: list[str], types: dict[str, pa.DataType], null_values: list[str]
) -> pa.Table:
    if not data:
        return pa.table({n: pa.array([], type=types[n]) for n in names})
    if not data.endswith(b"\n"):
        # Arrow misreads an empty last field on a last line without its newline.
        data += b"\n"
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            null_values=null_values,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _strings(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
