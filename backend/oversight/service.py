"""Human oversight (EU AI Act Art. 14): a version's serving state. A compliance or
admin key stops, trips or restores it; a monitor with ``trip_on: critical`` trips it
when it opens a critical alert (only a person restores it); model servers poll it
and report their local breaker. Every change is audited."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from backend import clock
from backend.api.actor import Actor
from backend.audit import service as audit_service
from backend.catalog import service as catalog_service
from backend.models import CheckRun, Model, ModelVersion, Monitor, ServingState
from backend.oversight import repository
from backend.oversight.schemas import LocalReport, ServingRead, ServingWrite

ACTIONS = {"active": "serving.restore", "tripped": "serving.trip", "stopped": "serving.stop"}


def etag(version_id: int, revision: int) -> str:
    return f'"{version_id}.{revision}"'


def _read(model: Model, version: ModelVersion, row: ServingState | None) -> ServingRead:
    if row is None:
        return ServingRead(model=model.name, version=version.version, state="active",
                           reason="", changed_by=None, person=None, alert_id=None, revision=0,
                           changed_at=None)  # fmt: skip
    return ServingRead(
        model=model.name,
        version=version.version,
        state=row.state,
        reason=row.reason,
        changed_by=row.changed_by,
        person=row.person,
        alert_id=row.alert_id,
        revision=row.revision,
        changed_at=row.changed_at,
    )


def get(
    session: Session, *, actor: Actor, model_name: str, version_name: str
) -> tuple[ServingRead, str]:
    model, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    read = _read(model, version, repository.serving_state(session, version.id))
    return read, etag(version.id, read.revision)


def poll_etag(session: Session, *, actor: Actor, model_name: str, version_name: str) -> str | None:
    """The ETag a conditional poll compares with, from one indexed lookup; None for an
    unknown version (the full read answers 404)."""
    found = repository.poll_key(session, actor.project_id, model_name, version_name)
    return None if found is None else etag(*found)


def _change(
    session: Session,
    *,
    project_id: int,
    version: ModelVersion,
    state: str,
    reason: str,
    changed_by: str,
    person: str | None,
    alert_id: int | None,
) -> ServingState:
    row = repository.serving_state(session, version.id, lock=True)
    if row is None:
        row = ServingState(project_id=project_id, model_version_id=version.id, revision=0)
        session.add(row)
    row.state = state
    row.reason = reason
    row.changed_by = changed_by
    row.person = person
    row.alert_id = alert_id
    row.revision = (row.revision or 0) + 1
    row.changed_at = clock.now()
    session.flush()
    return row


def set_state(
    session: Session, *, actor: Actor, model_name: str, version_name: str, spec: ServingWrite
) -> tuple[ServingRead, str]:
    model, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    before = _read(model, version, repository.serving_state(session, version.id))
    row = _change(
        session,
        project_id=actor.project_id,
        version=version,
        state=spec.state,
        reason=spec.reason,
        changed_by=actor.label,
        person=spec.person,
        alert_id=None,
    )
    read = _read(model, version, row)
    audit_service.record(
        session,
        actor,
        ACTIONS[spec.state],
        f"model:{model.name}/version:{version.version}",
        {"from": before.state, **read.model_dump(mode="json")},
    )
    return read, etag(version.id, read.revision)


def trip_from_alerts(
    session: Session, monitor: Monitor, run: CheckRun, alert_ids: Sequence[int]
) -> None:
    """A ``trip_on: critical`` monitor's run opened critical alerts: its version is
    tripped in the run's own transaction (audited as the scheduler)."""
    version = session.get(ModelVersion, monitor.model_version_id)
    assert version is not None
    model = session.get(Model, version.model_id)
    assert model is not None
    current = repository.serving_state(session, version.id)
    if current is not None and current.state in ("tripped", "stopped"):
        return  # already off: a person decides when it comes back
    reason = f"monitor '{monitor.name}' opened critical alert(s) {list(alert_ids)} in run {run.id}"
    row = _change(session, project_id=monitor.project_id, version=version, state="tripped",
                  reason=reason, changed_by=f"verity:monitor:{monitor.id}", person=None,
                  alert_id=alert_ids[0])  # fmt: skip
    audit_service.append(
        session,
        project_id=monitor.project_id,
        actor=f"verity:monitor:{monitor.id}",
        action="serving.trip",
        subject=f"model:{model.name}/version:{version.version}",
        payload={"from": "active", **_read(model, version, row).model_dump(mode="json")},
    )


def report(
    session: Session, *, actor: Actor, model_name: str, version_name: str, spec: LocalReport
) -> None:
    """A model server's local breaker or poll trouble, kept in the audit chain."""
    model, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    audit_service.record(
        session,
        actor,
        f"serving.local_{spec.event}",
        f"model:{model.name}/version:{version.version}",
        spec.model_dump(mode="json"),
    )
