"""Why was this decision made: SHAP attributions of one stored prediction, computed on
demand with the version's TorchScript artifact against its reference dataset."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta
from typing import Any

import torch
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.actor import Actor
from backend.catalog.storage import ArtifactStore
from backend.checks.runner import explain_device
from backend.checks.windows import NEEDS, load_dataset, load_window
from backend.config import Settings
from backend.errors import Conflict, NotFound
from backend.models import Model, ModelVersion, Prediction, ReferenceDataset
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
    device: str


def explain_prediction(
    session: Session, *, actor: Actor, store: ArtifactStore, settings: Settings, event_id: str
) -> PredictionExplanation:
    row = session.execute(
        select(Prediction, ModelVersion, Model)
        .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
        .join(Model, Model.id == ModelVersion.model_id)
        .where(Prediction.project_id == actor.project_id, Prediction.event_id == event_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no prediction with event_id '{event_id}' in this project")
    prediction, version, model = row
    if version.artifact_path is None:
        raise Conflict(f"{model.name} {version.version} has no TorchScript artifact to explain")
    dataset = session.scalars(
        select(ReferenceDataset)
        .where(ReferenceDataset.model_version_id == version.id)
        .order_by(ReferenceDataset.id.desc())
        .limit(1)
    ).one_or_none()
    if dataset is None:
        raise Conflict(
            f"{model.name} {version.version} has no reference dataset to draw a background from"
        )
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
    artifact = torch.jit.load(io.BytesIO(store.read(version.artifact_path)), map_location=device)
    result = detector.with_model(artifact.eval(), device).run(reference.window, current)
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
        device=device,
    )
