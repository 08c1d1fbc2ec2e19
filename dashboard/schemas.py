"""What the API answers, as the dashboard reads it: one TypedDict per answer, checked
against each response at run time (``api.VerityApi`` validates with pydantic), so a
page reads named, typed fields and an API that changed shape is a clear error, not a
KeyError deep in a chart. Mirrors the API's response schemas (OpenAPI); detector
results stay ``dict[str, Any]`` (each kind has its own, versioned shape)."""

from __future__ import annotations

from typing import Any

# pydantic reads TypedDicts from typing_extensions on Python < 3.12.
from typing_extensions import TypedDict


class WhoAmI(TypedDict):
    project_id: int
    role: str
    label: str
    permissions: list[str]


class ModelRead(TypedDict):
    id: int
    name: str
    task: str
    description: str
    created_at: str


class FeatureSpec(TypedDict):
    name: str
    dtype: str
    sensitive: bool
    model_input: bool
    categories: list[str] | None
    range: list[float] | None


class CostProfile(TypedDict):
    currency: str
    price_per_cpu_second: float | None
    price_per_gpu_second: float | None
    price_per_1k_predictions: float | None
    budget: float | None
    budget_period: str


class ArtifactRead(TypedDict):
    sha256: str
    size_bytes: int
    uploaded_at: str
    format: str


class VersionRead(TypedDict):
    id: int
    model: str
    version: str
    task: str
    features: list[FeatureSpec]
    class_labels: list[str | int] | None
    positive_class: str | int | None
    prediction_column: str
    score_column: str
    label_column: str
    cost_profile: CostProfile
    declared_metrics: dict[str, float]
    artifact: ArtifactRead | None
    created_at: str


class ReferenceRead(TypedDict):
    id: int
    name: str
    source: str
    source_format: str
    content_sha256: str
    row_count: int
    columns: list[str]
    created_at: str


class WindowSpec(TypedDict):
    duration: str | None
    lag: str | None
    start: Any | None
    end: Any | None
    min_rows: int
    max_rows: int | None


class ReferenceSpec(TypedDict):
    kind: str
    dataset: str | None
    start: Any | None
    end: Any | None
    sha256: str | None


class ScheduleSpec(TypedDict):
    every: str | None
    cron: str | None


class SegmentSpec(TypedDict):
    by: list[str]
    top_k: int


class MonitorRead(TypedDict):
    id: int
    model: str
    version: str
    name: str
    kind: str
    params: dict[str, Any]
    window: WindowSpec
    reference: ReferenceSpec
    schedule: ScheduleSpec | None
    severity: str
    alert_on: str
    enabled: bool
    segments: SegmentSpec | None
    trip_on: str | None
    next_run_at: str | None
    created_at: str
    updated_at: str


class CheckRunSummary(TypedDict):
    id: int
    monitor_id: int
    trigger: str
    window_start: str
    window_end: str
    status: str
    rows: int
    labeled_rows: int
    reference_rows: int
    device: str
    duration_s: float
    finished_at: str
    error: str | None


class MonitorStatus(TypedDict):
    id: int
    name: str
    kind: str
    version: str
    enabled: bool
    next_run_at: str | None
    latest_run: CheckRunSummary | None
    open_alerts: int


class AlertRead(TypedDict):
    id: int
    model: str
    version: str
    monitor_id: int
    monitor: str
    kind: str
    cause: str
    severity: str
    state: str
    message: str
    details: dict[str, Any]
    first_run_id: int
    last_run_id: int
    run_count: int
    opened_at: str
    updated_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    acknowledge_comment: str | None
    resolved_at: str | None
    resolved_by: str | None
    resolve_comment: str | None


class VersionStage(TypedDict):
    version: str
    stage: str
    traffic_share: float | None


class ModelStatus(TypedDict):
    model: str
    versions: list[VersionStage]
    monitors: list[MonitorStatus]
    open_alerts: list[AlertRead]


class AlertPage(TypedDict):
    items: list[AlertRead]
    next_cursor: str | None
    next_after_id: int | None


class CheckRunRead(CheckRunSummary):
    """A run with its lineage and result."""

    rows_in_window: int
    window_sha256: str
    reference_sha256: str | None
    reference_source: str
    sampling: dict[str, Any] | None
    detector_kind: str
    detector_version: str
    params: dict[str, Any]
    library_versions: dict[str, str]
    artifact_sha256: str | None
    started_at: str
    compute_seconds: float
    compute_cost: float
    record_sha256: str
    result: dict[str, Any] | None


class SeriesPoint(TypedDict):
    run_id: int
    window_start: str
    window_end: str
    status: str
    rows: int
    metrics: dict[str, float]


class Series(TypedDict):
    monitor_id: int
    kind: str
    segment: str | None
    segments: list[str]
    points: list[SeriesPoint]
    next_cursor: str | None
    next_before_id: int | None


class VolumePoint(TypedDict):
    version: str
    bucket_start: str
    predictions: int
    labeled: int
    mean_latency_ms: float | None


class Volume(TypedDict):
    model: str
    bucket: str
    points: list[VolumePoint]


class AuditEventRead(TypedDict):
    seq: int
    actor: str
    action: str
    subject: str
    occurred_at: str
    payload_sha256: str
    prev_hash: str
    hash: str
    payload: Any | None


class AuditPage(TypedDict):
    items: list[AuditEventRead]
    next_cursor: str | None
    next_after_seq: int | None
    next_before_seq: int | None


class VerifyRead(TypedDict):
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    reason: str | None
    payloads_checked: int
    payloads_missing: int
    predictions_checked: int
    labels_checked: int
    runs_checked: int
    alerts_checked: int
    checkpoint_seq: int | None


class PredictionRead(TypedDict):
    event_id: str
    model: str
    version: str
    occurred_at: str
    received_at: str
    features: dict[str, Any]
    prediction: Any
    score: float | None
    probabilities: dict[str, float] | None
    latency_ms: float | None
    compute_seconds: float | None
    tags: dict[str, str] | None
    label: Any | None
    label_received_at: str | None


class PredictionExplanation(TypedDict):
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


class PublicKey(TypedDict):
    algorithm: str
    public_key: str
    pem: str


class VersionState(TypedDict):
    version: str
    stage: str
    traffic_share: float | None
    role: str | None


class TransitionRead(TypedDict):
    id: int
    version: str
    from_stage: str
    to_stage: str
    actor: str
    person: str
    reason: str
    rollout_mode: str | None
    traffic_share: float | None
    gate_evaluation_id: int | None
    rollback: bool
    created_at: str


class Lifecycle(TypedDict):
    model: str
    versions: list[VersionState]
    transitions: list[TransitionRead]


class ConditionResult(TypedDict):
    condition: str
    observed: float | None
    threshold: float | None
    passed: bool
    run_id: int | None
    why: str


class EvaluationRead(TypedDict):
    id: int
    model: str
    version: str
    policy_revision: int
    passed: bool
    conditions: list[ConditionResult]
    evaluated_by: str
    evaluated_at: str
