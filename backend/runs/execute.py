"""One check run: load (read transaction), compute (no transaction), store (one short
write transaction holding the run, its alerts, notifications and audit event).

Scheduled runs, manual runs and backfills all come through ``execute``. A detector
that fails is stored as an ``error`` run; nothing here raises into the scheduler.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import torch
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import clock, metrics, tracing
from backend.audit import service as audit_service
from backend.catalog.artifacts import load_model
from backend.catalog.storage import ArtifactStore
from backend.config import Settings
from backend.db import Database
from backend.models import CheckRun, ModelVersion, Monitor, ReferenceDataset
from backend.monitors import service as monitors_service
from backend.monitors.specs import next_run
from backend.runs import repository
from backend.runs.lineage import library_versions, record_sha256
from backend.runs.report import build_report
from backend.runs.segments import run_segments, worst_status
from backend.runs.windows.load import (
    LoadedReference,
    LoadedWindow,
    empty_reference,
    load_dataset,
    load_review_window,
    load_window,
    needs_for,
)
from detectors.base import Result
from detectors.estimate.detector import EstimateDetector
from detectors.estimate.dle import FittedDLE
from detectors.explain.detector import ExplainDetector
from detectors.performance.detector import PerformanceDetector
from detectors.registry import build

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    status: str
    result: dict[str, Any] | None
    error: str | None
    device: str
    compute_seconds: float


def window_bounds(monitor: Monitor, window_end: datetime) -> tuple[datetime, datetime]:
    if monitor.window_seconds is not None:
        end = window_end - timedelta(seconds=monitor.window_lag_seconds or 0)
        return end - timedelta(seconds=monitor.window_seconds), end
    assert monitor.window_start is not None
    assert monitor.window_end is not None
    return monitor.window_start, monitor.window_end


def explain_device(settings: Settings) -> str:
    if settings.checks.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return settings.checks.device


FIRST_WEEK = timedelta(days=7)


def first_week(
    session: Session, version: ModelVersion, now: datetime
) -> tuple[datetime, datetime] | str:
    """The version's first seven whole days of traffic (from midnight UTC of its first
    prediction's day), or why they are not complete yet."""
    first = repository.first_prediction_at(session, version.id)
    if first is None:
        return "the version has no traffic yet: its first week is the cost baseline"
    start = first.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + FIRST_WEEK
    if end > now:
        return (
            f"the first week of traffic ends at {end.isoformat()}: the baseline until then is empty"
        )
    return start, end


def _reference(
    session: Session, store: ArtifactStore, monitor: Monitor, version: ModelVersion, now: datetime
) -> tuple[LoadedReference, tuple[datetime, datetime] | None]:
    """The monitor's pinned baseline, and the first week to pin when a first_week
    reference has just become complete."""
    task = repository.model_task(session, version)
    needs = needs_for(monitor.kind, task)
    pin = None
    start, end = monitor.reference_start, monitor.reference_end
    if monitor.reference_kind == "first_week":
        found = first_week(session, version, now)
        if isinstance(found, str):
            empty = empty_reference(version, needs)
            return LoadedReference(empty.window, None, f"first_week: {found}"), None
        pin = start, end = found
    if monitor.reference_kind in ("window", "first_week"):
        assert start is not None
        assert end is not None
        loaded = load_window(
            session, version, start, end, needs=needs, extra=tuple(monitor.segment_by or ())
        )
        return (
            LoadedReference(
                loaded.window, loaded.sha256, f"window:{start.isoformat()}/{end.isoformat()}"
            ),
            pin,
        )
    if monitor.reference_dataset_id is None:
        raise ValueError(
            "the monitor's reference dataset is not pinned: set it with PATCH "
            f"/v1/monitors/{monitor.id} (reference.dataset)"
        )
    dataset = session.get(ReferenceDataset, monitor.reference_dataset_id)
    assert dataset is not None
    return load_dataset(store, version, dataset, needs, task), None


def _champion(
    session: Session, monitor: Monitor, version: ModelVersion, start: datetime, end: datetime
) -> LoadedReference:
    """A comparison's baseline: the champion version's window over the same bounds."""
    name = str(monitor.params.get("champion"))
    champion = repository.version_named(session, version.model_id, name)
    if champion is None:
        raise ValueError(f"the model has no version '{name}' to compare with")
    loaded = load_window(
        session,
        champion,
        start,
        end,
        needs=needs_for(monitor.kind, repository.model_task(session, version)),
        max_rows=monitor.max_rows,
        sample_seed=monitor.id * 1_000_003 + int(end.timestamp()) + 1,
        extra=tuple(monitor.segment_by or ()),
    )
    source = f"champion:{champion.version}@{start.isoformat()}/{end.isoformat()}"
    return LoadedReference(loaded.window, loaded.sha256, source)


@dataclass
class Plan:
    monitor: Monitor
    version: ModelVersion
    start: datetime
    end: datetime
    current: LoadedWindow | None
    reference: LoadedReference | None
    artifact: bytes | None
    load_error: str | None
    # A first_week reference found complete by this run: pinned when it is stored.
    pin_reference: tuple[datetime, datetime] | None = None
    # Explain: the reference's importance from an earlier run with the same lineage.
    reference_importance: dict[str, float] | None = None
    # Performance and estimated performance: the levels the version declares.
    declared: dict[str, float] | None = None
    # DLE: the nanny model an earlier run trained on the same reference.
    nanny: FittedDLE | None = None
    # Performance: the estimate an estimated_performance run made of this window.
    estimate: dict[str, Any] | None = None


def _plan(session: Session, store: ArtifactStore, monitor: Monitor, window_end: datetime) -> Plan:
    version = session.get(ModelVersion, monitor.model_version_id)
    assert version is not None
    start, end = window_bounds(monitor, window_end)
    try:
        if monitor.kind == "review":
            current = load_review_window(session, version, start, end)
            reference = empty_reference(version, needs_for("review", "binary"))
            return Plan(monitor, version, start, end, current, reference, None, None)
        current = load_window(
            session,
            version,
            start,
            end,
            needs=needs_for(monitor.kind, repository.model_task(session, version)),
            max_rows=monitor.max_rows,
            sample_seed=monitor.id * 1_000_003 + int(end.timestamp()),
            extra=tuple(monitor.segment_by or ()),
        )
        if monitor.kind == "comparison":
            reference, pin = _champion(session, monitor, version, start, end), None
        else:
            reference, pin = _reference(session, store, monitor, version, clock.now())
        artifact = None
        known = None
        if monitor.kind == "explain":
            if version.artifact_path is None:
                raise ValueError("the version has no TorchScript artifact to explain")
            artifact = store.read(version.artifact_path)
            known = _known_reference_importance(session, monitor, version, reference.sha256)
        plan = Plan(monitor, version, start, end, current, reference, artifact, None, pin, known)
        if monitor.kind in ("performance", "estimated_performance"):
            plan.declared = dict(version.declared_metrics or {})
        if monitor.kind == "estimated_performance":
            plan.nanny = _known_nanny(session, store, monitor, reference.sha256)
        if monitor.kind == "performance":
            found = repository.estimate_for_window(session, version.id, start, end)
            if found is not None and found.result:
                plan.estimate = {"check_run_id": found.id, **found.result}
        return plan
    except Exception as error:  # stored as the run's error; the scheduler goes on
        logger.exception("loading check %s failed", monitor.id)
        return Plan(
            monitor, version, start, end, None, None, None, f"{type(error).__name__}: {error}"
        )


def _known_reference_importance(
    session: Session, monitor: Monitor, version: ModelVersion, reference_sha256: str | None
) -> dict[str, float] | None:
    """The reference importance of the monitor's latest completed run, when it was
    computed from the same reference rows, artifact, detector version and params."""
    if reference_sha256 is None:
        return None
    previous = repository.latest_completed_run(
        session,
        monitor_id=monitor.id,
        reference_sha256=reference_sha256,
        artifact_sha256=version.artifact_sha256,
        detector_version=ExplainDetector.version,
    )
    if previous is None or previous.params != monitor.params or not previous.result:
        return None
    importance = previous.result.get("reference_importance")
    return dict(importance) if importance else None


NANNY_DIR = "nanny"


def _nanny_path(monitor_id: int, sha256: str) -> str:
    return f"{NANNY_DIR}/{monitor_id}/{sha256}.pkl"


def _known_nanny(
    session: Session, store: ArtifactStore, monitor: Monitor, reference_sha256: str | None
) -> FittedDLE | None:
    """The DLE nanny model the monitor's latest completed run trained on the same
    reference rows with the same params, read back only if its bytes still hash to
    the digest that run recorded (and audited)."""
    if reference_sha256 is None:
        return None
    previous = repository.latest_nanny_run(
        session,
        monitor_id=monitor.id,
        reference_sha256=reference_sha256,
        detector_version=EstimateDetector.version,
    )
    if previous is None or previous.params != monitor.params or previous.artifact_sha256 is None:
        return None
    try:
        data = store.read(_nanny_path(monitor.id, previous.artifact_sha256))
    except FileNotFoundError:
        return None
    if hashlib.sha256(data).hexdigest() != previous.artifact_sha256:
        logger.warning("nanny model of monitor %s does not match its digest", monitor.id)
        return None
    # Our own file, checked against the digest its run recorded in the audit chain.
    nanny = pickle.loads(data)
    return nanny if isinstance(nanny, FittedDLE) else None


def side_by_side(estimate: dict[str, Any], realized: dict[str, Any]) -> dict[str, Any]:
    """The estimate made of this window before its labels came, beside the realized
    value, and the estimation error (estimate − realized), shown, not hidden."""
    metrics = realized.get("metrics") or {}
    compared = {}
    for name, value in (estimate.get("estimates") or {}).items():
        actual = metrics.get(name)
        compared[name] = {
            "estimated": value["value"],
            "lower_confidence": value["lower_confidence"],
            "upper_confidence": value["upper_confidence"],
            "realized": actual,
            "error": None if actual is None else value["value"] - actual,
        }
    return {"check_run_id": estimate["check_run_id"], "metrics": compared}


def _report_or_error(store: ArtifactStore, *args: Any, **kwargs: Any) -> dict[str, Any]:
    # A report that cannot be built never fails the check it illustrates.
    try:
        return build_report(store, *args, **kwargs)
    except Exception as error:
        logger.exception("the Evidently report failed")
        return {"error": f"{type(error).__name__}: {error}"[:2000]}


def compute(plan: Plan, settings: Settings) -> Outcome:
    monitor = plan.monitor
    if plan.load_error is not None or plan.current is None or plan.reference is None:
        return Outcome("error", None, plan.load_error, "cpu", 0.0)
    if plan.current.rows_in_window < monitor.min_rows:
        detail = (
            f"{plan.current.rows_in_window} rows in the window; "
            f"the monitor needs {monitor.min_rows}"
        )
        return Outcome(
            "insufficient_data", {"status": "insufficient_data", "detail": detail}, None, "cpu", 0.0
        )
    device = "cpu"
    started = time.perf_counter()
    try:
        detector = build(monitor.kind, monitor.params)
        if isinstance(detector, ExplainDetector):
            assert plan.artifact is not None
            device = explain_device(settings)
            model = load_model(plan.artifact, device)
            detector = detector.with_model(model, device)
            if plan.reference_importance is not None:
                detector = detector.with_reference_importance(plan.reference_importance)
        if isinstance(detector, PerformanceDetector | EstimateDetector) and plan.declared:
            detector = detector.with_declared(plan.declared)
        if isinstance(detector, EstimateDetector):
            detector = detector.with_nanny(plan.nanny)
        result: Result = detector.run(plan.reference.window, plan.current.window)
        nanny = detector.nanny if isinstance(detector, EstimateDetector) else None
        status = result.status.value
        segments = None
        if monitor.segment_by:
            segments = run_segments(
                detector.run,
                plan.reference.window,
                plan.current.window,
                list(monitor.segment_by),
                monitor.segment_top_k or 10,
            )
            status = worst_status([status, *(s["status"] for s in segments)])
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
        dumped = result.model_dump(mode="json")
        if segments is not None:
            dumped.update(
                status=status,
                window_status=result.status.value,
                segment_by=list(monitor.segment_by or []),
                segments=segments,
            )
        report_rows = int(monitor.params.get("report_rows", 0)) if monitor.kind == "drift" else 0
        if report_rows:
            dumped["report"] = _report_or_error(
                ArtifactStore(settings.resolved_artifact_dir),
                plan.reference.window,
                plan.current.window,
                rows=report_rows,
                seed=monitor.id,
            )
        if plan.estimate is not None:
            dumped["estimated"] = side_by_side(plan.estimate, dumped)
        if nanny is not None:
            data = nanny.to_bytes()
            digest = hashlib.sha256(data).hexdigest()
            ArtifactStore(settings.resolved_artifact_dir).write(
                _nanny_path(monitor.id, digest), data
            )
            dumped["nanny_sha256"] = digest
        return Outcome(status, dumped, None, name, seconds)
    except Exception as error:
        seconds = time.perf_counter() - started
        logger.exception("check %s failed", monitor.id)
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        return Outcome("error", None, text[:4000], device, seconds)


def _store(
    session: Session,
    plan: Plan,
    outcome: Outcome,
    *,
    trigger: str,
    started_at: datetime,
    settings: Settings,
) -> tuple[CheckRun, dict[str, list[int]]]:
    monitor = plan.monitor
    price = (
        settings.checks.price_per_gpu_second
        if outcome.device != "cpu"
        else settings.checks.price_per_cpu_second
    )
    finished = clock.now()
    current = plan.current
    run = CheckRun(
        project_id=monitor.project_id,
        monitor_id=monitor.id,
        model_version_id=monitor.model_version_id,
        trigger=trigger,
        window_start=plan.start,
        window_end=plan.end,
        status=outcome.status,
        rows=len(current.window) if current else 0,
        rows_in_window=current.rows_in_window if current else 0,
        labeled_rows=current.labeled_rows if current else 0,
        reference_rows=len(plan.reference.window) if plan.reference else 0,
        window_sha256=current.sha256 if current else "",
        reference_sha256=plan.reference.sha256 if plan.reference else None,
        reference_source=plan.reference.source if plan.reference else "none",
        sampling=current.sampling if current else None,
        detector_kind=monitor.kind,
        detector_version=build(monitor.kind, monitor.params).version,
        params=monitor.params,
        library_versions=library_versions(),
        artifact_sha256=_lineage_artifact(monitor, plan, outcome),
        device=outcome.device,
        started_at=started_at,
        finished_at=finished,
        duration_s=(finished - started_at).total_seconds(),
        compute_seconds=outcome.compute_seconds,
        compute_cost=outcome.compute_seconds * price,
        result=outcome.result,
        error=outcome.error,
        record_sha256="",
    )
    session.add(run)
    session.flush()  # IntegrityError here: this window has a run already
    if plan.pin_reference is not None and monitor.reference_kind == "first_week":
        monitors_service.pin_first_week(session, monitor, *plan.pin_reference)
    run.record_sha256 = record_sha256(run)
    alerts = _alert_hooks()
    changes = alerts.apply_outcome(
        session, monitor, run, status=outcome.status, result=outcome.result, error=outcome.error
    )
    if monitor.trip_on == "critical" and changes.get("opened"):
        # The kill switch, in the run's own transaction: no run without its trip.
        _tripper()(session, monitor, run, changes["opened"])
    touched = sorted({alert_id for ids in changes.values() for alert_id in ids})
    audit_service.append(
        session,
        project_id=monitor.project_id,
        actor=f"verity:{trigger}",
        action="check_run.record",
        subject=f"monitor:{monitor.id}/check_run:{run.id}",
        payload={
            "check_run_id": run.id,
            "record_sha256": run.record_sha256,
            "status": run.status,
            "window_start": run.window_start.isoformat(),
            "window_end": run.window_end.isoformat(),
            "window_sha256": run.window_sha256,
            "reference_sha256": run.reference_sha256,
            "alerts": changes,
            "alert_records": alerts.digests(session, touched) if touched else {},
        },
    )
    return run, changes


def _lineage_artifact(monitor: Monitor, plan: Plan, outcome: Outcome) -> str | None:
    """The model a run computed with: the served artifact for explain, the DLE nanny
    model for estimated performance."""
    if monitor.kind == "explain":
        return plan.version.artifact_sha256
    if monitor.kind == "estimated_performance" and outcome.result:
        digest = outcome.result.get("nanny_sha256")
        return str(digest) if digest else None
    return None


def _count(run: CheckRun, changes: dict[str, list[int]], severity: str, started: float) -> None:
    metrics.check_runs.labels(run.detector_kind, run.status, run.trigger).inc()
    metrics.check_compute_seconds.labels(run.detector_kind).observe(run.compute_seconds)
    metrics.check_run_seconds.labels(run.detector_kind).observe(time.perf_counter() - started)
    for event in ("opened", "resolved"):
        if changes[event]:
            metrics.alert_transitions.labels(event, severity).inc(len(changes[event]))


class AlertHooks(Protocol):
    """What the alerts domain, which sits above runs, registers at start-up
    (``backend.hooks.install``): a stored run opens, refreshes or resolves its alerts in
    the run's own transaction, and the run's audit event carries their digests."""

    def apply_outcome(
        self,
        session: Session,
        monitor: Monitor,
        run: CheckRun,
        *,
        status: str,
        result: dict[str, Any] | None,
        error: str | None,
    ) -> dict[str, list[int]]: ...

    def digests(self, session: Session, alert_ids: Sequence[int]) -> dict[str, str]: ...


_registered_alerts: AlertHooks | None = None


def register_alerts(hooks: AlertHooks) -> None:
    global _registered_alerts
    _registered_alerts = hooks


def _alert_hooks() -> AlertHooks:
    # Never store a run without its alerts: a missing hook fails the run's transaction.
    if _registered_alerts is None:
        raise RuntimeError(
            "no alerts hook is registered with the runs domain; "
            "call backend.hooks.install() at start-up"
        )
    return _registered_alerts


Tripper = Callable[[Session, Monitor, CheckRun, Sequence[int]], None]
_registered_tripper: Tripper | None = None


def register_tripper(tripper: Tripper) -> None:
    """The oversight domain's kill switch: a ``trip_on: critical`` monitor's new
    critical alerts trip its version."""
    global _registered_tripper
    _registered_tripper = tripper


def _tripper() -> Tripper:
    if _registered_tripper is None:
        raise RuntimeError(
            "no serving-state hook is registered with the runs domain; "
            "call backend.hooks.install() at start-up"
        )
    return _registered_tripper


def existing_run(session: Session, monitor_id: int, window_end: datetime) -> CheckRun | None:
    return repository.run_for_window(session, monitor_id, window_end)


def execute(
    database: Database,
    settings: Settings,
    monitor_id: int,
    window_end: datetime,
    *,
    trigger: str,
    lease_owner: str | None = None,
) -> tuple[CheckRun | None, bool]:
    """Run the monitor's check for the window ending at ``window_end``. Returns the
    run and whether this call created it (False: the window had a run already, or a
    scheduler's lease was lost to another)."""
    with tracing.span("verity.check_run", monitor_id=monitor_id, trigger=trigger) as span:
        run, created = _execute(
            database, settings, monitor_id, window_end, trigger=trigger, lease_owner=lease_owner
        )
        if span is not None and run is not None:
            span.set_attributes(
                {
                    "verity.kind": run.detector_kind,
                    "verity.status": run.status,
                    "verity.rows": run.rows,
                    "verity.reference_rows": run.reference_rows,
                    "verity.created": created,
                }
            )
        return run, created


def _execute(
    database: Database,
    settings: Settings,
    monitor_id: int,
    window_end: datetime,
    *,
    trigger: str,
    lease_owner: str | None,
) -> tuple[CheckRun | None, bool]:
    store = ArtifactStore(settings.resolved_artifact_dir)
    started_at = clock.now()
    started = time.perf_counter()
    with database.transaction(read_only=True) as session:
        monitor = session.get(Monitor, monitor_id)
        assert monitor is not None
        done = existing_run(session, monitor_id, _effective_end(monitor, window_end))
        if done is not None:
            session.expunge(done)
            plan = None
        else:
            plan = _plan(session, store, monitor, window_end)
            session.expunge_all()
    if plan is None:
        _advance(database, monitor_id, window_end, lease_owner)
        return done, False
    outcome = compute(plan, settings)
    try:
        with database.transaction() as session:
            monitor = session.get(Monitor, monitor_id)
            assert monitor is not None
            if lease_owner is not None and monitor.lease_owner != lease_owner:
                return None, False  # the lease expired and another scheduler took it
            plan.monitor = monitor
            run, changes = _store(
                session, plan, outcome, trigger=trigger, started_at=started_at, settings=settings
            )
            if lease_owner is not None:
                _advance_in(session, monitor, window_end)
            session.flush()
            session.expunge(run)
            severity = monitor.severity
        _count(run, changes, severity, started)
        return run, True
    except IntegrityError:
        # Another path stored this window between our check and our insert.
        _advance(database, monitor_id, window_end, lease_owner)
        with database.transaction(read_only=True) as session:
            done = existing_run(session, monitor_id, plan.end)
            if done is not None:
                session.expunge(done)
            return done, False


def _effective_end(monitor: Monitor, window_end: datetime) -> datetime:
    return window_bounds(monitor, window_end)[1]


def _advance_in(session: Session, monitor: Monitor, scheduled: datetime) -> None:
    now = clock.now()
    if monitor.window_seconds is None:
        monitor.next_run_at = None  # a fixed window runs once
    else:
        monitor.next_run_at = next_run(monitor.schedule_seconds, monitor.cron, scheduled, now)
    monitor.lease_owner = None
    monitor.lease_expires_at = None


def _advance(database: Database, monitor_id: int, scheduled: datetime, owner: str | None) -> None:
    if owner is None:
        return
    with database.transaction() as session:
        monitor = session.get(Monitor, monitor_id)
        if monitor is not None and monitor.lease_owner == owner:
            _advance_in(session, monitor, scheduled)
