from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from backend import clock
from backend.api.actor import Actor
from backend.audit import service as audit_service
from backend.catalog import repository as catalog_repository
from backend.catalog import service as catalog_service
from backend.errors import Conflict, InvalidInput, NotFound
from backend.models import ModelVersion, Monitor, ReferenceDataset
from backend.monitors import repository
from backend.monitors.defaults import default_monitors
from backend.monitors.schemas import (
    MonitorCreate,
    MonitorRead,
    MonitorUpdate,
    ReferenceSpec,
    ScheduleSpec,
    SegmentSpec,
    WindowSpec,
)
from backend.monitors.specs import first_run, format_duration, parse_duration
from detectors.registry import UnknownDetector, build


def validated_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The params as the detector's pydantic model holds them (defaults filled in);
    a 422 naming each bad field otherwise."""
    try:
        detector = build(kind, params)
    except UnknownDetector as error:
        raise InvalidInput(str(error), errors=[{"field": "kind", "message": str(error)}]) from None
    except ValidationError as error:
        errors = [
            {
                "field": ".".join(["params", *(str(part) for part in e["loc"])]),
                "message": e["msg"],
            }
            for e in error.errors()
        ]
        raise InvalidInput("invalid detector params", errors=errors) from None
    dumped: dict[str, Any] = detector.params.model_dump(mode="json")
    return dumped


def to_read(session: Session, monitor: Monitor) -> MonitorRead:
    model_name, version_name = repository.names(session, monitor.model_version_id)
    reference_dataset = (
        session.get(ReferenceDataset, monitor.reference_dataset_id)
        if monitor.reference_dataset_id
        else None
    )
    return MonitorRead(
        id=monitor.id,
        model=model_name,
        version=version_name,
        name=monitor.name,
        kind=monitor.kind,
        params=monitor.params,
        window=WindowSpec(
            duration=format_duration(monitor.window_seconds) if monitor.window_seconds else None,
            lag=format_duration(monitor.window_lag_seconds) if monitor.window_lag_seconds else None,
            start=monitor.window_start,
            end=monitor.window_end,
            min_rows=monitor.min_rows,
            max_rows=monitor.max_rows,
        ),
        reference=ReferenceSpec(
            kind=monitor.reference_kind,
            dataset=reference_dataset.name if reference_dataset else None,
            sha256=reference_dataset.content_sha256 if reference_dataset else None,
            start=monitor.reference_start,
            end=monitor.reference_end,
        ),
        schedule=ScheduleSpec(
            every=format_duration(monitor.schedule_seconds) if monitor.schedule_seconds else None,
            cron=monitor.cron,
        )
        if monitor.schedule_seconds or monitor.cron
        else None,
        severity=monitor.severity,
        alert_on=monitor.alert_on,
        enabled=monitor.enabled,
        segments=SegmentSpec(by=monitor.segment_by, top_k=monitor.segment_top_k or 10)
        if monitor.segment_by
        else None,
        trip_on=monitor.trip_on,
        next_run_at=monitor.next_run_at,
        created_at=monitor.created_at,
        updated_at=monitor.updated_at,
    )


def _resolve_dataset(session: Session, version: ModelVersion, spec: ReferenceSpec) -> int | None:
    """The dataset a reference pins: the one named (by name or hash prefix), or the
    version's newest now; a 422 when there is none to pin."""
    if spec.kind != "dataset":
        return None
    candidates = catalog_repository.list_references(session, model_version_id=version.id)
    if spec.dataset is None:
        if not candidates:
            raise InvalidInput(
                "the version has no reference dataset to pin as this monitor's baseline; "
                "upload one, or give a window or first_week reference",
                errors=[{"field": "reference", "message": "no reference dataset"}],
            )
        return candidates[-1].id
    found = [
        r for r in candidates if r.name == spec.dataset or r.content_sha256.startswith(spec.dataset)
    ]
    if len(found) != 1:
        problem = "no" if not found else "more than one"
        raise InvalidInput(
            f"{problem} reference dataset of this version matches '{spec.dataset}'",
            errors=[{"field": "reference.dataset", "message": "give a unique name or hash"}],
        )
    return found[0].id


def _check_champion(
    session: Session, version: ModelVersion, kind: str, params: dict[str, Any]
) -> None:
    """A comparison names another version of the same model as its champion."""
    if kind != "comparison":
        return
    name = params["champion"]
    champion = catalog_repository.get_version(session, model_id=version.model_id, version=name)
    if champion is None or champion.id == version.id:
        problem = "is this version" if champion is not None else "is not a version of this model"
        raise InvalidInput(
            f"the champion '{name}' {problem}",
            errors=[{"field": "params.champion", "message": f"'{name}' {problem}"}],
        )


def _trip_on(trip_on: str | None, severity: str) -> str | None:
    """Only a critical monitor trips its version."""
    if trip_on == "critical" and severity != "critical":
        raise InvalidInput(
            "trip_on: critical needs a monitor of severity critical",
            errors=[{"field": "trip_on", "message": f"the monitor's severity is {severity}"}],
        )
    return trip_on


def _apply_segments(monitor: Monitor, version: ModelVersion, spec: SegmentSpec | None) -> None:
    """Segments are categorical features of the version's schema; a 422 names any
    other."""
    if spec is None:
        monitor.segment_by = monitor.segment_top_k = None
        return
    kinds = {f["name"]: f["dtype"] for f in version.features}
    bad = [name for name in spec.by if kinds.get(name) != "categorical"]
    if bad:
        raise InvalidInput(
            f"segments are defined by categorical features of the version's schema; not {bad}",
            errors=[{"field": "segments.by", "message": f"not categorical features: {bad}"}],
        )
    if len(set(spec.by)) != len(spec.by):
        raise InvalidInput(
            "a feature is listed twice in segments.by",
            errors=[{"field": "segments.by", "message": "duplicate feature"}],
        )
    monitor.segment_by = list(spec.by)
    monitor.segment_top_k = spec.top_k


def _apply_window(monitor: Monitor, window: WindowSpec) -> None:
    monitor.window_seconds = parse_duration(window.duration) if window.duration else None
    monitor.window_lag_seconds = parse_duration(window.lag) if window.lag else None
    monitor.window_start = window.start
    monitor.window_end = window.end
    monitor.min_rows = window.min_rows
    monitor.max_rows = window.max_rows


def _apply_schedule(monitor: Monitor, schedule: ScheduleSpec | None) -> None:
    if schedule is None:
        # A fixed window without a schedule runs once, as soon as it has ended.
        if monitor.window_seconds is not None:
            raise InvalidInput(
                "a trailing window needs a schedule: every or cron",
                errors=[{"field": "schedule", "message": "required for a trailing window"}],
            )
        monitor.schedule_seconds = monitor.cron = None
        assert monitor.window_end is not None
        monitor.next_run_at = monitor.window_end
        return
    monitor.schedule_seconds = parse_duration(schedule.every) if schedule.every else None
    monitor.cron = schedule.cron
    monitor.next_run_at = first_run(monitor.schedule_seconds, monitor.cron, clock.now())


def _audit(session: Session, actor: Actor, action: str, monitor: Monitor) -> None:
    read = to_read(session, monitor)
    audit_service.record(
        session,
        actor,
        action,
        f"model:{read.model}/version:{read.version}/monitor:{monitor.id}",
        read.model_dump(mode="json", exclude={"next_run_at", "created_at", "updated_at"}),
    )


def _audit_reference(
    session: Session, actor_label: str, monitor: Monitor, before: Any, after: Any
) -> None:
    """A baseline is a decision: every change of one is its own audit event."""
    model_name, version_name = repository.names(session, monitor.model_version_id)
    audit_service.append(
        session,
        project_id=monitor.project_id,
        actor=actor_label,
        action="monitor.reference_change",
        subject=f"model:{model_name}/version:{version_name}/monitor:{monitor.id}",
        payload={
            "from": before.model_dump(mode="json") if before else None,
            "to": after.model_dump(mode="json"),
        },
    )


def pin_first_week(session: Session, monitor: Monitor, start: datetime, end: datetime) -> None:
    """Turns a first_week reference into the window it found, for good (audited)."""
    before = to_read(session, monitor).reference
    monitor.reference_kind = "window"
    monitor.reference_start, monitor.reference_end = start, end
    session.flush()
    _audit_reference(
        session, "verity:scheduler", monitor, before, to_read(session, monitor).reference
    )


def create(
    session: Session, *, actor: Actor, model_name: str, version_name: str, spec: MonitorCreate
) -> Monitor:
    _, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    if repository.by_name(session, model_version_id=version.id, name=spec.name) is not None:
        raise Conflict(f"version '{version_name}' already has a monitor named '{spec.name}'")
    reference = spec.reference
    if "reference" not in spec.model_fields_set and not repository.has_reference_dataset(
        session, model_version_id=version.id
    ):
        # No reference given and no dataset to pin: the first week of traffic.
        reference = ReferenceSpec(kind="first_week")
    params = validated_params(spec.kind, spec.params)
    _check_champion(session, version, spec.kind, params)
    monitor = Monitor(
        project_id=actor.project_id,
        model_version_id=version.id,
        name=spec.name,
        kind=spec.kind,
        params=params,
        reference_kind=reference.kind,
        reference_dataset_id=_resolve_dataset(session, version, reference),
        reference_start=reference.start,
        reference_end=reference.end,
        severity=spec.severity,
        alert_on=spec.alert_on,
        enabled=spec.enabled,
    )
    _apply_window(monitor, spec.window)
    _apply_schedule(monitor, spec.schedule)
    _apply_segments(monitor, version, spec.segments)
    monitor.trip_on = _trip_on(spec.trip_on, spec.severity)
    session.add(monitor)
    session.flush()
    _audit(session, actor, "monitor.create", monitor)
    return monitor


def create_defaults(
    session: Session, *, actor: Actor, model_name: str, version_name: str
) -> tuple[list[Monitor], list[str]]:
    """Creates the default set; monitors whose name exists already are left as they
    are, so the call is safe to repeat."""
    model, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    columns = repository.newest_reference_columns(session, model_version_id=version.id)
    specs, skipped = default_monitors(
        model, version, has_dataset=columns is not None, reference_columns=columns or []
    )
    created = []
    for spec in specs:
        existing = repository.by_name(session, model_version_id=version.id, name=spec.name)
        if existing is not None:
            skipped.append(f"{spec.name}: a monitor of that name exists")
            continue
        created.append(
            create(
                session, actor=actor, model_name=model_name, version_name=version_name, spec=spec
            )
        )
    return created, skipped


def get(session: Session, *, actor: Actor, monitor_id: int) -> Monitor:
    monitor = repository.get(session, project_id=actor.project_id, monitor_id=monitor_id)
    if monitor is None:
        raise NotFound(f"no monitor {monitor_id}")
    return monitor


def list_monitors(
    session: Session, *, actor: Actor, model_name: str, version_name: str
) -> Sequence[Monitor]:
    _, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    return repository.list_for_version(session, model_version_id=version.id)


def update(session: Session, *, actor: Actor, monitor_id: int, spec: MonitorUpdate) -> Monitor:
    monitor = get(session, actor=actor, monitor_id=monitor_id)
    version = session.get(ModelVersion, monitor.model_version_id)
    assert version is not None
    if spec.params is not None:
        params = validated_params(monitor.kind, spec.params)
        _check_champion(session, version, monitor.kind, params)
        monitor.params = params
    if spec.window is not None:
        _apply_window(monitor, spec.window)
    if spec.reference is not None:
        before = to_read(session, monitor).reference
        monitor.reference_kind = spec.reference.kind
        monitor.reference_dataset_id = _resolve_dataset(session, version, spec.reference)
        monitor.reference_start = spec.reference.start
        monitor.reference_end = spec.reference.end
        session.flush()
        after = to_read(session, monitor).reference
        if after != before:
            _audit_reference(session, actor.label, monitor, before, after)
    if spec.schedule is not None:
        _apply_schedule(monitor, spec.schedule)
    if spec.severity is not None:
        monitor.severity = spec.severity
    if spec.alert_on is not None:
        monitor.alert_on = spec.alert_on
    if "trip_on" in spec.model_fields_set:
        monitor.trip_on = _trip_on(spec.trip_on, monitor.severity)
    if "segments" in spec.model_fields_set:
        _apply_segments(monitor, version, spec.segments)  # null turns segments off
    if spec.enabled is not None:
        if spec.enabled and not monitor.enabled and monitor.next_run_at is None:
            monitor.next_run_at = first_run(monitor.schedule_seconds, monitor.cron, clock.now())
        monitor.enabled = spec.enabled
    monitor.updated_at = clock.now()
    session.flush()
    _audit(session, actor, "monitor.update", monitor)
    return monitor
