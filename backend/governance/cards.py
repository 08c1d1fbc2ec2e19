"""Model cards: versioned (each edit a new draft revision), reviewed (draft →
in_review → approved under the two-person rule), with a monitoring plan generated
from what is configured, rendered to Markdown for people and for evidence packs."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend import clock
from backend.api.actor import Actor
from backend.audit import service as audit_service
from backend.catalog import service as catalog_service
from backend.errors import Conflict, Forbidden, NotFound
from backend.governance import repository
from backend.governance.gates import describe, parse_conditions
from backend.governance.schemas import (
    CardContent,
    CardDecision,
    CardRead,
    MonitoringPlan,
    PlanMonitor,
)
from backend.models import Model, ModelCard, ModelVersion, Monitor

THRESHOLD_PARAMS = (
    "drift_share", "stattest_threshold", "demographic_parity_threshold",
    "equalized_odds_threshold", "four_fifths", "min_group_size", "importance_shift_threshold",
    "rank_correlation_threshold", "budget", "max_relative_drop", "band_k", "limits", "metrics",
    "max_missing_increase", "max_out_of_range_share", "max_unseen_share", "min_volume_ratio",
)  # fmt: skip


def _window(monitor: Monitor) -> str:
    if monitor.window_seconds is None:
        return f"{monitor.window_start:%Y-%m-%d %H:%M} → {monitor.window_end:%Y-%m-%d %H:%M} UTC"
    text = f"trailing {monitor.window_seconds // 3600} h"
    if monitor.window_lag_seconds:
        text += f", ending {monitor.window_lag_seconds // 3600} h before each run"
    return text


def _schedule(monitor: Monitor) -> str:
    if monitor.cron:
        return f"cron {monitor.cron}"
    if monitor.schedule_seconds:
        return f"every {monitor.schedule_seconds // 3600} h"
    return "once, when the window has ended"


def monitoring_plan(session: Session, model: Model, version: ModelVersion) -> MonitoringPlan:
    policy = repository.current_policy(session, model.id)
    return MonitoringPlan(
        monitors=[
            PlanMonitor(
                name=m.name,
                kind=m.kind,
                window=_window(m),
                schedule=_schedule(m),
                severity=m.severity,
                alert_on=m.alert_on,
                thresholds={k: v for k, v in m.params.items() if k in THRESHOLD_PARAMS},
                segments=m.segment_by,
                enabled=m.enabled,
            )
            for m in repository.monitors_of_version(session, version.id)
        ],
        declared_metrics=dict(version.declared_metrics or {}),
        gate_policy_revision=policy.revision if policy else None,
        gate_conditions=[describe(c) for c in parse_conditions(policy.conditions)]
        if policy
        else [],
        approval_max_age_hours=policy.approval_max_age_hours if policy else None,
    )


def markdown(model: Model, version: ModelVersion, card: ModelCard, plan: MonitoringPlan) -> str:
    content = CardContent.model_validate(card.content)
    lines = [
        f"# Model card: {model.name} {version.version}",
        "",
        f"Revision {card.revision} · **{card.state}**"
        + (
            f" · approved by {card.approved_person} on {card.approved_at:%Y-%m-%d}"
            if card.approved_at
            else ""
        ),
        "",
        f"Task: {model.task} · lifecycle stage: {version.stage} · owners: "
        + ", ".join(content.owners),
        "",
        "## Intended use",
        content.intended_use,
        "",
        "## Intended users",
        content.intended_users or "–",
        "",
        "## Out-of-scope uses",
        content.out_of_scope_uses or "–",
        "",
        "## Training data",
        content.training_data or "–",
        "",
        "## Risk (EU AI Act)",
        f"Tier: **{content.risk_tier}**. {content.risk_rationale}",
        "",
        "## Declared metrics (Art. 15)",
    ]
    lines += [f"- {k}: {v:g}" for k, v in sorted(plan.declared_metrics.items())] or ["–"]
    lines += ["", "## Known limitations", content.known_limitations or "–", "",
              "## Monitoring plan (Art. 72)", ""]  # fmt: skip
    if plan.monitors:
        lines += ["| monitor | kind | window | schedule | alerts at | thresholds |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for m in plan.monitors:
            thresholds = ", ".join(f"{k}={v}" for k, v in m.thresholds.items()) or "defaults"
            segments = f" per {', '.join(m.segments)}" if m.segments else ""
            lines.append(
                f"| {m.name}{segments} | {m.kind} | {m.window} | {m.schedule} | "
                f"{m.alert_on} ({m.severity}){'' if m.enabled else ', disabled'} | {thresholds} |"
            )
    else:
        lines.append("No monitor is configured.")
    lines += ["", "Release gate: " + (
        f"policy revision {plan.gate_policy_revision}; an approval needs a passing evaluation "
        f"at most {plan.approval_max_age_hours} h old." if plan.gate_policy_revision else
        "no gate policy.")]  # fmt: skip
    lines += [f"- {c}" for c in plan.gate_conditions]
    return "\n".join(lines) + "\n"


def card_read(session: Session, model: Model, version: ModelVersion, card: ModelCard) -> CardRead:
    plan = monitoring_plan(session, model, version)
    return CardRead(
        model=model.name,
        version=version.version,
        revision=card.revision,
        state=card.state,
        content=CardContent.model_validate(card.content),
        monitoring_plan=plan,
        created_by=card.created_by,
        created_at=card.created_at,
        submitted_by=card.submitted_by,
        submitted_person=card.submitted_person,
        approved_by=card.approved_by,
        approved_person=card.approved_person,
        approved_at=card.approved_at,
        markdown=markdown(model, version, card, plan),
    )


def _audit(session: Session, actor: Actor, action: str, read: CardRead) -> None:
    payload: dict[str, Any] = read.model_dump(mode="json", exclude={"markdown"})
    audit_service.record(
        session, actor, action, f"model:{read.model}/version:{read.version}/card:{read.revision}",
        payload,
    )  # fmt: skip


def write(
    session: Session, *, actor: Actor, model_name: str, version_name: str, content: CardContent
) -> CardRead:
    model, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    latest = repository.latest_card(session, version.id)
    card = ModelCard(
        project_id=actor.project_id,
        model_version_id=version.id,
        revision=(latest.revision + 1) if latest else 1,
        state="draft",
        content=content.model_dump(mode="json"),
        created_by=actor.label,
        created_at=clock.now(),
    )
    session.add(card)
    session.flush()
    read = card_read(session, model, version, card)
    _audit(session, actor, "model_card.revise", read)
    return read


def _card(
    session: Session, actor: Actor, model_name: str, version_name: str, revision: int | None
) -> tuple[Model, ModelVersion, ModelCard]:
    model, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    card = (
        repository.latest_card(session, version.id)
        if revision is None
        else repository.card_revision(session, version.id, revision)
    )
    if card is None:
        which = "a model card" if revision is None else f"card revision {revision}"
        raise NotFound(f"{model.name} {version.version} has no {which}")
    return model, version, card


def get(
    session: Session, *, actor: Actor, model_name: str, version_name: str, revision: int | None
) -> CardRead:
    model, version, card = _card(session, actor, model_name, version_name, revision)
    return card_read(session, model, version, card)


def submit(
    session: Session, *, actor: Actor, model_name: str, version_name: str, decision: CardDecision
) -> CardRead:
    model, version, card = _card(session, actor, model_name, version_name, None)
    if card.state != "draft":
        raise Conflict(f"card revision {card.revision} is {card.state}; only a draft is submitted")
    card.state = "in_review"
    card.submitted_by = actor.label
    card.submitted_key_id = actor.key_id
    card.submitted_person = decision.person
    session.flush()
    read = card_read(session, model, version, card)
    _audit(session, actor, "model_card.submit", read)
    return read


def approve(
    session: Session, *, actor: Actor, model_name: str, version_name: str, decision: CardDecision
) -> CardRead:
    model, version, card = _card(session, actor, model_name, version_name, None)
    if card.state != "in_review":
        raise Conflict(f"card revision {card.revision} is {card.state}; only a card in review "
                       "is approved")  # fmt: skip
    same_key = (
        actor.key_id == card.submitted_key_id
        if actor.key_id is not None
        else actor.label == card.submitted_by
    )
    same_person = decision.person.strip().casefold() == (card.submitted_person or "").casefold()
    if same_key or same_person:
        raise Forbidden(
            f"two-person rule: card revision {card.revision} was submitted by "
            f"{card.submitted_person}; another person with another key approves it"
        )
    card.state = "approved"
    card.approved_by = actor.label
    card.approved_person = decision.person
    card.approved_at = clock.now()
    session.flush()
    read = card_read(session, model, version, card)
    _audit(session, actor, "model_card.approve", read)
    return read


def for_evidence(session: Session, model: Model, version: ModelVersion) -> CardRead | None:
    """The version's latest approved card, else its latest revision."""
    card = repository.latest_card(session, version.id, state="approved") or repository.latest_card(
        session, version.id
    )
    return card_read(session, model, version, card) if card else None
