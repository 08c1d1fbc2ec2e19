"""The review queue (human in the loop). A version's review policy selects, at ingest
and in the same transaction, the predictions a human reviews: low confidence, a
seeded random sample, a segment, or everything while a drift or data-quality alert
is open. Reviewers claim items with a lease and agree or override; a decision is
stored as the prediction's label (through the label ingest path, so the audit chain
anchors it) and as an audit event, and performance runs count it."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from backend import clock
from backend.api.actor import Actor
from backend.audit import service as audit_service
from backend.catalog import service as catalog_service
from backend.config import LimitSettings
from backend.errors import Conflict, InvalidInput, NotFound
from backend.ingest import service as ingest_service
from backend.ingest.schemas import LabelBatch
from backend.models import Model, ModelVersion, ReviewItem, ReviewPolicy
from backend.notifications import outbox
from backend.oversight import repository
from backend.oversight.schemas import (
    ClaimRequest,
    DecisionWrite,
    QueueHealth,
    ReviewItemRead,
    ReviewPolicyRead,
    ReviewPolicyWrite,
)

FLAGGING_KINDS = ("drift", "data_quality")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def sampled(seed: int, event_id: str, rate: float) -> bool:
    """A reproducible draw: the same seed and event id always decide the same."""
    if rate <= 0:
        return False
    digest = hashlib.sha256(f"{seed}:{event_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def confidence(row: dict[str, Any]) -> float | None:
    probabilities = row.get("probabilities")
    if isinstance(probabilities, dict) and len(probabilities) >= 2:
        top = sorted((float(v) for v in probabilities.values()), reverse=True)
        return top[0] - top[1]
    score = row.get("score")
    if score is None:
        return None
    return max(float(score), 1.0 - float(score))


def reasons_for(policy: ReviewPolicy, row: dict[str, Any], flagged: bool) -> list[str]:
    found = []
    if policy.max_confidence is not None:
        value = confidence(row)
        if value is not None and value < policy.max_confidence:
            found.append(f"confidence {value:.3f} < {policy.max_confidence:g}")
    if sampled(policy.seed, row["event_id"], policy.sample_rate):
        found.append(f"sampled at {policy.sample_rate:g} (seed {policy.seed})")
    if policy.segment:
        features = row.get("features") or {}
        if all(_text(features.get(k)) == v for k, v in policy.segment.items()):
            found.append("segment " + ",".join(f"{k}={v}" for k, v in policy.segment.items()))
    if flagged:
        found.append("a drift or data-quality alert is open")
    return found


def select_at_ingest(session: Session, rows: list[dict[str, Any]]) -> None:
    """The ingest hook: queue the newly stored predictions the policy selects."""
    by_version: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_version.setdefault(row["model_version_id"], []).append(row)
    for version_id, version_rows in by_version.items():
        policy = repository.review_policy(session, version_id)
        if policy is None or not policy.enabled:
            continue
        flagged = policy.flagged_windows and repository.has_open_alert(
            session, version_id, FLAGGING_KINDS
        )
        items = []
        for row in version_rows:
            reasons = reasons_for(policy, row, flagged)
            if reasons:
                features = row.get("features") or {}
                segment = ",".join(f"{k}={_text(features.get(k))}" for k in (policy.segment or {}))
                items.append(
                    {"project_id": row["project_id"], "model_version_id": version_id,
                     "event_id": row["event_id"], "reasons": reasons, "segment": segment,
                     "state": "pending", "queued_at": clock.now()}
                )  # fmt: skip
        repository.queue_items(session, items)


# -- policy ----------------------------------------------------------------------------


def _policy_read(model: Model, version: ModelVersion, policy: ReviewPolicy) -> ReviewPolicyRead:
    return ReviewPolicyRead(
        model=model.name, version=version.version, enabled=policy.enabled,
        max_confidence=policy.max_confidence, sample_rate=policy.sample_rate, seed=policy.seed,
        segment=policy.segment, flagged_windows=policy.flagged_windows,
        sla_hours=policy.sla_hours, max_override_rate=policy.max_override_rate,
        revision=policy.revision, updated_by=policy.updated_by,
        updated_at=policy.updated_at,
    )  # fmt: skip


def set_policy(
    session: Session, *, actor: Actor, model_name: str, version_name: str, spec: ReviewPolicyWrite
) -> ReviewPolicyRead:
    model, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    names = {f["name"] for f in version.features}
    unknown = sorted(set(spec.segment or {}) - names)
    if unknown:
        raise InvalidInput(
            f"the segment names features the version does not have: {unknown}",
            errors=[{"field": "segment", "message": f"unknown: {unknown}"}],
        )
    policy = repository.review_policy(session, version.id)
    if policy is None:
        policy = ReviewPolicy(project_id=actor.project_id, model_version_id=version.id, revision=0)
        session.add(policy)
    for name, value in spec.model_dump().items():
        setattr(policy, name, value)
    policy.revision = (policy.revision or 0) + 1
    policy.updated_by = actor.label
    policy.updated_at = clock.now()
    session.flush()
    read = _policy_read(model, version, policy)
    audit_service.record(session, actor, "review_policy.set",
                         f"model:{model.name}/version:{version.version}",
                         read.model_dump(mode="json"))  # fmt: skip
    return read


def get_policy(
    session: Session, *, actor: Actor, model_name: str, version_name: str
) -> ReviewPolicyRead:
    model, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    policy = repository.review_policy(session, version.id)
    if policy is None:
        raise NotFound(f"{model.name} {version.version} has no review policy")
    return _policy_read(model, version, policy)


# -- items -----------------------------------------------------------------------------


def item_read(session: Session, item: ReviewItem) -> ReviewItemRead:
    model, version = repository.names(session, item.model_version_id)
    prediction = repository.prediction_row(session, item.project_id, item.event_id)
    return ReviewItemRead(
        id=item.id, model=model, version=version, event_id=item.event_id, reasons=item.reasons,
        segment=item.segment, state=item.state, queued_at=item.queued_at,
        claimed_by=item.claimed_by, lease_expires_at=item.lease_expires_at,
        features=prediction.features if prediction else {},
        prediction=prediction.prediction if prediction else None,
        score=prediction.score if prediction else None,
        probabilities=prediction.probabilities if prediction else None,
        decision=item.decision, label=item.label, decision_reason=item.decision_reason,
        decided_by=item.decided_by, decided_at=item.decided_at,
    )  # fmt: skip


def claim(session: Session, *, actor: Actor, spec: ClaimRequest) -> ReviewItemRead | None:
    """The oldest pending item (or one whose lease expired), leased to this reviewer."""
    _, version = catalog_service.get_version(
        session, actor=actor, model_name=spec.model, version=spec.version
    )
    now = clock.now()
    item = repository.next_claimable(session, version.id, now)
    if item is None:
        return None
    item.state = "claimed"
    item.claimed_by = actor.label
    item.lease_expires_at = now + timedelta(seconds=spec.lease_seconds)
    session.flush()
    return item_read(session, item)


def _item(session: Session, actor: Actor, item_id: int) -> ReviewItem:
    item = repository.review_item(session, actor.project_id, item_id)
    if item is None:
        raise NotFound(f"no review item {item_id}")
    return item


def get_item(session: Session, *, actor: Actor, item_id: int) -> ReviewItemRead:
    return item_read(session, _item(session, actor, item_id))


def decide(
    session: Session, *, actor: Actor, item_id: int, spec: DecisionWrite, limits: LimitSettings
) -> ReviewItemRead:
    item = _item(session, actor, item_id)
    now = clock.now()
    if item.state == "decided":
        raise Conflict(f"review item {item.id} was decided by {item.decided_by}")
    if (
        item.state != "claimed"
        or item.claimed_by != actor.label
        or (item.lease_expires_at is not None and item.lease_expires_at < now)
    ):
        raise Conflict(f"review item {item.id} is not leased to this key: claim it first")
    prediction = repository.prediction_row(session, item.project_id, item.event_id)
    assert prediction is not None
    if spec.decision == "agree":
        label = prediction.prediction
    elif spec.label is None:
        raise InvalidInput(
            "an override gives the right label",
            errors=[{"field": "label", "message": "required to override"}],
        )
    else:
        label = spec.label
    body = {"labels": [{"event_id": item.event_id, "label": label}]}
    prepared = ingest_service.prepare_labels(
        session, actor=actor, batch=LabelBatch.model_validate(body), max_records=1, limits=limits
    )
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    ingest_service.store_labels(session, actor=actor, prepared=prepared, body_sha256=digest)
    item.state = "decided"
    item.decision = spec.decision
    item.label = prepared.rows[0]["label"]
    item.decision_reason = spec.reason
    item.decided_by = actor.label
    item.decided_at = now
    session.flush()
    read = item_read(session, item)
    subject = f"model:{read.model}/version:{read.version}/review:{item.id}"
    payload = {
        "event_id": item.event_id,
        "decision": spec.decision,
        "label": item.label,
        "prediction": read.prediction,
        "reason": spec.reason,
        "source": "human",
    }
    audit_service.record(session, actor, "review.decide", subject, payload)
    # The model server may hear of it through the notification channels too.
    outbox.enqueue_event(session, item.project_id, "review.decided",
                         {"type": "review.decided", **payload, "model": read.model,
                          "version": read.version}, severity="info")  # fmt: skip
    _check_override_rate(session, actor, item, subject)
    return read


RATE_WINDOW, RATE_MIN = 50, 20


def _check_override_rate(session: Session, actor: Actor, item: ReviewItem, subject: str) -> None:
    """Past the policy's bound, the override rate of the last decisions warns every
    channel and is audited (once per crossing)."""
    policy = repository.review_policy(session, item.model_version_id)
    if policy is None or policy.max_override_rate is None:
        return
    recent = repository.recent_decisions(session, item.model_version_id, RATE_WINDOW)
    if len(recent) < RATE_MIN:
        return
    rate = sum(d == "override" for d in recent) / len(recent)
    previous = sum(d == "override" for d in recent[1:]) / max(len(recent) - 1, 1)
    if rate > policy.max_override_rate >= previous or (
        len(recent) == RATE_MIN and rate > policy.max_override_rate
    ):
        payload = {"type": "review.override_rate", "rate": rate, "decisions": len(recent),
                   "bound": policy.max_override_rate, "event_id": item.event_id}  # fmt: skip
        outbox.enqueue_event(session, item.project_id, "review.override_rate", payload,
                             severity="warning")  # fmt: skip
        audit_service.record(session, actor, "review.override_rate", subject, payload)


def decision_of(session: Session, *, actor: Actor, event_id: str) -> ReviewItemRead:
    item = repository.item_by_event(session, actor.project_id, event_id)
    if item is None:
        raise NotFound(f"prediction '{event_id}' is not in the review queue")
    return item_read(session, item)


def health(session: Session, *, actor: Actor, model_name: str, version_name: str) -> QueueHealth:
    model, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    policy = repository.review_policy(session, version.id)
    now = clock.now()
    counts, oldest, decided = repository.queue_figures(session, version.id)
    sla = policy.sla_hours if policy else None
    breaches = (
        repository.pending_older_than(session, version.id, now - timedelta(hours=sla))
        if sla else 0
    )  # fmt: skip
    overrides = [d for d in decided if d[0] == "override"]
    by_segment: dict[str, list[bool]] = {}
    for decision, segment in decided:
        by_segment.setdefault(segment or "(all)", []).append(decision == "override")
    return QueueHealth(
        model=model.name, version=version.version, pending=counts.get("pending", 0),
        claimed=counts.get("claimed", 0), decided=counts.get("decided", 0),
        oldest_pending_seconds=(now - oldest).total_seconds() if oldest else None,
        sla_hours=sla, sla_breaches=breaches,
        override_rate=len(overrides) / len(decided) if decided else None,
        override_rate_by_segment={k: sum(v) / len(v) for k, v in by_segment.items()},
    )  # fmt: skip
