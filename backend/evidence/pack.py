"""Evidence packs: what Verity saw of one model version over a period, as a signed
ZIP a regulator can verify offline (``verity audit verify-pack``).

Contents: ``summary.pdf`` (model facts, checks run, alerts and how each was handled,
the chain checkpoint), ``check_runs.csv``, ``alerts.csv``, ``audit_events.csv`` (the
project's chain from the period's start to its head, so it can be recomputed),
``manifest.json`` (SHA-256 of each file, the checkpoint, the signing key) and
``manifest.sig`` (Ed25519 over the manifest's bytes).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from backend import clock
from backend.audit import service as audit_service
from backend.audit.chain import format_time
from backend.audit.keys import public_key_base64
from backend.evidence import repository
from backend.evidence.declared import observations as declared_rows
from backend.evidence.declared import summary as declared_summary
from backend.evidence.pdf import render_summary
from backend.evidence.verify import AUDIT_CSV, MANIFEST, SIGNATURE, canonical_zip
from backend.governance import cards as governance_cards
from backend.governance import service as governance_service
from backend.models import Model, ModelVersion
from backend.oversight import incidents as oversight_incidents
from backend.oversight import repository as oversight_repository
from backend.oversight.report import render as render_incident

FORMAT = "verity-evidence-pack/1"


@dataclass(frozen=True)
class Pack:
    data: bytes
    manifest_sha256: str
    filename: str


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def build(
    session: Session,
    *,
    project_id: int,
    model: Model,
    version: ModelVersion,
    start: datetime,
    end: datetime,
    key: Ed25519PrivateKey,
    exported_by: str,
    trusted_keys: Sequence[str] = (),
) -> Pack:
    runs = repository.runs_overlapping(session, version_id=version.id, start=start, end=end)
    monitors = {m.id: m for m in repository.monitors_of(session, version.id)}
    run_ids = [r.id for r in runs]
    alerts = repository.alerts_of_period(
        session, version_id=version.id, run_ids=run_ids, start=start, end=end
    )
    events = repository.events_since(session, project_id=project_id, start=start)
    verified = audit_service.verify(
        session, project_id=project_id, trusted_keys=[public_key_base64(key), *trusted_keys]
    )
    head = events[-1] if events else None
    checkpoint = {
        "seq": head.seq if head else None,
        "hash": head.hash if head else None,
        "chain_verified": verified.ok,
        "chain_events": verified.events,
        "verify_reason": verified.reason,
        "predictions_verified": verified.predictions_checked,
        "labels_verified": verified.labels_checked,
        "signed_checkpoint_seq": verified.checkpoint_seq,
    }
    files: dict[str, bytes] = {
        "check_runs.csv": _csv(
            [
                "id",
                "monitor",
                "kind",
                "trigger",
                "window_start",
                "window_end",
                "status",
                "rows",
                "rows_in_window",
                "labeled_rows",
                "reference_rows",
                "window_sha256",
                "reference_sha256",
                "reference_source",
                "detector_version",
                "params",
                "library_versions",
                "device",
                "duration_s",
                "compute_cost",
                "error",
                "record_sha256",
            ],
            [
                [
                    r.id,
                    monitors[r.monitor_id].name if r.monitor_id in monitors else "",
                    r.detector_kind,
                    r.trigger,
                    _iso(r.window_start),
                    _iso(r.window_end),
                    r.status,
                    r.rows,
                    r.rows_in_window,
                    r.labeled_rows,
                    r.reference_rows,
                    r.window_sha256,
                    r.reference_sha256 or "",
                    r.reference_source,
                    r.detector_version,
                    json.dumps(r.params, sort_keys=True),
                    json.dumps(r.library_versions, sort_keys=True),
                    r.device,
                    round(r.duration_s, 4),
                    r.compute_cost,
                    r.error or "",
                    r.record_sha256,
                ]
                for r in runs
            ],
        ),
        "alerts.csv": _csv(
            [
                "id",
                "monitor",
                "cause",
                "severity",
                "state",
                "message",
                "opened_at",
                "run_count",
                "acknowledged_at",
                "acknowledged_by",
                "acknowledge_comment",
                "resolved_at",
                "resolved_by",
                "resolve_comment",
            ],
            [
                [
                    a.id,
                    monitors[a.monitor_id].name if a.monitor_id in monitors else "",
                    a.cause,
                    a.severity,
                    a.state,
                    a.message,
                    _iso(a.opened_at),
                    a.run_count,
                    _iso(a.acknowledged_at),
                    a.acknowledged_by or "",
                    a.acknowledge_comment or "",
                    _iso(a.resolved_at),
                    a.resolved_by or "",
                    a.resolve_comment or "",
                ]
                for a in alerts
            ],
        ),
        AUDIT_CSV: _csv(
            [
                "project_id",
                "seq",
                "actor",
                "action",
                "subject",
                "occurred_at",
                "payload_sha256",
                "prev_hash",
                "hash",
            ],
            [
                [
                    e.project_id,
                    e.seq,
                    e.actor,
                    e.action,
                    e.subject,
                    format_time(e.occurred_at),
                    e.payload_sha256,
                    e.prev_hash,
                    e.hash,
                ]
                for e in events
            ],
        ),
    }
    declared = dict(version.declared_metrics or {})
    observed = declared_rows(declared, runs)
    files["declared_performance.csv"] = _csv(
        [
            "metric",
            "declared",
            "source",
            "value",
            "met",
            "check_run_id",
            "window_start",
            "window_end",
        ],
        [
            [
                o["metric"],
                o["declared"],
                o["source"],
                o["value"],
                "yes" if o["met"] else "no",
                o["check_run_id"],
                _iso(o["window_start"]),
                _iso(o["window_end"]),
            ]
            for o in observed
        ],
    )
    transitions, evaluations = governance_service.period_records(
        session, project_id=project_id, version=version, start=start, end=end
    )
    files["transitions.csv"] = _csv(
        ["id", "from", "to", "actor", "person", "reason", "rollout", "traffic_share",
         "gate_evaluation_id", "rollback", "at"],
        [
            [t.id, t.from_stage, t.to_stage, t.actor, t.person, t.reason, t.rollout_mode or "",
             "" if t.traffic_share is None else t.traffic_share, t.gate_evaluation_id or "",
             "yes" if t.rollback else "no", _iso(t.created_at)]
            for t in transitions
        ],
    )  # fmt: skip
    files["gate_evaluations.csv"] = _csv(
        ["id", "policy_id", "passed", "condition", "observed", "threshold", "condition_passed",
         "run_id", "why", "evaluated_by", "evaluated_at"],
        [
            [e.id, e.policy_id, "yes" if e.passed else "no", c["condition"],
             "" if c["observed"] is None else c["observed"],
             "" if c["threshold"] is None else c["threshold"], "yes" if c["passed"] else "no",
             c["run_id"] or "", c["why"], e.evaluated_by, _iso(e.evaluated_at)]
            for e in evaluations
            for c in e.conditions
        ],
    )  # fmt: skip
    incidents_found = [
        oversight_incidents.to_read(session, i)
        for i in oversight_repository.incidents_between(session, version.id, start, end)
    ]
    files["incidents.csv"] = _csv(
        ["id", "title", "severity", "classification", "status", "aware_at", "deadline_at",
         "overdue", "opened_by", "timeline_events"],
        [
            [i.id, i.title, i.severity, i.classification, i.status, _iso(i.aware_at),
             _iso(i.deadline_at), "yes" if i.overdue else "no", i.opened_by, len(i.timeline)]
            for i in incidents_found
        ],
    )  # fmt: skip
    for found in incidents_found:
        files[f"incident-{found.id}.pdf"] = render_incident(found)
    card = governance_cards.for_evidence(session, model, version)
    if card is not None:
        files["model_card.md"] = card.markdown.encode()
    generated_at = clock.now()
    facts = {
        "model": model.name,
        "task": model.task,
        "version": version.version,
        "features": len(version.features),
        "sensitive_features": [f["name"] for f in version.features if f.get("sensitive")],
        "class_labels": version.class_labels,
        "artifact_sha256": version.artifact_sha256,
        "registered_at": _iso(version.created_at),
        "declared_metrics": declared,
        "stage": version.stage,
        "card": {
            "revision": card.revision,
            "state": card.state,
            "risk_tier": card.content.risk_tier,
        }
        if card
        else None,
    }
    files["summary.pdf"] = render_summary(
        facts=facts,
        period=(start, end),
        run_counts=Counter((r.detector_kind, r.status) for r in runs),
        runs=runs,
        monitors=monitors,
        alerts=alerts,
        checkpoint=checkpoint,
        declared=declared_summary(declared, observed),
        card=card,
        incidents=incidents_found,
        generated_at=generated_at,
        exported_by=exported_by,
    )
    manifest = {
        "format": FORMAT,
        "model": facts,
        "period": {"start": _iso(start), "end": _iso(end)},
        "generated_at": _iso(generated_at),
        "exported_by": exported_by,
        "counts": {
            "check_runs": len(runs),
            "alerts": len(alerts),
            "audit_events": len(events),
            "transitions": len(transitions),
            "gate_evaluations": len(evaluations),
            "incidents": len(incidents_found),
        },
        "checkpoint": checkpoint,
        "files": {name: hashlib.sha256(body).hexdigest() for name, body in sorted(files.items())},
        "signature": "Ed25519 over the bytes of manifest.json, base64 in manifest.sig",
        "signing_key": public_key_base64(key),
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    signature = base64.b64encode(key.sign(manifest_bytes)) + b"\n"
    data = canonical_zip(
        [*sorted(files.items()), (MANIFEST, manifest_bytes), (SIGNATURE, signature)]
    )
    stamp = f"{start:%Y%m%d}-{end:%Y%m%d}"
    return Pack(
        data=data,
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        filename=f"evidence-{model.name}-{version.version}-{stamp}.zip",
    )
