"""Incidents (EU AI Act Art. 73). An incident is opened by hand or from alerts; its
classification and the time the team became aware give the reporting deadline; its
timeline holds what happened and who did what. Every change is audited, and a
deadline about to pass is notified."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from backend import clock
from backend.api.actor import Actor
from backend.audit import service as audit_service
from backend.catalog import service as catalog_service
from backend.errors import Conflict, InvalidInput, NotFound
from backend.models import Incident, IncidentEvent, Model, ModelVersion
from backend.notifications import outbox
from backend.oversight import repository
from backend.oversight.schemas import (
    Classify,
    IncidentCreate,
    IncidentRead,
    Note,
    StatusChange,
    TimelineEntry,
)

# Art. 73(2)-(4): days from awareness to the report.
REPORTING_DAYS = {"serious_incident": 15, "death": 10, "widespread_or_critical_infrastructure": 2}
STATUS_ORDER = ("open", "investigating", "reported", "closed")
WARN_BEFORE = timedelta(hours=48)


def deadline(classification: str, aware_at: datetime) -> datetime | None:
    days = REPORTING_DAYS.get(classification)
    return None if days is None else aware_at + timedelta(days=days)


def _names(session: Session, incident: Incident) -> tuple[str, str]:
    version = session.get(ModelVersion, incident.model_version_id)
    assert version is not None
    model = session.get(Model, version.model_id)
    assert model is not None
    return model.name, version.version


def to_read(session: Session, incident: Incident) -> IncidentRead:
    model, version = _names(session, incident)
    now = clock.now()
    left = (incident.deadline_at - now).total_seconds() if incident.deadline_at else None
    done = incident.status in ("reported", "closed")
    return IncidentRead(
        id=incident.id,
        model=model,
        version=version,
        title=incident.title,
        severity=incident.severity,
        classification=incident.classification,
        status=incident.status,
        aware_at=incident.aware_at,
        deadline_at=incident.deadline_at,
        seconds_left=left,
        overdue=left is not None and left < 0 and not done,
        opened_by=incident.opened_by,
        created_at=incident.created_at,
        timeline=[
            TimelineEntry(
                at=e.at, kind=e.kind, actor=e.actor, text=e.text, run_id=e.run_id, data=e.data
            )
            for e in repository.timeline(session, incident.id)
        ],
    )


def _event(
    session: Session, incident: Incident, actor: str, kind: str, text: str,
    data: dict[str, Any] | None = None, run_id: int | None = None,
) -> None:  # fmt: skip
    session.add(IncidentEvent(project_id=incident.project_id, incident_id=incident.id, kind=kind,
                              text=text, data=data or {}, actor=actor, at=clock.now(),
                              run_id=run_id))  # fmt: skip
    incident.updated_at = clock.now()
    session.flush()


def _audit(session: Session, actor: Actor, action: str, incident: Incident, extra: dict) -> None:
    model, version = _names(session, incident)
    audit_service.record(
        session, actor, action, f"model:{model}/version:{version}/incident:{incident.id}",
        {"incident_id": incident.id, "classification": incident.classification,
         "status": incident.status, "deadline_at": incident.deadline_at.isoformat()
         if incident.deadline_at else None, **extra},
    )  # fmt: skip


def open_incident(session: Session, *, actor: Actor, spec: IncidentCreate) -> IncidentRead:
    model, version = catalog_service.get_version(
        session, actor=actor, model_name=spec.model, version=spec.version
    )
    alerts = repository.alerts_of_version(session, version.id, spec.alert_ids)
    missing = sorted(set(spec.alert_ids) - {a.id for a in alerts})
    if missing:
        raise InvalidInput(
            f"alerts {missing} are not alerts of {model.name} {version.version}",
            errors=[{"field": "alert_ids", "message": f"not this version's: {missing}"}],
        )
    now = clock.now()
    aware = spec.aware_at or now
    if aware > now:
        raise InvalidInput("aware_at is in the future",
                           errors=[{"field": "aware_at", "message": "in the future"}])  # fmt: skip
    incident = Incident(
        project_id=actor.project_id, model_version_id=version.id, title=spec.title,
        severity=spec.severity, classification=spec.classification, status="open",
        aware_at=aware, deadline_at=deadline(spec.classification, aware), opened_by=actor.label,
        created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(incident)
    session.flush()
    _event(session, incident, actor.label, "opened", spec.note or spec.title,
           {"classification": spec.classification, "aware_at": aware.isoformat()})  # fmt: skip
    for alert in alerts:
        text = f"alert #{alert.id} {alert.cause}: {alert.message}"
        data = {"alert_id": alert.id, "severity": alert.severity}
        _event(session, incident, actor.label, "alert_linked", text, data, alert.last_run_id)
    for change in repository.serving_history(session, version.id):
        _event(session, incident, "verity", "serving_state",
               f"serving state {change.state}: {change.reason}",
               {"revision": change.revision, "changed_by": change.changed_by})  # fmt: skip
    _audit(session, actor, "incident.open", incident, {"alert_ids": [a.id for a in alerts]})
    return to_read(session, incident)


def _get(session: Session, actor: Actor, incident_id: int) -> Incident:
    incident = repository.incident(session, actor.project_id, incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_id}")
    return incident


def get(session: Session, *, actor: Actor, incident_id: int) -> IncidentRead:
    return to_read(session, _get(session, actor, incident_id))


def classify(session: Session, *, actor: Actor, incident_id: int, spec: Classify) -> IncidentRead:
    incident = _get(session, actor, incident_id)
    before = incident.classification
    incident.classification = spec.classification
    incident.deadline_at = deadline(spec.classification, incident.aware_at)
    incident.deadline_warned_at = None
    _event(session, incident, actor.label, "classified",
           f"{before} → {spec.classification}: {spec.reason}",
           {"from": before, "to": spec.classification})  # fmt: skip
    _audit(session, actor, "incident.classify", incident, {"from": before, "reason": spec.reason})
    return to_read(session, incident)


def change_status(
    session: Session, *, actor: Actor, incident_id: int, spec: StatusChange
) -> IncidentRead:
    incident = _get(session, actor, incident_id)
    if STATUS_ORDER.index(spec.status) <= STATUS_ORDER.index(incident.status):
        raise Conflict(f"incident {incident.id} is {incident.status}; it moves forward only "
                       f"({' → '.join(STATUS_ORDER)})")  # fmt: skip
    if spec.status == "reported" and incident.classification in ("unclassified", "not_reportable"):
        raise Conflict(f"incident {incident.id} is {incident.classification}: classify it as "
                       "reportable before marking it reported")  # fmt: skip
    before = incident.status
    incident.status = spec.status
    _event(session, incident, actor.label, "status", f"{before} → {spec.status}: {spec.note}",
           {"from": before, "to": spec.status})  # fmt: skip
    _audit(session, actor, "incident.status", incident, {"from": before, "note": spec.note})
    return to_read(session, incident)


def add_note(session: Session, *, actor: Actor, incident_id: int, spec: Note) -> IncidentRead:
    incident = _get(session, actor, incident_id)
    _event(session, incident, actor.label, "note", spec.text)
    _audit(session, actor, "incident.note", incident, {"text": spec.text})
    return to_read(session, incident)


def warn_deadlines(session: Session) -> int:
    """``oversight.deadlines``: each open incident whose reporting deadline is less
    than 48 hours away is notified once (every channel) and the warning audited."""
    now = clock.now()
    warned = 0
    for incident in repository.deadlines_due(session, now + WARN_BEFORE):
        incident.deadline_warned_at = now
        model, version = _names(session, incident)
        left = (incident.deadline_at - now).total_seconds() / 3600 if incident.deadline_at else 0
        text = (f"incident {incident.id} ({incident.classification}) on {model} {version}: "
                f"the Art. 73 report is due {incident.deadline_at:%Y-%m-%d %H:%M} UTC, "
                f"{left:.0f} h from now")  # fmt: skip
        _event(session, incident, "verity:scheduler", "deadline_warning", text)
        outbox.enqueue_event(session, incident.project_id, "incident.deadline", {
            "type": "incident.deadline", "incident_id": incident.id, "model": model,
            "version": version, "classification": incident.classification,
            "deadline_at": incident.deadline_at.isoformat() if incident.deadline_at else None,
            "message": text}, severity="critical")  # fmt: skip
        audit_service.append(
            session, project_id=incident.project_id, actor="verity:scheduler",
            action="incident.deadline_warning",
            subject=f"model:{model}/version:{version}/incident:{incident.id}",
            payload={"incident_id": incident.id, "message": text},
        )  # fmt: skip
        warned += 1
    return warned
