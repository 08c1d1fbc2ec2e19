from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from backend.api.params import UtcDateTime
from backend.catalog.schemas import ClassLabel

EventId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Scalar = ClassLabel | float | bool


class PredictionRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: EventId = Field(description="Unique per project: the dedup key.")
    model: str = Field(min_length=1, max_length=100)
    version: str = Field(min_length=1, max_length=100)
    occurred_at: UtcDateTime = Field(description="When the prediction was made; UTC if no zone.")
    features: dict[str, Any] = Field(
        description="Every schema feature, by name; null marks a missing value."
    )
    prediction: Scalar
    score: FiniteFloat | None = Field(default=None, description="Binary: P(positive class).")
    probabilities: dict[str, FiniteFloat] | list[FiniteFloat] | None = Field(
        default=None, description="Multiclass: by class label, or in class_labels order."
    )
    latency_ms: NonNegative | None = None
    compute_seconds: NonNegative | None = None
    tags: dict[str, Annotated[str, Field(max_length=500)]] | None = Field(
        default=None, max_length=50
    )


class PredictionBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[PredictionRecord] = Field(min_length=1)


class IngestResult(BaseModel):
    received: int
    stored: int
    duplicates: int = Field(description="Records whose event_id was already stored.")
    duplicate_event_ids: list[str]


class LabelRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: EventId
    label: Scalar
    occurred_at: UtcDateTime | None = None


class LabelBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: list[LabelRecord] = Field(min_length=1)


class LabelResult(BaseModel):
    received: int
    stored: int = Field(description="Labels for event_ids that had none.")
    updated: int = Field(description="Labels that replaced a different earlier label.")
    unchanged: int
    matched: int = Field(description="Labels whose prediction is already stored.")
    pending: int = Field(description="Labels whose prediction has not arrived yet.")


class PredictionRead(BaseModel):
    event_id: str
    model: str
    version: str
    occurred_at: datetime
    received_at: datetime
    features: dict[str, Any]
    prediction: Any
    score: float | None
    probabilities: dict[str, float] | None
    latency_ms: float | None
    compute_seconds: float | None
    tags: dict[str, str] | None
    label: Any | None
    label_received_at: datetime | None


class PredictionPage(BaseModel):
    items: list[PredictionRead]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")
