"""Release governance over HTTP: lifecycle, gate policy, gate evaluations (the GET
answers Argo Rollouts' web metric provider), transitions and rollback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from backend.api.dependencies import GovernanceMover, GovernanceProposer, GovernanceReader
from backend.db import DbSession, ReadSession
from backend.governance import service
from backend.governance.schemas import (
    EvaluationRead,
    Lifecycle,
    PolicyRead,
    PolicyWrite,
    RollbackWrite,
    TransitionRead,
    TransitionWrite,
)
from backend.http import JsonRoute

router = APIRouter(prefix="/v1", tags=["governance"], route_class=JsonRoute)
MODEL = "/models/{model}"
VERSION = MODEL + "/versions/{version}"


@router.get(MODEL + "/lifecycle", response_model=Lifecycle)
def get_lifecycle(model: str, session: ReadSession, actor: GovernanceReader) -> Lifecycle:
    """Each version's stage and traffic share (champion and challenger during a
    canary), and every transition, oldest first."""
    return service.lifecycle(session, actor=actor, model_name=model)


@router.put(MODEL + "/gate-policy", response_model=PolicyRead)
def put_gate_policy(
    model: str, spec: PolicyWrite, session: DbSession, actor: GovernanceProposer
) -> PolicyRead:
    """A new revision of the model's gate policy (audited); evaluations name the
    revision they used."""
    return service.set_policy(session, actor=actor, model_name=model, spec=spec)


@router.get(MODEL + "/gate-policy", response_model=PolicyRead)
def get_gate_policy(model: str, session: ReadSession, actor: GovernanceReader) -> PolicyRead:
    return service.get_policy(session, actor=actor, model_name=model)


@router.post(VERSION + "/gate", status_code=status.HTTP_201_CREATED, response_model=EvaluationRead)
def evaluate_gate(
    model: str,
    version: str,
    session: DbSession,
    actor: GovernanceReader,
    policy_revision: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> EvaluationRead:
    """Evaluate the gate (the current policy, or ``policy_revision``) on the version's
    latest runs; stored and audited. A condition whose data is missing or stale fails."""
    return service.evaluate(
        session, actor=actor, model_name=model, version_name=version, revision=policy_revision
    )


@router.get(VERSION + "/gate", response_model=EvaluationRead)
def latest_gate(
    model: str, version: str, session: ReadSession, actor: GovernanceReader
) -> EvaluationRead:
    """The latest evaluation. For Argo Rollouts: ``jsonPath: "{$.passed}"``,
    ``successCondition: result == true``."""
    return service.latest_evaluation(session, actor=actor, model_name=model, version_name=version)


@router.post(
    VERSION + "/transitions", status_code=status.HTTP_201_CREATED, response_model=TransitionRead
)
def move_version(
    model: str, version: str, spec: TransitionWrite, session: DbSession, actor: GovernanceMover
) -> TransitionRead:
    """registered → candidate → approved → production → retired, or rejected. Approval
    needs the governance:approve permission, a fresh passing gate evaluation, and a
    person and key other than the proposer's."""
    return service.transition(
        session, actor=actor, model_name=model, version_name=version, spec=spec
    )


@router.post(MODEL + ":rollback", response_model=list[TransitionRead])
def roll_back(
    model: str, spec: RollbackWrite, session: DbSession, actor: GovernanceProposer
) -> list[TransitionRead]:
    """Production returns to the previous version (a canary's champion, or the version
    the current one replaced)."""
    return service.rollback(session, actor=actor, model_name=model, spec=spec)
