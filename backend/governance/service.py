"""Release governance: the version lifecycle with its two-person rule, versioned gate
policies and their evaluations, promotion (replace or canary) and rollback. Every
change is an audit event in the request's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from backend import clock
from backend.api.actor import Actor
from backend.api.roles import Permission
from backend.audit import service as audit_service
from backend.catalog import service as catalog_service
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.governance import repository
from backend.governance.gates import KNOWN_METRICS, evaluate_condition, parse_conditions
from backend.governance.schemas import (
    ConditionResult,
    EvaluationRead,
    Lifecycle,
    MetricCondition,
    PolicyRead,
    PolicyWrite,
    RollbackWrite,
    TransitionRead,
    TransitionWrite,
    VersionState,
)
from backend.models import GateEvaluation, GatePolicy, Model, ModelVersion, VersionTransition

# (from, to) → the permission the move takes.
MOVES: dict[tuple[str, str], Permission] = {
    ("registered", "candidate"): Permission.GOVERNANCE_PROPOSE,
    ("candidate", "approved"): Permission.GOVERNANCE_APPROVE,
    ("candidate", "rejected"): Permission.GOVERNANCE_APPROVE,
    ("approved", "rejected"): Permission.GOVERNANCE_APPROVE,
    ("approved", "production"): Permission.GOVERNANCE_PROPOSE,
    # A canary challenger promoted to all of the traffic.
    ("production", "production"): Permission.GOVERNANCE_PROPOSE,
    ("production", "retired"): Permission.GOVERNANCE_PROPOSE,
}


def _subject(model: Model, version: ModelVersion | None = None) -> str:
    return f"model:{model.name}" + (f"/version:{version.version}" if version else "")


# -- policies --------------------------------------------------------------------------


def policy_read(model: Model, policy: GatePolicy) -> PolicyRead:
    return PolicyRead(
        model=model.name,
        revision=policy.revision,
        conditions=parse_conditions(policy.conditions),
        approval_max_age_hours=policy.approval_max_age_hours,
        created_by=policy.created_by,
        created_at=policy.created_at,
    )


def set_policy(session: Session, *, actor: Actor, model_name: str, spec: PolicyWrite) -> PolicyRead:
    """A new revision of the model's gate policy. Each metric condition must name a
    monitor some version of the model has, and a metric that monitor's kind reports."""
    model = catalog_service.get_model(session, actor=actor, name=model_name)
    kinds = repository.monitor_kinds_of_model(session, model.id)
    errors = []
    for at, condition in enumerate(spec.conditions):
        if not isinstance(condition, MetricCondition):
            continue
        kind = kinds.get(condition.monitor)
        if kind is None:
            errors.append({"field": f"conditions.{at}.monitor",
                           "message": f"no version of '{model.name}' has a monitor named "
                           f"'{condition.monitor}'"})  # fmt: skip
        elif condition.metric not in KNOWN_METRICS[kind]:
            errors.append({"field": f"conditions.{at}.metric",
                           "message": f"a {kind} monitor reports no '{condition.metric}'; "
                           f"known: {sorted(KNOWN_METRICS[kind])}"})  # fmt: skip
    if errors:
        raise InvalidInput("the gate policy names what cannot be evaluated", errors=errors)
    policy = GatePolicy(
        project_id=actor.project_id,
        model_id=model.id,
        revision=repository.next_revision(session, model.id),
        conditions=[c.model_dump(mode="json") for c in spec.conditions],
        approval_max_age_hours=spec.approval_max_age_hours,
        created_by=actor.label,
    )
    session.add(policy)
    session.flush()
    read = policy_read(model, policy)
    audit_service.record(
        session, actor, "gate_policy.set", _subject(model), read.model_dump(mode="json")
    )
    return read


def get_policy(session: Session, *, actor: Actor, model_name: str) -> PolicyRead:
    model = catalog_service.get_model(session, actor=actor, name=model_name)
    policy = repository.current_policy(session, model.id)
    if policy is None:
        raise NotFound(f"model '{model.name}' has no gate policy")
    return policy_read(model, policy)


# -- evaluations -----------------------------------------------------------------------


def evaluation_read(
    session: Session, model: Model, version: ModelVersion, evaluation: GateEvaluation
) -> EvaluationRead:
    policy = repository.policy_by_id(session, evaluation.policy_id)
    assert policy is not None
    return EvaluationRead(
        id=evaluation.id,
        model=model.name,
        version=version.version,
        policy_revision=policy.revision,
        passed=evaluation.passed,
        conditions=[ConditionResult.model_validate(c) for c in evaluation.conditions],
        evaluated_by=evaluation.evaluated_by,
        evaluated_at=evaluation.evaluated_at,
    )


def evaluate(
    session: Session,
    *,
    actor: Actor,
    model_name: str,
    version_name: str,
    revision: int | None = None,
) -> EvaluationRead:
    model, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    policy = (
        repository.current_policy(session, model.id)
        if revision is None
        else repository.policy_revision(session, model.id, revision)
    )
    if policy is None:
        which = "a gate policy" if revision is None else f"gate policy revision {revision}"
        raise NotFound(f"model '{model.name}' has no {which}: set one with PUT "
                       f"/v1/models/{model.name}/gate-policy")  # fmt: skip
    now = clock.now()
    results = [
        evaluate_condition(session, version, condition, now)
        for condition in parse_conditions(policy.conditions)
    ]
    evaluation = GateEvaluation(
        project_id=actor.project_id,
        model_version_id=version.id,
        policy_id=policy.id,
        passed=all(r.passed for r in results),
        conditions=[r.model_dump(mode="json") for r in results],
        evaluated_by=actor.label,
        evaluated_at=now,
    )
    session.add(evaluation)
    session.flush()
    read = evaluation_read(session, model, version, evaluation)
    audit_service.record(
        session, actor, "gate.evaluate", _subject(model, version), read.model_dump(mode="json")
    )
    return read


def latest_evaluation(
    session: Session, *, actor: Actor, model_name: str, version_name: str
) -> EvaluationRead:
    model, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    evaluation = repository.latest_evaluation(session, version.id)
    if evaluation is None:
        raise NotFound(f"{model.name} {version.version} has no gate evaluation yet: POST "
                       f"/v1/models/{model.name}/versions/{version.version}/gate")  # fmt: skip
    return evaluation_read(session, model, version, evaluation)


# -- lifecycle -------------------------------------------------------------------------


def transition_read(version: ModelVersion, t: VersionTransition) -> TransitionRead:
    return TransitionRead(
        id=t.id,
        version=version.version,
        from_stage=t.from_stage,
        to_stage=t.to_stage,
        actor=t.actor,
        person=t.person,
        reason=t.reason,
        rollout_mode=t.rollout_mode,
        traffic_share=t.traffic_share,
        gate_evaluation_id=t.gate_evaluation_id,
        rollback=t.rollback,
        created_at=t.created_at,
    )


def lifecycle(session: Session, *, actor: Actor, model_name: str) -> Lifecycle:
    model = catalog_service.get_model(session, actor=actor, name=model_name)
    versions = repository.versions_of(session, model.id)
    by_id = {v.id: v for v in versions}
    producing = [v for v in versions if v.stage == "production"]
    canary = len(producing) > 1
    states = []
    for v in versions:
        role = None
        if v.stage == "production":
            role = "challenger" if canary and (v.traffic_share or 0) < 0.5 else "champion"
        states.append(
            VersionState(version=v.version, stage=v.stage, traffic_share=v.traffic_share, role=role)
        )
    transitions = repository.transitions_of(session, list(by_id))
    return Lifecycle(
        model=model.name,
        versions=states,
        transitions=[transition_read(by_id[t.model_version_id], t) for t in transitions],
    )


def _record(
    session: Session,
    actor: Actor,
    model: Model,
    version: ModelVersion,
    to: str,
    *,
    person: str,
    reason: str,
    rollout_mode: str | None = None,
    traffic_share: float | None = None,
    evaluation_id: int | None = None,
    rollback: bool = False,
) -> VersionTransition:
    transition = VersionTransition(
        project_id=actor.project_id,
        model_version_id=version.id,
        from_stage=version.stage,
        to_stage=to,
        actor=actor.label,
        key_id=actor.key_id,
        person=person,
        reason=reason,
        rollout_mode=rollout_mode,
        traffic_share=traffic_share,
        gate_evaluation_id=evaluation_id,
        rollback=rollback,
        created_at=clock.now(),
    )
    version.stage = to
    version.traffic_share = traffic_share if to == "production" else None
    session.add(transition)
    session.flush()
    audit_service.record(
        session,
        actor,
        "model_version.rollback" if rollback else "model_version.transition",
        _subject(model, version),
        transition_read(version, transition).model_dump(mode="json"),
    )
    return transition


def _check_two_persons(session: Session, actor: Actor, version: ModelVersion, person: str) -> None:
    proposal = repository.last_transition_to(session, version.id, "candidate")
    if proposal is None:
        return
    same_key = (
        actor.key_id == proposal.key_id
        if actor.key_id is not None
        else actor.label == proposal.actor
    )
    if same_key or person.strip().casefold() == proposal.person.strip().casefold():
        raise Forbidden(
            f"two-person rule: {version.version} was proposed by {proposal.person} "
            f"({proposal.actor}); another person with another key must approve it"
        )


def _passing_evaluation(session: Session, model: Model, version: ModelVersion) -> GateEvaluation:
    policy = repository.current_policy(session, model.id)
    if policy is None:
        raise Conflict(f"model '{model.name}' has no gate policy; an approval needs a "
                       "passing gate evaluation")  # fmt: skip
    evaluation = repository.latest_evaluation(session, version.id)
    oldest = clock.now() - timedelta(hours=policy.approval_max_age_hours)
    if evaluation is None or evaluation.policy_id != policy.id:
        raise Conflict(f"{version.version} has no gate evaluation under policy revision "
                       f"{policy.revision}: evaluate the gate first")  # fmt: skip
    if not evaluation.passed:
        failed = [c["condition"] for c in evaluation.conditions if not c["passed"]]
        raise Conflict(f"{version.version}'s latest gate evaluation (#{evaluation.id}) failed: "
                       + "; ".join(failed))  # fmt: skip
    if evaluation.evaluated_at < oldest:
        raise Conflict(f"{version.version}'s passing gate evaluation #{evaluation.id} is older "
                       f"than {policy.approval_max_age_hours} h: evaluate it again")  # fmt: skip
    return evaluation


def transition(
    session: Session,
    *,
    actor: Actor,
    model_name: str,
    version_name: str,
    spec: TransitionWrite,
) -> TransitionRead:
    model, version = catalog_service.get_version(
        session, actor=actor, model_name=model_name, version=version_name
    )
    move = (version.stage, spec.to)
    needed = MOVES.get(move)
    if needed is None:
        allowed = sorted(to for (frm, to) in MOVES if frm == version.stage)
        raise Conflict(
            f"{version.version} is {version.stage}; it cannot become {spec.to} "
            f"(from {version.stage}: {', '.join(allowed) or 'nothing'})"
        )
    if not actor.can(needed):
        raise Forbidden(f"moving a version to {spec.to} needs the {needed.value} permission")
    if spec.rollout is not None and spec.to != "production":
        raise InvalidInput("only a promotion to production takes a rollout",
                           errors=[{"field": "rollout", "message": "production only"}])  # fmt: skip
    evaluation_id = None
    if spec.to == "approved":
        _check_two_persons(session, actor, version, spec.person)
        evaluation_id = _passing_evaluation(session, model, version).id
    if spec.to == "production":
        return _promote(session, actor, model, version, spec)
    done = _record(session, actor, model, version, spec.to, person=spec.person,
                   reason=spec.reason, evaluation_id=evaluation_id)  # fmt: skip
    return transition_read(version, done)


def _promote(
    session: Session, actor: Actor, model: Model, version: ModelVersion, spec: TransitionWrite
) -> TransitionRead:
    rollout = spec.rollout
    mode = rollout.mode if rollout else "replace"
    others = [
        v
        for v in repository.versions_in_stage(session, model.id, "production")
        if v.id != version.id
    ]
    if mode == "canary":
        assert rollout is not None
        assert rollout.traffic_share is not None
        if version.stage == "production":
            raise Conflict(f"{version.version} is in production already; promote it with replace")
        if len(others) != 1:
            raise Conflict("a canary splits traffic with exactly one production version; "
                           f"{model.name} has {len(others)}")  # fmt: skip
        champion = others[0]
        share = rollout.traffic_share
        champion.traffic_share = round(1 - share, 12)
        done = _record(session, actor, model, version, "production", person=spec.person,
                       reason=spec.reason, rollout_mode="canary", traffic_share=share)  # fmt: skip
        audit_service.record(session, actor, "model_version.traffic", _subject(model, champion),
                             {"traffic_share": champion.traffic_share,
                              "because": f"canary of {version.version}"})  # fmt: skip
        return transition_read(version, done)
    if version.stage == "production" and not others:
        raise Conflict(f"{version.version} already serves all of the traffic")
    for previous in others:
        _record(session, actor, model, previous, "retired", person=spec.person,
                reason=f"replaced by {version.version}: {spec.reason}")  # fmt: skip
    done = _record(session, actor, model, version, "production", person=spec.person,
                   reason=spec.reason, rollout_mode="replace", traffic_share=1.0)  # fmt: skip
    return transition_read(version, done)


def rollback(
    session: Session, *, actor: Actor, model_name: str, spec: RollbackWrite
) -> list[TransitionRead]:
    """Production returns to the previous version, in one call: a canary's challenger
    is withdrawn and the champion takes all traffic again; after a replace, the version
    it replaced serves again."""
    model = catalog_service.get_model(session, actor=actor, name=model_name)
    producing = repository.versions_in_stage(session, model.id, "production")
    if not producing:
        raise Conflict(f"{model.name} has no version in production to roll back")
    done = []
    if len(producing) > 1:
        challenger = min(producing, key=lambda v: v.traffic_share or 0)
        champion = max(producing, key=lambda v: v.traffic_share or 0)
        done.append(_record(session, actor, model, challenger, "rejected", person=spec.person,
                            reason=spec.reason, rollback=True))  # fmt: skip
        restored = _record(session, actor, model, champion, "production", person=spec.person,
                           reason=spec.reason, rollout_mode="replace", traffic_share=1.0,
                           rollback=True)  # fmt: skip
        return [transition_read(challenger, done[0]), transition_read(champion, restored)]
    (current,) = producing
    replaced = [
        t
        for v in repository.versions_in_stage(session, model.id, "retired")
        if (t := repository.last_transition_to(session, v.id, "retired")) is not None
        and t.reason.startswith(f"replaced by {current.version}:")
    ]
    if not replaced:
        raise Conflict(f"{current.version} replaced no earlier version: there is nothing to "
                       "roll back to")  # fmt: skip
    latest = max(replaced, key=lambda t: t.id)
    previous = next(
        v for v in repository.versions_of(session, model.id) if v.id == latest.model_version_id
    )
    withdrawn = _record(session, actor, model, current, "rejected", person=spec.person,
                        reason=spec.reason, rollback=True)  # fmt: skip
    restored = _record(session, actor, model, previous, "production", person=spec.person,
                       reason=spec.reason, rollout_mode="replace", traffic_share=1.0,
                       rollback=True)  # fmt: skip
    return [transition_read(current, withdrawn), transition_read(previous, restored)]


def period_records(
    session: Session, *, project_id: int, version: ModelVersion, start: datetime, end: datetime
) -> tuple[list[VersionTransition], list[GateEvaluation]]:
    """The version's transitions (approvals among them) and gate evaluations in a
    period, for the evidence pack."""
    return (
        repository.transitions_between(session, project_id, version.id, start, end),
        repository.evaluations_between(session, version.id, start, end),
    )
