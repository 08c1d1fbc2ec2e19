"""What a window read asks for, what it returns, and the SQL both databases' readers
share: the window's conditions, the label join, and the ids cut into chunks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, String, Text, and_, cast, func, literal, select, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from backend.models import Label, ModelVersion, Prediction
from detectors.base import ColumnKind, ColumnSpec


@dataclass(frozen=True)
class WindowQuery:
    version: ModelVersion
    specs: tuple[ColumnSpec, ...]
    start: datetime
    end: datetime
    outputs: bool
    labels: bool
    # Float columns of the prediction row: latency_ms, compute_seconds, score; and
    # label_delay, seconds from the prediction to its label's arrival.
    floats: tuple[str, ...] = ()
    # The multiclass probabilities (a JSON object per row).
    probabilities: bool = False

    @property
    def joins_labels(self) -> bool:
        return self.labels or LABEL_DELAY in self.floats

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


def dialect(session: Session | Connection) -> str:
    return (
        session.dialect.name if isinstance(session, Connection) else session.get_bind().dialect.name
    )


def json_text(column: Any) -> ColumnElement[str]:
    return type_coerce(column, String)


def in_window(query: WindowQuery) -> list[ColumnElement[bool]]:
    return [
        Prediction.model_version_id == query.version.id,
        Prediction.occurred_at >= query.start,
        Prediction.occurred_at < query.end,
    ]


def label_join() -> ColumnElement[bool]:
    return and_(Label.project_id == Prediction.project_id, Label.event_id == Prediction.event_id)


def id_chunks(
    session: Session | Connection, query: WindowQuery, chunk_rows: int
) -> list[tuple[np.ndarray, list[ColumnElement[bool]]]]:
    """The window's ids in ascending order, cut into chunks of consecutive ids, each
    with the conditions that select exactly its rows."""
    conditions = in_window(query)
    if dialect(session) == "postgresql":
        listing: Any = func.string_agg(cast(Prediction.id, Text), literal(","))
    else:
        listing = type_coerce(func.group_concat(Prediction.id), String)
    listed = session.execute(select(listing).where(*conditions)).scalar_one()
    ids = np.sort(np.array(listed.split(","), dtype=np.int64)) if listed else np.empty(0, np.int64)
    return [
        (chunk, [*conditions, Prediction.id.between(int(chunk[0]), int(chunk[-1]))])
        for chunk in np.split(ids, range(chunk_rows, len(ids), chunk_rows))
        if len(chunk)
    ]


def float_names(query: WindowQuery) -> list[str]:
    return list(query.floats)


LABEL_DELAY = "label_delay"


def float_column(name: str, dialect_name: str) -> ColumnElement[Any]:
    """A float column of the window: a prediction column, or the label's delay."""
    if name != LABEL_DELAY:
        column: ColumnElement[Any] = getattr(Prediction, name)
        return column
    if dialect_name == "postgresql":
        return func.extract("epoch", Label.received_at - Prediction.occurred_at)
    # SQLite stores both as ISO text; julianday reads it to ~10 microseconds.
    return (func.julianday(Label.received_at) - func.julianday(Prediction.occurred_at)) * 86400.0


def empty(query: WindowQuery) -> RawColumns:
    empty_object = np.empty(0, dtype=object)
    values = dict.fromkeys(query.categorical, empty_object)
    if query.outputs:
        values["prediction"] = empty_object
    if query.labels:
        values["label"] = empty_object
    if query.probabilities:
        values["probabilities"] = empty_object
    return RawColumns(
        event_ids=empty_object,
        numeric={n: np.empty(0) for n in query.numeric},
        values=values,
        floats={n: np.empty(0) for n in float_names(query)},
    )
