"""Windows of logged traffic, and reference data, loaded from SQL for detectors.

Only the columns a detector needs are read, as whole columns (``postgresql``,
``sqlite``), and JSON values are decoded once per distinct value.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from backend.catalog.storage import ArtifactStore
from backend.models import ModelVersion, ReferenceDataset
from backend.runs import repository
from backend.runs.windows.postgresql import fetch_postgresql
from backend.runs.windows.query import LABEL_DELAY, RawColumns, WindowQuery, dialect
from backend.runs.windows.sqlite import fetch_sqlite
from detectors.base import ColumnKind, ColumnSpec, Window

EVENT_ID = "event_id"


def fetch(session: Session, query: WindowQuery) -> RawColumns:
    if dialect(session) == "postgresql":
        return fetch_postgresql(session, query)
    return fetch_sqlite(session, query)


@dataclass(frozen=True)
class Needs:
    """What a detector reads: all features, only the sensitive ones, or none; whether
    it wants labels; and which float columns (``score`` is read only when the window
    logs scores: SQLite hands a REAL column over row by row)."""

    features: str  # "all" | "sensitive" | "none"
    labels: bool
    floats: tuple[str, ...] = ()
    # Multiclass probabilities (read only for a multiclass model).
    probabilities: bool = False
    # Predictions, for a detector that reads features or labels (not data quality,
    # which checks the inputs alone).
    outputs: bool = True


COST_COLUMNS = ("latency_ms", "compute_seconds")
NEEDS = {
    "drift": Needs("all", labels=False, floats=("score",)),
    "bias": Needs("sensitive", labels=True),
    "explain": Needs("all", labels=False),
    "cost": Needs("none", labels=False, floats=COST_COLUMNS),
    "performance": Needs("none", labels=True, floats=("score", LABEL_DELAY), probabilities=True),
    "estimated_performance": Needs("all", labels=True, floats=("score",), probabilities=True),
    "data_quality": Needs("all", labels=False, outputs=False),
    # The champion's window and the challenger's: outputs, labels, sensitive features
    # for the fairness delta, latency and compute for the cost delta.
    "comparison": Needs("sensitive", labels=True, floats=("score", *COST_COLUMNS)),
    # Reviewers' decisions of the window (read by load_review_window), no predictions.
    "review": Needs("none", labels=False),
}
# The column a reference dataset holds each class's probability in: "proba:<class>".
PROBA_PREFIX = "proba:"


def needs_for(kind: str, task: str) -> Needs:
    """What a run of ``kind`` reads for a model of ``task``: CBPE needs no features,
    only DLE's nanny model does."""
    needs = NEEDS[kind]
    if kind == "estimated_performance" and task != "regression":
        return Needs("none", labels=True, floats=needs.floats, probabilities=True)
    return needs


@dataclass(frozen=True)
class LoadedWindow:
    window: Window
    rows_in_window: int
    labeled_rows: int
    sha256: str
    sampling: dict[str, Any] | None


def column_specs(version: ModelVersion) -> tuple[ColumnSpec, ...]:
    return tuple(
        ColumnSpec(
            name=f["name"],
            kind=ColumnKind(f["dtype"]),
            sensitive=bool(f.get("sensitive", False)),
            model_input=bool(f.get("model_input", True)),
            categories=tuple(f["categories"]) if f.get("categories") else None,
            value_range=(float(f["range"][0]), float(f["range"][1])) if f.get("range") else None,
        )
        for f in version.features
    )


def _selected(version: ModelVersion, needs: Needs) -> tuple[ColumnSpec, ...]:
    specs = column_specs(version)
    if needs.features == "all":
        return specs
    if needs.features == "sensitive":
        return tuple(s for s in specs if s.sensitive)
    return ()


def category_text(values: pd.Series) -> pd.Series:
    """Categories as text, as the reference datasets hold them (1, 1.0 and "1" are
    one category), computed once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = np.array([_as_text(u) for u in uniques] + [None], dtype=object)
    return pd.Series(texts[codes], index=values.index, dtype=object)


def _as_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def frame_sha256(frame: pd.DataFrame) -> str:
    """SHA-256 over the column names and pandas' per-row hashes (index included), in
    row order: the same rows give the same digest on any machine."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def load_window(
    session: Session,
    version: ModelVersion,
    start: datetime,
    end: datetime,
    *,
    needs: Needs,
    max_rows: int | None = None,
    sample_seed: int = 0,
    extra: tuple[str, ...] = (),
) -> LoadedWindow:
    """Predictions of ``version`` with ``start <= occurred_at < end`` (labels joined
    by event_id), in id order, indexed by event_id. ``extra`` features (segments) are
    read into the frame without being among the window's columns."""
    specs = _selected(version, needs)
    read_specs = specs + tuple(
        s for s in column_specs(version) if s.name in extra and s not in specs
    )
    task = repository.model_task(session, version)
    outputs = needs.outputs and (needs.features != "none" or needs.labels)
    probabilities = needs.probabilities and task == "multiclass"
    floats = tuple(
        name
        for name in needs.floats
        if name != "score" or repository.has_scores(session, version, start, end)
    )
    raw = fetch(
        session,
        WindowQuery(
            version=version,
            specs=read_specs,
            start=start,
            end=end,
            outputs=outputs,
            labels=needs.labels,
            floats=floats,
            probabilities=probabilities,
        ),
    )
    data: dict[str, Any] = {}
    for spec in read_specs:
        if spec.kind == ColumnKind.NUMERIC:
            data[spec.name] = raw.numeric[spec.name]
        else:
            data[spec.name] = category_text(pd.Series(raw.values[spec.name]))
    # Outputs and labels as pandas infers them from the Python values.
    if outputs:
        data[version.prediction_column] = pd.Series(raw.values["prediction"].tolist())
    for name in floats:
        data[version.score_column if name == "score" else name] = raw.floats[name]
    classes = class_texts(version)
    proba_columns: tuple[str, ...] = ()
    if probabilities:
        proba_columns = tuple(PROBA_PREFIX + c for c in classes)
        data.update(probability_columns(raw.values["probabilities"], classes))
    if needs.labels:
        data[version.label_column] = pd.Series(raw.values["label"].tolist())
    frame = pd.DataFrame(
        {k: v.to_numpy() if isinstance(v, pd.Series) else v for k, v in data.items()},
        index=pd.Index(raw.event_ids, name=EVENT_ID, dtype=object),
    )
    rows_in_window = len(frame)
    sampling = None
    if max_rows is not None and rows_in_window > max_rows:
        chosen = np.sort(
            np.random.default_rng(sample_seed).choice(rows_in_window, max_rows, replace=False)
        )
        frame = frame.iloc[chosen]
        sampling = {"max_rows": max_rows, "seed": sample_seed, "rows_in_window": rows_in_window}
    labeled = int(frame[version.label_column].notna().sum()) if needs.labels else 0
    window = Window(
        frame=frame,
        columns=specs,
        prediction=version.prediction_column if outputs else None,
        score=version.score_column if "score" in floats else None,
        label=version.label_column if needs.labels else None,
        start=start,
        end=end,
        task=task,
        classes=classes,
        positive_class=_as_text(version.positive_class)
        if version.positive_class is not None
        else None,
        probabilities=proba_columns,
        label_delay=LABEL_DELAY if LABEL_DELAY in floats else None,
    )
    return LoadedWindow(window, rows_in_window, labeled, frame_sha256(frame), sampling)


def class_texts(version: ModelVersion) -> tuple[str, ...]:
    return tuple(t for t in (_as_text(c) for c in version.class_labels or ()) if t is not None)


def probability_columns(values: np.ndarray, classes: tuple[str, ...]) -> dict[str, np.ndarray]:
    """One float column per class from each row's JSON object of probabilities
    (keys as text; NaN where a row logged none, or logged something not a number).

    Arrow converts the objects in C++; rows it cannot put in one struct type (a value
    that is text in one row and a number in another, an integer past int64, a row that
    is not an object) are converted one by one in Python, with the same result."""
    try:
        rows = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return _probability_columns_by_row(values, classes)
    if not pa.types.is_struct(rows.type):
        return _probability_columns_by_row(values, classes)
    fields = dict(zip([f.name for f in rows.type], rows.flatten(), strict=True))
    out = {PROBA_PREFIX + c: np.full(len(values), np.nan) for c in classes}
    for c in classes:
        field = fields.get(c)
        if field is not None and (
            pa.types.is_integer(field.type)
            or pa.types.is_floating(field.type)
            or pa.types.is_boolean(field.type)
        ):
            numbers = pc.cast(field, pa.float64()).to_numpy(zero_copy_only=False)
            out[PROBA_PREFIX + c] = np.asarray(numbers, dtype=np.float64)
    return out


def _probability_columns_by_row(
    values: np.ndarray, classes: tuple[str, ...]
) -> dict[str, np.ndarray]:
    out = {PROBA_PREFIX + c: np.full(len(values), np.nan) for c in classes}
    for row, value in enumerate(values):
        if isinstance(value, dict):
            for key, probability in value.items():
                column = out.get(PROBA_PREFIX + str(key))
                if column is not None and isinstance(probability, int | float):
                    column[row] = float(probability)
    return out


@dataclass(frozen=True)
class LoadedReference:
    window: Window
    sha256: str | None
    source: str


def load_dataset(
    store: ArtifactStore,
    version: ModelVersion,
    dataset: ReferenceDataset,
    needs: Needs,
    task: str | None = None,
) -> LoadedReference:
    frame = pd.read_parquet(io.BytesIO(store.read(dataset.storage_path)))
    specs = _selected(version, needs)
    present = set(frame.columns)
    label = version.label_column if version.label_column in present else None
    prediction = version.prediction_column if version.prediction_column in present else None
    score = version.score_column if version.score_column in present else None
    classes = class_texts(version)
    proba_columns = tuple(PROBA_PREFIX + c for c in classes)
    return LoadedReference(
        window=Window(
            frame=frame,
            columns=specs,
            prediction=prediction,
            score=score,
            label=label if needs.labels else None,
            task=task,
            classes=classes,
            positive_class=(
                _as_text(version.positive_class) if version.positive_class is not None else None
            ),
            probabilities=proba_columns if all(c in present for c in proba_columns) else (),
        ),
        sha256=dataset.content_sha256,
        source=f"dataset:{dataset.name}@{dataset.content_sha256[:12]}",
    )


def empty_reference(version: ModelVersion, needs: Needs) -> LoadedReference:
    specs = _selected(version, needs)
    frame = pd.DataFrame({s.name: pd.Series(dtype=object) for s in specs})
    return LoadedReference(Window(frame=frame, columns=specs), None, "none")


def load_review_window(
    session: Session, version: ModelVersion, start: datetime, end: datetime
) -> LoadedWindow:
    """The review decisions made in the window (by decision time): event id,
    decision (agree or override) and segment."""
    rows = repository.review_decisions(session, version.id, start, end)
    frame = pd.DataFrame(
        {
            "decision": np.array([r[1] for r in rows], dtype=object),
            "segment": np.array([r[2] for r in rows], dtype=object),
        },
        index=pd.Index([r[0] for r in rows], name=EVENT_ID, dtype=object),
    )
    window = Window(frame=frame, columns=(), start=start, end=end)
    return LoadedWindow(window, len(frame), 0, frame_sha256(frame), None)
