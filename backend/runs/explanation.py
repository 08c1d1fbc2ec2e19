"""Why was this decision made: SHAP attributions of one stored prediction, computed on
demand with the version's TorchScript artifact against a reference dataset the caller
names (or the version's only one); the answer names that reference by its hash."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from backend.api.actor import Actor
from backend.catalog import repository as catalog_repository
from backend.catalog.artifacts import load_model
from backend.catalog.storage import ArtifactStore
from backend.config import Settings
from backend.errors import Conflict, InvalidInput, NotFound
from backend.models import Model, ModelVersion, ReferenceDataset
from backend.runs import repository
from backend.runs.execute import explain_device
from backend.runs.windows.load import NEEDS, load_dataset, load_window
from detectors.explain.detector import MAX_EXACT_FEATURES, ExplainDetector
from detectors.registry import build


class PredictionExplanation(BaseModel):
    event_id: str
    model: str
    version: str
    features: dict[str, Any]
    prediction: Any
    model_output: float
    base_value: float
    attributions: dict[str, float]
    method: str
    reference: str
    reference_sha256: str
    device: str


def _pick_reference(
    session: Session, model: Model, version: ModelVersion, wanted: str | None
) -> ReferenceDataset:
    """The reference named (by name or content hash prefix), or the version's only one:
    with several and none named, the caller must choose, never "the latest"."""
    datasets = catalog_repository.list_references(session, model_version_id=version.id)
    if not datasets:
        raise Conflict(
            f"{model.name} {version.version} has no reference dataset to draw a background from"
        )
    if wanted is None:
        if len(datasets) == 1:
            return datasets[0]
        choices = ", ".join(f"{d.name} ({d.content_sha256[:12]})" for d in datasets)
        raise InvalidInput(
            f"{model.name} {version.version} has {len(datasets)} reference datasets; name the "
            f"background with ?reference= (one of: {choices})",
            errors=[{"field": "reference", "message": "required: several references"}],
        )
    found = [d for d in datasets if d.name == wanted or d.content_sha256.startswith(wanted)]
    if len(found) != 1:
        problem = "no" if not found else "more than one"
        raise InvalidInput(
            f"{problem} reference dataset of {model.name} {version.version} matches '{wanted}'",
            errors=[{"field": "reference", "message": "give a unique name or hash"}],
        )
    return found[0]


def explain_prediction(
    session: Session,
    *,
    actor: Actor,
    store: ArtifactStore,
    settings: Settings,
    event_id: str,
    reference_name: str | None = None,
) -> PredictionExplanation:
    row = repository.prediction_with_version(
        session, project_id=actor.project_id, event_id=event_id
    )
    if row is None:
        raise NotFound(f"no prediction with event_id '{event_id}' in this project")
    prediction, version, model = row
    if version.artifact_path is None:
        raise Conflict(f"{model.name} {version.version} has no TorchScript artifact to explain")
    dataset = _pick_reference(session, model, version, reference_name)
    needs = NEEDS["explain"]
    at = prediction.occurred_at
    loaded = load_window(session, version, at, at + timedelta(microseconds=1), needs=needs)
    frame = loaded.window.frame.loc[[event_id]]
    current = dataclasses.replace(loaded.window, frame=frame)
    reference = load_dataset(store, version, dataset, needs)
    inputs = [c for c in current.columns if c.model_input]
    method = "exact" if len(inputs) <= min(MAX_EXACT_FEATURES, 12) else "kernel"
    device = explain_device(settings)
    detector = build("explain", {"method": method, "max_rows": 1, "min_rows": 1})
    assert isinstance(detector, ExplainDetector)
    artifact = load_model(store.read(version.artifact_path), device)
    result = detector.with_model(artifact, device).run(reference.window, current)
    if not result.rows:
        raise Conflict(result.detail or "the prediction could not be explained")
    explained = result.rows[0]
    ordered = sorted(explained.attributions.items(), key=lambda kv: -abs(kv[1]))
    return PredictionExplanation(
        event_id=event_id,
        model=model.name,
        version=version.version,
        features=prediction.features,
        prediction=prediction.prediction,
        model_output=explained.prediction,
        base_value=explained.base_value,
        attributions=dict(ordered),
        method=method,
        reference=reference.source,
        reference_sha256=dataset.content_sha256,
        device=device,
    )
