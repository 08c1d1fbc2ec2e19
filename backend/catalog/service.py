from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from backend import clock
from backend.api.actor import Actor
from backend.audit import service as audit_service
from backend.audit.chain import sha256_hex
from backend.catalog import export_artifacts, repository
from backend.catalog.artifacts import artifact_format
from backend.catalog.reference_io import (
    OPERATIONAL_COLUMNS,
    parse_reference,
    source_format,
    to_parquet,
)
from backend.catalog.sandbox import validate_in_sandbox
from backend.catalog.schemas import REGRESSION_METRICS, ModelCreate, Task, VersionCreate
from backend.catalog.storage import ArtifactStore
from backend.config import Settings
from backend.errors import Conflict, InvalidInput, NotFound
from backend.models import Model, ModelVersion, ReferenceDataset


def create_model(session: Session, *, actor: Actor, model_in: ModelCreate) -> Model:
    if repository.get_model(session, project_id=actor.project_id, name=model_in.name):
        raise Conflict(f"model '{model_in.name}' already exists")
    model = Model(
        project_id=actor.project_id,
        name=model_in.name,
        task=model_in.task.value,
        description=model_in.description,
    )
    session.add(model)
    session.flush()
    audit_service.record(
        session,
        actor,
        "model.create",
        f"model:{model.name}",
        model_in.model_dump(mode="json"),
    )
    return model


def get_model(session: Session, *, actor: Actor, name: str) -> Model:
    model = repository.get_model(session, project_id=actor.project_id, name=name)
    if model is None:
        raise NotFound(f"no model named '{name}'")
    return model


def list_models(session: Session, *, actor: Actor) -> Sequence[Model]:
    return repository.list_models(session, project_id=actor.project_id)


def create_version(
    session: Session, *, actor: Actor, model_name: str, version_in: VersionCreate
) -> tuple[Model, ModelVersion]:
    model = get_model(session, actor=actor, name=model_name)
    if repository.get_version(session, model_id=model.id, version=version_in.version):
        raise Conflict(f"model '{model_name}' already has a version '{version_in.version}'")
    class_labels, positive_class = _class_settings(Task(model.task), version_in)
    _check_declared(Task(model.task), set(version_in.declared_metrics))
    names = {f.name for f in version_in.features}
    reserved = {
        version_in.prediction_column,
        version_in.score_column,
        version_in.label_column,
        *OPERATIONAL_COLUMNS,
    }
    if clash := sorted(names & reserved):
        raise InvalidInput(
            "feature names may not equal the prediction, score or label column names, "
            "or the operational columns latency_ms and compute_seconds",
            errors=[{"field": "features", "message": f"reserved: {clash}"}],
        )
    version = ModelVersion(
        project_id=actor.project_id,
        model_id=model.id,
        version=version_in.version,
        features=[f.model_dump(mode="json") for f in version_in.features],
        class_labels=class_labels,
        positive_class=positive_class,
        prediction_column=version_in.prediction_column,
        score_column=version_in.score_column,
        label_column=version_in.label_column,
        cost_profile=version_in.cost_profile.model_dump(mode="json"),
        declared_metrics=dict(version_in.declared_metrics),
    )
    session.add(version)
    session.flush()
    audit_service.record(
        session,
        actor,
        "model_version.create",
        f"model:{model.name}/version:{version.version}",
        version_in.model_dump(mode="json"),
    )
    return model, version


def _class_settings(task: Task, version_in: VersionCreate) -> tuple[list[Any] | None, Any]:
    labels = version_in.class_labels
    if task == Task.REGRESSION:
        if labels is not None or version_in.positive_class is not None:
            raise InvalidInput(
                "a regression model has no class_labels or positive_class",
                errors=[{"field": "class_labels", "message": "not allowed for regression"}],
            )
        return None, None
    if task == Task.BINARY:
        labels = labels if labels is not None else [0, 1]
        if len(labels) != 2:
            raise InvalidInput(
                "a binary model has exactly two class labels",
                errors=[{"field": "class_labels", "message": f"got {len(labels)}"}],
            )
    elif labels is None or len(labels) < 2:
        raise InvalidInput(
            "a multiclass model must list its class labels",
            errors=[{"field": "class_labels", "message": "at least two labels are required"}],
        )
    if len({str(label) for label in labels}) != len(labels):
        raise InvalidInput(
            "class labels must be distinct",
            errors=[{"field": "class_labels", "message": "duplicate labels"}],
        )
    positive = version_in.positive_class
    if task == Task.BINARY:
        positive = labels[1] if positive is None else positive
        if positive not in labels:
            raise InvalidInput(
                "positive_class must be one of the class labels",
                errors=[{"field": "positive_class", "message": f"not in {labels}"}],
            )
    elif positive is not None:
        raise InvalidInput(
            "positive_class applies to binary models only",
            errors=[{"field": "positive_class", "message": "not allowed for multiclass"}],
        )
    return labels, positive


def get_version(
    session: Session, *, actor: Actor, model_name: str, version: str
) -> tuple[Model, ModelVersion]:
    model = get_model(session, actor=actor, name=model_name)
    found = repository.get_version(session, model_id=model.id, version=version)
    if found is None:
        raise NotFound(f"model '{model_name}' has no version '{version}'")
    return model, found


def list_versions(
    session: Session, *, actor: Actor, model_name: str
) -> tuple[Model, Sequence[ModelVersion]]:
    model = get_model(session, actor=actor, name=model_name)
    return model, repository.list_versions(session, model_id=model.id)


def upload_artifact(
    session: Session,
    *,
    actor: Actor,
    model_name: str,
    version_name: str,
    data: bytes,
    store: ArtifactStore,
    settings: Settings,
) -> tuple[Model, ModelVersion, bool]:
    """Store a model artifact (a torch.export program or a TorchScript archive), checked
    and trial-run in the sandbox. Returns ``created=False`` for a re-upload of the
    same bytes; a different artifact for a version that has one is a conflict, since
    past checks refer to the stored one."""
    model, version = get_version(session, actor=actor, model_name=model_name, version=version_name)
    digest = sha256_hex(data)
    if version.artifact_sha256 == digest:
        return model, version, False
    if version.artifact_sha256 is not None:
        raise Conflict(
            f"version '{version_name}' already has artifact {version.artifact_sha256[:12]}…; "
            "register a new version for a new model"
        )
    output_shape = validate_in_sandbox(
        data,
        n_features=sum(1 for f in version.features if f.get("model_input", True)),
        max_unpacked_bytes=settings.ingest.max_upload_bytes,
        memory_bytes=settings.uploads.sandbox_memory_bytes,
        seconds=settings.uploads.sandbox_seconds,
    )
    fmt = artifact_format(data)
    suffix = "pt2" if fmt == export_artifacts.FORMAT else "pt"
    relative = f"projects/{actor.project_id}/artifacts/{digest}.{suffix}"
    store.write(relative, data)
    version.artifact_sha256 = digest
    version.artifact_path = relative
    version.artifact_size = len(data)
    version.artifact_uploaded_at = clock.now()
    session.flush()
    audit_service.record(
        session,
        actor,
        "model_version.artifact_upload",
        f"model:{model.name}/version:{version.version}",
        {
            "sha256": digest,
            "size_bytes": len(data),
            "format": fmt,
            "output_shape": output_shape,
        },
    )
    return model, version, True


def upload_reference(
    session: Session,
    *,
    actor: Actor,
    model_name: str,
    version_name: str,
    name: str,
    content_type: str,
    data: bytes,
    store: ArtifactStore,
    settings: Settings,
) -> tuple[ReferenceDataset, bool]:
    model, version = get_version(session, actor=actor, model_name=model_name, version=version_name)
    fmt = source_format(content_type)
    parsed = parse_reference(
        data,
        fmt=fmt,
        version=version,
        task=Task(model.task),
        max_rows=settings.uploads.max_reference_rows,
        max_decoded_bytes=settings.uploads.max_reference_decoded_bytes,
    )
    existing = repository.get_reference_by_hash(
        session, model_version_id=version.id, content_sha256=parsed.content_sha256
    )
    if existing is not None:
        return existing, False
    relative = f"projects/{actor.project_id}/references/{parsed.content_sha256}.parquet"
    store.write(relative, to_parquet(parsed.frame))
    reference = ReferenceDataset(
        project_id=actor.project_id,
        model_version_id=version.id,
        name=name,
        source="upload",
        source_format=fmt,
        content_sha256=parsed.content_sha256,
        row_count=len(parsed.frame),
        columns=[str(c) for c in parsed.frame.columns],
        storage_path=relative,
    )
    session.add(reference)
    session.flush()
    audit_service.record(
        session,
        actor,
        "reference_dataset.create",
        f"model:{model.name}/version:{version.version}/reference:{reference.id}",
        {
            "name": name,
            "format": fmt,
            "content_sha256": parsed.content_sha256,
            "rows": reference.row_count,
            "columns": reference.columns,
        },
    )
    return reference, True


def list_references(
    session: Session, *, actor: Actor, model_name: str, version_name: str
) -> Sequence[ReferenceDataset]:
    _, version = get_version(session, actor=actor, model_name=model_name, version=version_name)
    return repository.list_references(session, model_version_id=version.id)


def _check_declared(task: Task, declared: set[str]) -> None:
    regression = task == Task.REGRESSION
    wrong = sorted(name for name in declared if (name in REGRESSION_METRICS) != regression)
    if wrong:
        kind = "regression" if regression else "classification"
        raise InvalidInput(
            f"declared_metrics names metrics a {kind} model does not have: {wrong}",
            errors=[{"field": "declared_metrics", "message": f"not {kind} metrics: {wrong}"}],
        )
