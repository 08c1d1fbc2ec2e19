"""Per-record checks of a batch against each record's model version schema.

Every problem in the batch is reported, not just the first, so a client can fix a
batch in one round trip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from backend.catalog.schemas import FeatureType, Task
from backend.config import LimitSettings
from backend.ingest.schemas import PredictionRecord
from backend.models import Model, ModelVersion

MAX_REPORTED_ERRORS = 1000
PROBABILITY_TOLERANCE = 1e-3


@dataclass(frozen=True)
class CompiledSchema:
    version_id: int
    task: Task
    names: frozenset[str]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    classes_by_text: dict[str, Any]
    class_texts: tuple[str, ...]

    @classmethod
    def of(cls, model: Model, version: ModelVersion) -> CompiledSchema:
        features = version.features
        classes = version.class_labels or []
        return cls(
            version_id=version.id,
            task=Task(model.task),
            names=frozenset(f["name"] for f in features),
            numeric=tuple(f["name"] for f in features if f["dtype"] == FeatureType.NUMERIC),
            categorical=tuple(f["name"] for f in features if f["dtype"] == FeatureType.CATEGORICAL),
            classes_by_text={str(c): c for c in classes},
            class_texts=tuple(str(c) for c in classes),
        )


class ErrorList:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.bad_records: set[int] = set()

    def add(self, index: int, event_id: str, field: str, message: str) -> None:
        self.bad_records.add(index)
        if len(self.items) < MAX_REPORTED_ERRORS:
            self.items.append(
                {"record": index, "event_id": event_id, "field": field, "message": message}
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def too_long(value: Any, limit: int) -> str | None:
    if isinstance(value, str) and len(value) > limit:
        return f"{len(value)} characters; at most {limit} are stored (VERITY_LIMITS__*)"
    return None


def check_record_strings(
    index: int, record: PredictionRecord, limits: LimitSettings, errors: ErrorList
) -> None:
    """Event id, string prediction and tag values within their limits."""
    if problem := too_long(record.event_id, limits.event_id_chars):
        errors.add(index, record.event_id[:64], "event_id", problem)
    if problem := too_long(record.prediction, limits.value_chars):
        errors.add(index, record.event_id, "prediction", problem)
    for key, value in (record.tags or {}).items():
        if problem := too_long(value, limits.value_chars):
            errors.add(index, record.event_id, f"tags.{key}", problem)


def check_features(
    index: int,
    record: PredictionRecord,
    schema: CompiledSchema,
    errors: ErrorList,
    value_chars: int = 256,
) -> None:
    # Hot path: 25k values per 1,000-row batch, so exact type tests and local names.
    features = record.features
    if len(features) != len(schema.names) or not schema.names.issuperset(features):
        for name in sorted(schema.names - features.keys()):
            errors.add(index, record.event_id, f"features.{name}", "missing feature")
        for name in sorted(features.keys() - schema.names, key=str):
            errors.add(index, record.event_id, f"features.{name}", "not in the version's schema")
    get = features.get
    isfinite = math.isfinite
    for name in schema.numeric:
        value: Any = get(name)
        kind = type(value)
        if kind is float:
            if not isfinite(value):
                errors.add(
                    index, record.event_id, f"features.{name}", "NaN and infinity are not allowed"
                )
        elif kind is not int and value is not None:
            errors.add(
                index,
                record.event_id,
                f"features.{name}",
                f"expected a number, got {kind.__name__}",
            )
    for name in schema.categorical:
        value = features.get(name)
        if type(value) is str:
            if len(value) > value_chars:
                errors.add(
                    index, record.event_id, f"features.{name}", too_long(value, value_chars) or ""
                )
            continue
        if value is None or isinstance(value, int):
            continue
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            continue
        errors.add(
            index,
            record.event_id,
            f"features.{name}",
            f"expected a category (string or integer), got {type(value).__name__}",
        )


def normalize_outputs(
    index: int, record: PredictionRecord, schema: CompiledSchema, errors: ErrorList
) -> tuple[Any, dict[str, float] | None]:
    """Check prediction, score and probabilities; return the prediction as its declared
    class label and the probabilities keyed by class label text."""
    event_id = record.event_id
    if schema.task == Task.REGRESSION:
        value = record.prediction
        finite = isinstance(value, int | float) and math.isfinite(value)
        if isinstance(value, bool) or not finite:
            errors.add(index, event_id, "prediction", "a regression prediction is a finite number")
        if record.probabilities is not None:
            errors.add(index, event_id, "probabilities", "not allowed for a regression model")
        return record.prediction, None

    prediction = schema.classes_by_text.get(_label_text(record.prediction))
    if prediction is None:
        errors.add(
            index,
            event_id,
            "prediction",
            f"'{record.prediction}' is not one of the classes {list(schema.class_texts)}",
        )
    if record.score is not None and not 0.0 <= record.score <= 1.0:
        errors.add(index, event_id, "score", "a score is a probability in [0, 1]")
    probabilities = _probabilities(index, record, schema, errors)
    return prediction, probabilities


def _label_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _probabilities(
    index: int, record: PredictionRecord, schema: CompiledSchema, errors: ErrorList
) -> dict[str, float] | None:
    given = record.probabilities
    if given is None:
        return None
    if isinstance(given, list):
        if len(given) != len(schema.class_texts):
            errors.add(
                index,
                record.event_id,
                "probabilities",
                f"expected {len(schema.class_texts)} values, one per class, got {len(given)}",
            )
            return None
        by_class = dict(zip(schema.class_texts, given, strict=True))
    else:
        unknown = sorted(set(given) - set(schema.class_texts))
        if unknown:
            errors.add(index, record.event_id, "probabilities", f"unknown classes {unknown}")
            return None
        by_class = given
    if any(not 0.0 <= p <= 1.0 for p in by_class.values()):
        errors.add(index, record.event_id, "probabilities", "each probability lies in [0, 1]")
    elif (
        len(by_class) == len(schema.class_texts)
        and abs(sum(by_class.values()) - 1.0) > PROBABILITY_TOLERANCE
    ):
        errors.add(index, record.event_id, "probabilities", "probabilities must sum to 1")
    return by_class


def check_label(value: Any, task: Task, schema: CompiledSchema) -> tuple[Any, str | None]:
    if task == Task.REGRESSION:
        if not _is_number(value) or not math.isfinite(value):
            return value, "a regression label is a finite number"
        return value, None
    label = schema.classes_by_text.get(_label_text(value))
    if label is None:
        return value, f"'{value}' is not one of the classes {list(schema.class_texts)}"
    return label, None
