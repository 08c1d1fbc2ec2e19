"""SQLite (3.40: no JSON parse cache, no COPY): each chunk of ids is read as one
``group_concat`` string per column. The features come as each row's JSON text, which
Arrow's JSON reader parses (``features_json``). Where Arrow cannot type a column, a
multi-path ``json_extract`` picks the features out instead: the JSON-array text of the
numeric features, brackets trimmed, is a CSV line holding each number exactly as it
was logged. REAL columns, which SQLite cannot print exactly, come row by row in a
narrow query."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    String,
    case,
    cast,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from backend.models import Label, Prediction
from backend.runs.windows.decode import decode_json, decode_rows, floats, read_csv
from backend.runs.windows.features_json import parse_features
from backend.runs.windows.query import (
    LABEL_DELAY,
    RawColumns,
    WindowQuery,
    empty,
    float_column,
    id_chunks,
    json_text,
    label_join,
)

# Keeps each group_concat string far below SQLite's 1 GB limit on a value.
SQLITE_CHUNK_ROWS = 200_000


def _sqlite_path(name: str) -> str | None:
    # SQLite's quoted path label ends at the next double quote; it has no escape.
    return None if '"' in name else f'$."{name}"'


def _json_array(paths: list[str]) -> ColumnElement[str]:
    # One path would return the bare value, not a JSON array: ask for it twice.
    paths = paths * 2 if len(paths) == 1 else paths
    return type_coerce(func.json_extract(json_text(Prediction.features), *paths), String)


def _lines(value: str | None) -> list[str]:
    return value.split("\n") if value else []


def fetch_sqlite(session: Session, query: WindowQuery) -> RawColumns:
    """The window in chunks of consecutive ids, each chunk read as a handful of
    ``group_concat`` strings (one per column) and, for the REAL columns SQLite cannot
    print exactly, one narrow row-wise query."""
    chunks = []
    as_json = True
    for ids, bounded in id_chunks(session, query, SQLITE_CHUNK_ROWS):
        chunk, as_json = _sqlite_chunk(session, query, bounded, ids, as_json)
        chunks.append(chunk)
    chunks = chunks or [empty(query)]
    return RawColumns(
        event_ids=np.concatenate([c.event_ids for c in chunks]),
        numeric={n: np.concatenate([c.numeric[n] for c in chunks]) for n in chunks[0].numeric},
        values={n: np.concatenate([c.values[n] for c in chunks]) for n in chunks[0].values},
        floats={n: np.concatenate([c.floats[n] for c in chunks]) for n in chunks[0].floats},
    )


def _sqlite_chunk(
    session: Session,
    query: WindowQuery,
    bounded: list[ColumnElement[bool]],
    ids: np.ndarray,
    as_json: bool,
) -> tuple[RawColumns, bool]:
    """One chunk of the window. With ``as_json``, its features come as each row's
    JSON text for Arrow to parse (``features_json``); a chunk whose features Arrow
    cannot type reads them with ``json_extract``, and so do the chunks after it (the
    second value returned is whether the next chunk should try Arrow)."""
    wants_features = bool(query.numeric or query.categorical)
    newline = literal("\n")
    columns: list[ColumnElement[Any]] = [
        func.group_concat(Prediction.id),
        func.group_concat(Prediction.event_id, newline),
    ]
    if wants_features and as_json:
        # As a BLOB: bytes for Arrow, with no UTF-8 decoding to str and back.
        objects = func.group_concat(json_text(Prediction.features), newline)
        columns.append(cast(objects, LargeBinary))
    outputs = {"prediction": Prediction.prediction} if query.outputs else {}
    if query.probabilities:
        outputs["probabilities"] = Prediction.probabilities
    if query.labels:
        outputs["label"] = Label.label
    for value in outputs.values():
        columns.append(func.group_concat(_exactjson_text(value), newline))
    statement = select(
        *[c if isinstance(c.type, LargeBinary) else type_coerce(c, String) for c in columns]
    ).where(*bounded)
    if "label" in outputs:
        statement = statement.outerjoin(Label, label_join())
    texts = list(session.execute(statement).one())
    # group_concat's order is the scan's: every column shares it, the ids give it.
    order = np.argsort(np.array(texts.pop(0).split(","), dtype=np.int64), kind="stable")
    event_ids = np.array(_lines(texts.pop(0)), dtype=object)[order]
    raw = RawColumns(event_ids=event_ids, numeric={}, values={}, floats={})
    if wants_features:
        parsed = (
            parse_features(texts.pop(0), len(ids), query.numeric, query.categorical)
            if as_json
            else None
        )
        if parsed is not None:
            features = {name: values[order] for name, values in parsed.items()}
        else:
            as_json = False
            features = _extracted_features(session, query, bounded, ids)
        for name, values in features.items():
            (raw.numeric if name in query.numeric else raw.values)[name] = values
    row_by_row = []
    for name in outputs:
        lines = np.array(_lines(texts.pop(0)), dtype=object)
        if (lines == REAL_MARK).any():
            row_by_row.append(name)
        else:
            lines[lines == ""] = None
            raw.values[name] = decode_json(lines)[order]
    _sqlite_row_by_row(session, query, bounded, ids, raw, row_by_row)
    return raw, as_json


def _extracted_features(
    session: Session, query: WindowQuery, bounded: list[ColumnElement[bool]], ids: np.ndarray
) -> dict[str, np.ndarray]:
    """The chunk's features picked out by SQLite's ``json_extract``, in id order:
    for feature values Arrow cannot type a column of."""
    numeric = query.numeric
    categorical = query.categorical
    unaddressable = [n for n in numeric + categorical if _sqlite_path(n) is None]
    numeric_paths = [n for n in numeric if n not in unaddressable]
    category_paths = [n for n in categorical if n not in unaddressable]
    newline = literal("\n")
    columns: list[ColumnElement[Any]] = [func.group_concat(Prediction.id)]
    if numeric_paths:
        # The array's text, brackets trimmed, is a CSV line of the numbers as logged.
        array = _json_array([_sqlite_path(n) or "" for n in numeric_paths])
        columns.append(func.group_concat(func.rtrim(func.ltrim(array, "["), "]"), newline))
    if category_paths:
        columns.append(
            func.group_concat(_json_array([_sqlite_path(n) or "" for n in category_paths]), newline)
        )
    if unaddressable:
        columns.append(func.group_concat(json_text(Prediction.features), newline))
    statement = select(*[type_coerce(c, String) for c in columns]).where(*bounded)
    texts = list(session.execute(statement).one())
    row_ids = np.array(texts.pop(0).split(","), dtype=np.int64)
    order = np.argsort(row_ids, kind="stable")
    if not np.array_equal(row_ids[order], ids):
        raise RuntimeError("the window's rows changed while it was read")
    out: dict[str, np.ndarray] = {}
    if numeric_paths:
        names = [f"n{i}" for i in range(max(len(numeric_paths), 2))]
        table = read_csv(
            texts.pop(0).encode(),
            names,
            dict.fromkeys(names, pa.float64()),
            null_values=["null"],
        )
        for i, name in enumerate(numeric_paths):
            out[name] = floats(table.column(f"n{i}"))[order]
    if category_paths:
        arrays = decode_rows(_lines(texts.pop(0)), len(category_paths))
        for name, values in zip(category_paths, arrays, strict=False):
            out[name] = values[order]
    if unaddressable:
        decoded = [json.loads(line) for line in _lines(texts.pop(0))]
        for name in unaddressable:
            values = np.array([row.get(name) for row in decoded] + [None], dtype=object)[:-1]
            if name in numeric:
                out[name] = np.array(
                    [np.nan if v is None else v for v in values[order]], dtype=np.float64
                )
            else:
                out[name] = values[order]
    return out


# group_concat would print a REAL inexactly: such values are marked and read row by row.
REAL_MARK = "~"


def _exactjson_text(value: Any) -> ColumnElement[str]:
    """A JSON column's text for group_concat: '' for NULL, REAL_MARK for a REAL
    (SQLite's numeric affinity turned the number's text into one)."""
    return func.coalesce(
        case((func.typeof(value) == "real", literal(REAL_MARK)), else_=json_text(value)), ""
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
        columns[name] = float_column(name, "sqlite")
    sources = {
        "prediction": Prediction.prediction,
        "label": Label.label,
        "probabilities": Prediction.probabilities,
    }
    for name in json_columns:
        columns[name] = json_text(sources[name])
    if len(columns) == 1:
        return
    statement = select(*columns.values()).where(*bounded)
    if "label" in json_columns or LABEL_DELAY in query.floats:
        statement = statement.outerjoin(Label, label_join())
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
