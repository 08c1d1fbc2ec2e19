"""Every detector kind, listed once. ``build`` validates params; ``kinds`` serves
their JSON schemas."""

from __future__ import annotations

from typing import Any

from detectors.base import BaseDetector
from detectors.bias.detector import BiasDetector
from detectors.comparison.detector import ComparisonDetector
from detectors.cost.detector import CostDetector
from detectors.drift.detector import DriftDetector
from detectors.estimate.detector import EstimateDetector
from detectors.explain.detector import ExplainDetector
from detectors.performance.detector import PerformanceDetector
from detectors.quality.detector import DataQualityDetector
from detectors.review.detector import ReviewDetector

DETECTORS: dict[str, type[BaseDetector[Any]]] = {
    DriftDetector.kind: DriftDetector,
    BiasDetector.kind: BiasDetector,
    CostDetector.kind: CostDetector,
    ExplainDetector.kind: ExplainDetector,
    PerformanceDetector.kind: PerformanceDetector,
    EstimateDetector.kind: EstimateDetector,
    DataQualityDetector.kind: DataQualityDetector,
    ComparisonDetector.kind: ComparisonDetector,
    ReviewDetector.kind: ReviewDetector,
}


class UnknownDetector(ValueError):
    pass


def build(kind: str, params: dict[str, Any] | None = None) -> BaseDetector[Any]:
    """Raises ``UnknownDetector`` or pydantic's ``ValidationError`` naming the field."""
    detector = DETECTORS.get(kind)
    if detector is None:
        raise UnknownDetector(f"unknown detector kind '{kind}'; known: {sorted(DETECTORS)}")
    return detector(detector.params_model.model_validate(params or {}))


def kinds() -> dict[str, dict[str, Any]]:
    return {
        kind: {"version": cls.version, "params_schema": cls.params_model.model_json_schema()}
        for kind, cls in DETECTORS.items()
    }
