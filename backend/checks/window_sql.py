"""Columnar reads of a window of predictions: one array per column, not one Python
object per value.

A 1M-row window of 25 features is 25M values; turning each into a Python object and
then into a DataFrame costs far more than the detectors themselves. So:

* PostgreSQL streams the window out with ``COPY (SELECT ...) TO STDOUT`` as CSV, and
  Arrow's multi-threaded CSV reader parses it straight into typed arrays.
* SQLite (3.40: no JSON parse cache, no COPY) reads each chunk of ids as one
  ``group_concat`` string per column. A multi-path ``json_extract`` parses a row's
  JSON once; the JSON-array text of its numeric features, brackets trimmed, is a CSV
  line holding each number exactly as it was logged, and Arrow parses those lines.
  REAL columns, which SQLite cannot print exactly, come row by row in a narrow query.

Categorical features, the prediction and the label arrive as JSON text and are
decoded once per distinct value.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import ColumnElement, String, and_, cast, func, literal, select, type_coerce
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from backend.models import Label, ModelVersion, Prediction
from detectors.base import ColumnKind, ColumnSpec

# Keeps each group_concat string far below SQLite's 1 GB limit on a value.
SQLITE_CHUNK_ROWS = 200_000


@dataclass(frozen=True)
class WindowQuery:
    version: ModelVersion
    specs: tuple[ColumnSpec, ...]
    start: datetime
    end: datetime
    outputs: bool
    labels: bool
    cost_columns: bool

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


def fetch(session: Session, query: WindowQuery) -> RawColumns:
    if session.get_bind().dialect.name == "postgresql":
        return _fetch_postgresql(session, query)
    return _fetch_sqlite(session, query)


def decode_json(texts: np.ndarray) -> np.ndarray:
    """JSON texts (None for SQL NULL) decoded once per distinct text."""
    codes, uniques = pd.factorize(texts, use_na_sentinel=True)
    # SQLite's JSON columns have numeric affinity: a number's text is stored as the
    # number itself, already decoded.
    decoded = np.array(
        [json.loads(text) if isinstance(text, str) else text for text in uniques] + [None],
        dtype=object,
    )
    return decoded[codes]


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


def _float_names(query: WindowQuery) -> list[str]:
    names = ["score"] if query.outputs else []
    if query.cost_columns:
        names += ["latency_ms", "compute_seconds"]
    return names


# --- PostgreSQL ---------------------------------------------------------------------


def _fetch_postgresql(session: Session, query: WindowQuery) -> RawColumns:
    """``COPY (SELECT ...) TO STDOUT`` as CSV, parsed by Arrow into typed arrays."""
    features = Prediction.features
    numeric = query.numeric
    categorical = query.categorical
    columns: list[ColumnElement[Any]] = [Prediction.event_id.label("event_id")]
    columns += [features.op("->>")(literal(n)).label(f"n{i}") for i, n in enumerate(numeric)]
    columns += [
        cast(features.op("->")(literal(n)), String).label(f"c{i}")
        for i, n in enumerate(categorical)
    ]
    text_columns = [f"c{i}" for i in range(len(categorical))]
    if query.outputs:
        columns += [
            cast(Prediction.prediction, String).label("prediction"),
            Prediction.score.label("score"),
        ]
        text_columns.append("prediction")
    if query.cost_columns:
        columns += [
            Prediction.latency_ms.label("latency_ms"),
            Prediction.compute_seconds.label("compute_seconds"),
        ]
    if query.labels:
        columns.append(cast(Label.label, String).label("label"))
        text_columns.append("label")
    statement = select(*columns).where(*_in_window(query))
    if query.labels:
        statement = statement.outerjoin(Label, _label_join())
    sql = str(
        statement.order_by(Prediction.id).compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
    )
    buffer = io.BytesIO()
    driver = session.connection().connection.driver_connection
    # FORCE_QUOTE: a quoted "" is text, an unquoted empty field is SQL NULL.
    copy_sql = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)"
    with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:  # type: ignore[union-attr]
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    names = [c.name for c in statement.selected_columns]
    types = {n: pa.string() for n in names}
    for name in [f"n{i}" for i in range(len(numeric))] + _float_names(query):
        types[name] = pa.float64()
    table = _read_csv(buffer, names, types, null_values=[""])
    values = {n: decode_json(_strings(table.column(f"c{i}"))) for i, n in enumerate(categorical)}
    for name in ("prediction", "label"):
        if name in text_columns:
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
    in_window = _in_window(query)
    listed = session.execute(
        select(type_coerce(func.group_concat(Prediction.id), String)).where(*in_window)
    ).scalar_one()
    ids = np.sort(np.array(listed.split(","), dtype=np.int64)) if listed else np.empty(0, np.int64)
    chunks = [
        _sqlite_chunk(session, query, [*in_window, Prediction.id.between(int(c[0]), int(c[-1]))], c)
        for c in np.split(ids, range(SQLITE_CHUNK_ROWS, len(ids), SQLITE_CHUNK_ROWS))
        if len(c)
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
    texts = list(
        session.execute(select(*[type_coerce(c, String) for c in columns]).where(*bounded)).one()
    )
    # group_concat's order is the scan's: every column shares it, the ids give it.
    order = np.argsort(np.array(texts.pop(0).split(","), dtype=np.int64), kind="stable")
    event_ids = np.array(_lines(texts.pop(0)), dtype=object)[order]
    raw = RawColumns(event_ids=event_ids, numeric={}, values={}, floats={})
    if numeric_paths:
        names = [f"n{i}" for i in range(max(len(numeric_paths), 2))]
        table = _read_csv(
            io.BytesIO(texts.pop(0).encode()),
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
    _sqlite_typed_columns(session, query, bounded, ids, raw)
    return raw


def _sqlite_typed_columns(
    session: Session,
    query: WindowQuery,
    bounded: list[ColumnElement[bool]],
    ids: np.ndarray,
    raw: RawColumns,
) -> None:
    """Outputs, labels and REAL columns row by row: printing a REAL as text in SQLite
    (printf, quote, group_concat) does not always give back the same double."""
    columns: list[Any] = [Prediction.id]
    names: list[str] = []
    if query.outputs:
        columns += [_json_text(Prediction.prediction), Prediction.score]
        names += ["prediction", "score"]
    if query.cost_columns:
        columns += [Prediction.latency_ms, Prediction.compute_seconds]
        names += ["latency_ms", "compute_seconds"]
    if query.labels:
        columns.append(_json_text(Label.label))
        names.append("label")
    if not names:
        return
    statement = select(*columns).where(*bounded)
    if query.labels:
        statement = statement.outerjoin(Label, _label_join())
    result = session.connection().execute(statement)
    # The driver's rows as they are: SQLAlchemy's per-row processing costs more than
    # the query.
    rows = result.cursor.fetchall()
    result.close()
    transposed = list(zip(*rows, strict=True)) if rows else [()] * (len(names) + 1)
    row_ids = np.array(transposed[0], dtype=np.int64)
    order = np.argsort(row_ids, kind="stable")
    if not np.array_equal(row_ids[order], ids):
        raise RuntimeError("the window's rows changed while it was read")
    for name, values in zip(names, transposed[1:], strict=True):
        if name in ("prediction", "label"):
            raw.values[name] = decode_json(np.array(values, dtype=object))[order]
        else:
            raw.floats[name] = np.array(values, dtype=np.float64)[order]


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
    source: io.BytesIO, names: list[str], types: dict[str, pa.DataType], null_values: list[str]
) -> pa.Table:
    if not source.getbuffer().nbytes:
        return pa.table({n: pa.array([], type=types[n]) for n in names})
    return pacsv.read_csv(
        source,
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
