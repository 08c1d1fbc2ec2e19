"""The detector contract: two windows in, a frozen typed result out.

Detectors are pure: no I/O, no database, no clock. Randomness comes from a seed in
their params. "Not enough data" is a status, never an exception.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Generic, Protocol, TypeVar

import pandas as pd
from pydantic import BaseModel, ConfigDict


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ALERT = "alert"
    INSUFFICIENT_DATA = "insufficient_data"


class ColumnKind(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: ColumnKind
    sensitive: bool = False
    # Whether the model takes this column, and for a categorical input the categories
    # whose index it receives.
    model_input: bool = True
    categories: tuple[str, ...] | None = None
    # Numeric: the range the feature schema declares valid, when it declares one.
    value_range: tuple[float, float] | None = None


@dataclass(frozen=True)
class Window:
    """Rows of one period: feature columns plus optional prediction, score and label.

    ``columns`` describes the feature columns; the frame may hold more.
    """

    frame: pd.DataFrame
    columns: tuple[ColumnSpec, ...]
    prediction: str | None = None
    score: str | None = None
    label: str | None = None
    # The window's bounds, given by the caller: detectors never read a clock.
    start: datetime | None = None
    end: datetime | None = None
    # What the model is: its task ("binary", "multiclass", "regression"), its classes
    # as text in the order of its probability outputs, and the positive class.
    task: str | None = None
    classes: tuple[str, ...] | None = None
    positive_class: str | None = None
    # Multiclass: one column of probabilities per class, in ``classes`` order.
    probabilities: tuple[str, ...] = ()
    # Seconds from each prediction to its label's arrival (NaN when unlabelled).
    label_delay: str | None = None

    def __len__(self) -> int:
        return len(self.frame)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    version: str
    status: Status


P = TypeVar("P", bound=Params)
R_co = TypeVar("R_co", bound=Result, covariant=True)


class Detector(Protocol[R_co]):
    kind: ClassVar[str]
    version: ClassVar[str]

    def run(self, reference: Window, current: Window) -> R_co: ...


class BaseDetector(ABC, Generic[P]):
    """Holds validated params; subclasses set ``kind``, ``version``, ``params_model``
    and implement ``run``."""

    kind: ClassVar[str]
    version: ClassVar[str]
    params_model: ClassVar[type[Params]]

    def __init__(self, params: P) -> None:
        self.params = params

    @abstractmethod
    def run(self, reference: Window, current: Window) -> Result: ...
