"""Reference datasets: parse CSV, Parquet or JSON rows, validate them against the
version's schema, normalize their types and hash their content."""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow.parquet as pq

from backend.catalog.schemas import FeatureType, Task
from backend.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from backend.models import ModelVersion

FORMATS = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/json": "json",
    "application/x-ndjson": "ndjson",
}
MAX_REPORTED_ERRORS = 50
# What serving a row cost, not model inputs: a reference that carries them is a
# baseline for cost checks (cost per prediction, latency).
OPERATIONAL_COLUMNS = ("latency_ms", "compute_seconds")


@dataclass(frozen=True)
class ParsedReference:
    frame: pd.DataFrame
    source_format: str
    content_sha256: str


def source_format(content_type: str) -> str:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in FORMATS:
        raise UnsupportedMediaType(
            f"reference data must be sent as one of {sorted(FORMATS)}, not '{media_type}'"
        )
    return FORMATS[media_type]


def parse_reference(
    data: bytes,
    *,
    fmt: str,
    version: ModelVersion,
    task: Task,
    max_rows: int,
    max_decoded_bytes: int,
) -> ParsedReference:
    check_size(data, fmt, max_rows=max_rows, max_decoded_bytes=max_decoded_bytes)
    frame = _read(data, fmt)
    if len(frame) > max_rows:
        raise PayloadTooLarge(
            f"the reference holds {len(frame)} rows; at most {max_rows} are accepted "
            "(VERITY_UPLOADS__MAX_REFERENCE_ROWS)"
        )
    frame = _validate_and_normalize(frame, version=version, task=task)
    return ParsedReference(frame=frame, source_format=fmt, content_sha256=content_sha256(frame))


def check_size(data: bytes, fmt: str, *, max_rows: int, max_decoded_bytes: int) -> None:
    """Rows and decoded bytes within the limits, from the file's own metadata
    (Parquet) or its lines, before a frame is built. Text formats decode to about
    their own size, which the body limit bounds already."""
    if fmt == "parquet":
        try:
            metadata = pq.ParquetFile(io.BytesIO(data)).metadata
        except Exception as exc:
            raise InvalidInput(f"could not read the parquet data: {str(exc)[:300]}") from exc
        rows = metadata.num_rows
        decoded = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
        if decoded > max_decoded_bytes:
            raise PayloadTooLarge(
                f"the reference decodes to {decoded} bytes; at most {max_decoded_bytes} are "
                "accepted (VERITY_UPLOADS__MAX_REFERENCE_DECODED_BYTES)"
            )
    elif fmt in ("csv", "ndjson"):
        rows = data.count(b"\n") + (0 if data.endswith(b"\n") else 1) - (fmt == "csv")
    else:
        rows = 0  # a JSON document: counted once parsed (its size is bounded already)
    if rows > max_rows:
        raise PayloadTooLarge(
            f"the reference holds {rows} rows; at most {max_rows} are accepted "
            "(VERITY_UPLOADS__MAX_REFERENCE_ROWS)"
        )


def content_sha256(frame: pd.DataFrame) -> str:
    """SHA-256 of the rows as canonical JSON lines (sorted keys, NaN as null)."""
    digest = hashlib.sha256()
    columns = sorted(frame.columns)
    ordered = frame[columns]
    for row in ordered.itertuples(index=False, name=None):
        digest.update(
            orjson.dumps(dict(zip(columns, row, strict=True)), option=orjson.OPT_SORT_KEYS)
        )
        digest.update(b"\n")
    return digest.hexdigest()


def to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _read(data: bytes, fmt: str) -> pd.DataFrame:
    if not data:
        raise InvalidInput("the reference dataset is empty")
    try:
        if fmt == "csv":
            return pd.read_csv(io.BytesIO(data), keep_default_na=True)
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(data))
        rows: Any
        if fmt == "ndjson":
            rows = [orjson.loads(line) for line in data.splitlines() if line.strip()]
        else:
            document = orjson.loads(data)
            rows = document.get("rows") if isinstance(document, dict) else document
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise InvalidInput(
                'JSON reference data must be a list of row objects, or {"rows": [...]}'
            )
        return pd.DataFrame.from_records(rows)
    except InvalidInput:
        raise
    except Exception as exc:
        raise InvalidInput(
            f"could not read the {fmt} data: {str(exc).splitlines()[0][:300]}"
        ) from exc


def _validate_and_normalize(
    frame: pd.DataFrame, *, version: ModelVersion, task: Task
) -> pd.DataFrame:
    if frame.empty:
        raise InvalidInput("the reference dataset has no rows")
    errors: list[dict[str, Any]] = []
    feature_names = [f["name"] for f in version.features]
    optional = [
        version.prediction_column,
        version.score_column,
        version.label_column,
        *OPERATIONAL_COLUMNS,
    ]
    missing = [name for name in feature_names if name not in frame.columns]
    unknown = [c for c in frame.columns if c not in feature_names and c not in optional]
    if missing:
        errors.append({"field": ",".join(missing), "message": "feature column(s) missing"})
    if unknown:
        errors.append(
            {
                "field": ",".join(map(str, unknown)),
                "message": "column(s) not in the version's schema",
            }
        )
    if errors:
        raise InvalidInput("the reference dataset does not match the schema", errors=errors)

    out: dict[str, pd.Series] = {}
    for feature in version.features:
        name = feature["name"]
        column = frame[name]
        if feature["dtype"] == FeatureType.NUMERIC:
            out[name] = _numeric(column, name, errors)
        else:
            out[name] = _categorical(column)
    classes = version.class_labels
    if version.prediction_column in frame.columns:
        out[version.prediction_column] = _target(
            frame[version.prediction_column], version.prediction_column, task, classes, errors
        )
    if version.label_column in frame.columns:
        out[version.label_column] = _target(
            frame[version.label_column], version.label_column, task, classes, errors
        )
    for name in OPERATIONAL_COLUMNS:
        if name in frame.columns and name not in feature_names:
            values = _numeric(frame[name], name, errors)
            negative = values[values < 0]
            if not negative.empty:
                errors.append(_row_error(name, negative.index, "must not be negative"))
            out[name] = values
    if version.score_column in frame.columns:
        score = _numeric(frame[version.score_column], version.score_column, errors)
        outside = score[(score < 0) | (score > 1)]
        if task != Task.REGRESSION and not outside.empty:
            errors.append(_row_error(version.score_column, outside.index, "score outside [0, 1]"))
        out[version.score_column] = score
    if errors:
        raise InvalidInput(
            f"{len(errors)} column(s) hold invalid values", errors=errors[:MAX_REPORTED_ERRORS]
        )
    return pd.DataFrame(out)


def _numeric(column: pd.Series, name: str, errors: list[dict[str, Any]]) -> pd.Series:
    if column.dtype == bool:
        errors.append({"field": name, "message": "expected numbers, got booleans"})
        return column
    values = pd.to_numeric(column, errors="coerce").astype("float64")
    bad = values.isna() & column.notna()
    if bad.any():
        errors.append(_row_error(name, values.index[bad], "not a number"))
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        errors.append(_row_error(name, values.index[infinite], "infinite values are not allowed"))
    return values


def _categorical(column: pd.Series) -> pd.Series:
    # Categories are compared as strings everywhere, so 1, "1" and 1.0 read from CSV
    # or JSON are one category.
    def as_text(value: Any) -> Any:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return column.map(as_text).astype(object)


def _target(
    column: pd.Series,
    name: str,
    task: Task,
    classes: list[Any] | None,
    errors: list[dict[str, Any]],
) -> pd.Series:
    if task == Task.REGRESSION or classes is None:
        return _numeric(column, name, errors)
    by_text = {str(c): c for c in classes}
    text = _categorical(column)
    mapped = text.map(lambda v: by_text.get(v) if v is not None else None)
    unknown = mapped.isna() & text.notna()
    if unknown.any():
        errors.append(_row_error(name, column.index[unknown], f"not one of the classes {classes}"))
    return mapped.astype(object)


def _row_error(name: str, index: Any, message: str) -> dict[str, Any]:
    rows = [int(i) for i in list(index[:10])]
    return {"field": name, "rows": rows, "count": len(index), "message": message}
