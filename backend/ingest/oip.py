"""Open Inference Protocol v2 (and KServe v1) request/response pairs as prediction
records: batched tensors split into rows, inputs mapped to the version's features.

Inputs map to features by name (a ``[batch]`` or ``[batch, 1]`` tensor per feature),
and one remaining ``[batch, n]`` tensor fills the model-input features not named, in
schema order. Features given by neither are logged as missing (null).

The prediction comes from one output tensor: the one named by ``output``, else the
only one, else the first. A row of one value is a class label, a binary score (the
prediction is the positive class at ``threshold`` or above) or a regression value; a
row of one value per class is class probabilities.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from backend.catalog.schemas import Task

EVENT_ID_BASE = re.compile(r"^[\x21-\x7e]{1,100}$")


class Tensor(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    shape: list[int] = Field(description="[batch, ...]")
    datatype: str
    data: list[Any]
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[Tensor] = Field(min_length=1)


class InferenceResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    model_name: str | None = None
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[Tensor] = Field(min_length=1)


class InferencePair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request: InferenceRequest
    response: InferenceResponse


class ConversionError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class VersionShape:
    """What the conversion needs to know of a model version."""

    task: Task
    features: list[dict[str, Any]]
    class_labels: list[Any]
    positive_class: Any


def _flatten(data: Sequence[Any]) -> list[Any]:
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            flat.append(value)
        else:
            stack.pop()
    return flat


def tensor_rows(tensor: Tensor, field: str) -> list[list[Any]]:
    """The tensor's rows along its first dimension."""
    if any(d < 0 for d in tensor.shape):
        raise ConversionError(f"{field}.shape", "dimensions must be known (no -1)")
    values = _flatten(tensor.data)
    if not tensor.shape:
        return [values]
    expected = math.prod(tensor.shape)
    if len(values) != expected:
        raise ConversionError(
            f"{field}.data", f"{len(values)} values for shape {tensor.shape} ({expected})"
        )
    batch = tensor.shape[0]
    width = expected // batch if batch else 0
    return [values[i * width : (i + 1) * width] for i in range(batch)]


def _batch_size(rows_by_tensor: dict[str, list[list[Any]]], field: str) -> int:
    sizes = {len(rows) for rows in rows_by_tensor.values()}
    if len(sizes) != 1:
        raise ConversionError(field, f"tensors disagree on the batch size: {sorted(sizes)}")
    return sizes.pop()


def feature_rows(request: InferenceRequest, shape: VersionShape) -> list[dict[str, Any]]:
    names = [f["name"] for f in shape.features]
    rows_by_tensor = {
        t.name: tensor_rows(t, f"request.inputs.{i}") for i, t in enumerate(request.inputs)
    }
    batch = _batch_size(rows_by_tensor, "request.inputs")
    named = [
        t
        for t in request.inputs
        if t.name in names and all(len(r) == 1 for r in rows_by_tensor[t.name])
    ]
    named_names = {t.name for t in named}
    rest = [t for t in request.inputs if t.name not in named_names]
    unfilled = [f["name"] for f in shape.features if f.get("model_input", True)]
    unfilled = [n for n in unfilled if n not in named_names]
    if len(rest) > 1:
        raise ConversionError(
            "request.inputs",
            f"inputs {[t.name for t in rest]} match no feature: name each input after a "
            "feature, or send one [batch, n] tensor for the model inputs",
        )
    columns: dict[str, list[Any]] = {
        t.name: [row[0] for row in rows_by_tensor[t.name]] for t in named
    }
    if rest:
        matrix = rows_by_tensor[rest[0].name]
        width = len(matrix[0]) if matrix else len(unfilled)
        if width != len(unfilled):
            raise ConversionError(
                f"request.inputs.{rest[0].name}",
                f"{width} columns, but {len(unfilled)} model-input features are not named "
                f"by another input: {unfilled}",
            )
        for at, name in enumerate(unfilled):
            columns[name] = [row[at] for row in matrix]
    return [
        {name: columns[name][i] if name in columns else None for name in names}
        for i in range(batch)
    ]


def _pick_output(response: InferenceResponse, output: str | None) -> tuple[int, Tensor]:
    if output is not None:
        for i, tensor in enumerate(response.outputs):
            if tensor.name == output:
                return i, tensor
        raise ConversionError(
            "response.outputs",
            f"no output named '{output}' in {[t.name for t in response.outputs]}",
        )
    return 0, response.outputs[0]


def output_fields(
    response: InferenceResponse, shape: VersionShape, *, output: str | None, threshold: float
) -> list[dict[str, Any]]:
    at, tensor = _pick_output(response, output)
    field = f"response.outputs.{at}"
    rows = tensor_rows(tensor, field)
    classes = shape.class_labels
    by_text = {str(c): c for c in classes}
    result = []
    for i, row in enumerate(rows):
        where = f"{field}.data[{i}]"
        if shape.task == Task.REGRESSION:
            if len(row) != 1 or not _is_number(row[0]):
                raise ConversionError(where, "a regression output is one number per row")
            result.append({"prediction": row[0]})
        elif len(row) == 1:
            result.append(_one_value(row[0], shape, by_text, threshold, where))
        elif len(row) == len(classes) and all(_is_number(v) for v in row):
            best = max(range(len(row)), key=row.__getitem__)
            fields: dict[str, Any] = {"prediction": classes[best], "probabilities": row}
            if shape.task == Task.BINARY and shape.positive_class in classes:
                fields["score"] = row[classes.index(shape.positive_class)]
            result.append(fields)
        else:
            raise ConversionError(
                where, f"{len(row)} values per row; expected 1 or one per class ({len(classes)})"
            )
    return result


def _one_value(
    value: Any, shape: VersionShape, by_text: dict[str, Any], threshold: float, where: str
) -> dict[str, Any]:
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if isinstance(value, bool):
        text = str(int(value))
    if text in by_text:
        return {"prediction": by_text[text]}
    if shape.task == Task.BINARY and _is_number(value) and 0.0 <= value <= 1.0:
        positive = shape.positive_class
        others = [c for c in shape.class_labels if c != positive]
        if positive is None or len(others) != 1:
            raise ConversionError(where, "a binary score needs the version's positive_class")
        return {"prediction": positive if value >= threshold else others[0], "score": value}
    raise ConversionError(where, f"'{value}' is not one of the classes {list(by_text)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def event_id_base(pair: InferencePair) -> str:
    """The response's or request's id when it can be one; else a digest of the pair,
    so that a pair sent twice is stored once."""
    for candidate in (pair.response.id, pair.request.id):
        if candidate is not None and EVENT_ID_BASE.match(candidate):
            return candidate
    canonical = json.dumps(pair.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return "oip-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def to_records(
    pair: InferencePair,
    shape: VersionShape,
    *,
    model: str,
    version: str,
    occurred_at: datetime,
    output: str | None = None,
    threshold: float = 0.5,
) -> list[dict[str, Any]]:
    features = feature_rows(pair.request, shape)
    outputs = output_fields(pair.response, shape, output=output, threshold=threshold)
    if len(features) != len(outputs):
        raise ConversionError(
            "response.outputs",
            f"{len(outputs)} output rows for {len(features)} input rows",
        )
    base = event_id_base(pair)
    return [
        {
            "event_id": f"{base}-{i}",
            "model": model,
            "version": version,
            "occurred_at": occurred_at,
            "features": row,
            **out,
        }
        for i, (row, out) in enumerate(zip(features, outputs, strict=True))
    ]


def kserve_v1_pair(request: dict[str, Any], response: dict[str, Any], ce_id: str) -> InferencePair:
    """A KServe v1 ``{"instances": ...}`` / ``{"predictions": ...}`` pair as OIP v2
    tensors: rows of named values become one tensor per feature, rows of values one
    [batch, n] tensor."""
    instances = request.get("instances", request.get("inputs"))
    predictions = response.get("predictions", response.get("outputs"))
    if not isinstance(instances, list) or not isinstance(predictions, list):
        raise ConversionError(
            "body", "expected {'instances': [...]} and {'predictions': [...]} (KServe v1)"
        )
    if instances and all(isinstance(r, dict) for r in instances):
        names = sorted({k for r in instances for k in r})
        inputs = [
            Tensor(
                name=n, shape=[len(instances)], datatype="BYTES", data=[r.get(n) for r in instances]
            )
            for n in names
        ]
    else:
        rows = [r if isinstance(r, list) else [r] for r in instances]
        width = len(rows[0]) if rows else 0
        inputs = [Tensor(name="instances", shape=[len(rows), width], datatype="FP64", data=rows)]
    outs = [p if isinstance(p, list) else [p] for p in predictions]
    width = len(outs[0]) if outs else 1
    return InferencePair(
        request=InferenceRequest(id=ce_id, inputs=inputs),
        response=InferenceResponse(
            id=ce_id,
            outputs=[
                Tensor(name="predictions", shape=[len(outs), width], datatype="FP64", data=outs)
            ],
        ),
    )
