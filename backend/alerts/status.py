"""A model at a glance: each monitor's latest run and its unresolved alerts."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.alerts import repository
from backend.alerts.schemas import ModelStatus, MonitorStatus, VersionStage
from backend.alerts.service import to_read
from backend.api.actor import Actor
from backend.catalog import service as catalog_service
from backend.monitors import repository as monitors_repository
from backend.runs import repository as runs_repository
from backend.runs.schemas import CheckRunSummary


def model_status(session: Session, *, actor: Actor, model_name: str) -> ModelStatus:
    model = catalog_service.get_model(session, actor=actor, name=model_name)
    rows = monitors_repository.of_model(session, model_id=model.id)
    monitor_ids = [m.id for m, _ in rows]
    latest = runs_repository.latest_runs(session, monitor_ids)
    open_counts = repository.unresolved_counts(session, monitor_ids)
    monitors = [
        MonitorStatus(
            id=m.id,
            name=m.name,
            kind=m.kind,
            version=version,
            enabled=m.enabled,
            next_run_at=m.next_run_at,
            latest_run=CheckRunSummary.model_validate(latest[m.id]) if m.id in latest else None,
            open_alerts=open_counts.get(m.id, 0),
        )
        for m, version in rows
    ]
    alerts = repository.unresolved(session, monitor_ids)
    _, versions = catalog_service.list_versions(session, actor=actor, model_name=model.name)
    return ModelStatus(
        model=model.name,
        versions=[
            VersionStage(version=v.version, stage=v.stage, traffic_share=v.traffic_share)
            for v in versions
        ],
        monitors=monitors,
        open_alerts=[to_read(session, a) for a in alerts],
    )
