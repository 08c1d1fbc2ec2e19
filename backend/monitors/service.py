from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import clock
from backend.audit import service as audit_service
from backend.auth.actor import Actor
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
            start=monitor.window_start,
            end=monitor.window_end,
            min_rows=monitor.min_rows,
            max_rows=monitor.max_rows,
        ),
        reference=ReferenceSpec(
            kind=monitor.reference_kind,
            dataset=reference_dataset.content_sha256 if reference_dataset else None,
            start=monitor.reference_start,
            end=monitor.reference_end,
        ),
        schedule=ScheduleSpec(
            every=format_duration(monitor.schedule_seconds) if monitor.schedule_seconds else None,
            cron=monitor.cron,
        ),
        severity=monitor.severity,
        alert_on=monitor.alert_on,
        enabled=monitor.enabled,
        next_run_at=monitor.next_run_at,
        created_at=monitor.created_at,
        updated_at=monitor.updated_at,
    )


def _resolve_dataset(session: Session, version: ModelVersion, spec: ReferenceSpec) -> int | None:
    if spec.kind != "dataset" or spec.dataset is None:
        return None
    candidates = session.scalars(
        select(ReferenceDataset).where(ReferenceDataset.model_version_id == version.id)
    ).all()
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


def _apply_window(monitor: Monitor, window: WindowSpec) -> None:
    monitor.window_seconds = parse_duration(window.duration) if window.duration else None
    monitor.window_start = window.start
    monitor.window_end = window.end
    monitor.min_rows = window.min_rows
    monitor.max_rows = window.max_rows


def _apply_schedule(monitor: Monitor, schedule: ScheduleSpec) -> None:
    monitor.schedule_seconds = parse_duration(schedule.every) if schedule.every else None
    monitor.cron = schedule.cron
    monitor.next_run_at = first_run(monitor.schedule_seconds, monitor.cron, clock.now())


def _audit(session: Session, actor: Actor, action: str, monitor: Monitor) -> None:
    read = to_read(session, monitor)
    audit_service.append(
        session,
        project_id=actor.project_id,
        actor=actor.label,
        action=action,
        subject=f"model:{read.model}/version:{read.version}/monitor:{monitor.id}",
        payload=read.model_dump(mode="json", exclude={"next_run_at", "created_at", "updated_at"}),
    )


def create(
    session: Session, *, actor: Actor, model_name: str, version_name: str, spec: MonitorCreate
) -> Monitor:
    _, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    if repository.by_name(session, model_version_id=version.id, name=spec.name) is not None:
        raise Conflict(f"version '{version_name}' already has a monitor named '{spec.name}'")
    monitor = Monitor(
        project_id=actor.project_id,
        model_version_id=version.id,
        name=spec.name,
        kind=spec.kind,
        params=validated_params(spec.kind, spec.params),
        reference_kind=spec.reference.kind,
        reference_dataset_id=_resolve_dataset(session, version, spec.reference),
        reference_start=spec.reference.start,
        reference_end=spec.reference.end,
        severity=spec.severity,
        alert_on=spec.alert_on,
        enabled=spec.enabled,
    )
    _apply_window(monitor, spec.window)
    _apply_schedule(monitor, spec.schedule)
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
    specs, skipped = default_monitors(model, version)
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
        monitor.params = validated_params(monitor.kind, spec.params)
    if spec.window is not None:
        _apply_window(monitor, spec.window)
    if spec.reference is not None:
        monitor.reference_kind = spec.reference.kind
        monitor.reference_dataset_id = _resolve_dataset(session, version, spec.reference)
        monitor.reference_start = spec.reference.start
        monitor.reference_end = spec.reference.end
    if spec.schedule is not None:
        _apply_schedule(monitor, spec.schedule)
    if spec.severity is not None:
        monitor.severity = spec.severity
    if spec.alert_on is not None:
        monitor.alert_on = spec.alert_on
    if spec.enabled is not None:
        if spec.enabled and not monitor.enabled and monitor.next_run_at is None:
            monitor.next_run_at = first_run(monitor.schedule_seconds, monitor.cron, clock.now())
        monitor.enabled = spec.enabled
    monitor.updated_at = clock.now()
    session.flush()
    _audit(session, actor, "monitor.update", monitor)
    return monitor
