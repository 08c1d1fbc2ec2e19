"""Release governance over HTTP: lifecycle, gate policy, gate evaluations (the GET
answers Argo Rollouts' web metric provider), transitions and rollback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from backend.api.dependencies import (
    GovernanceApprover,
    GovernanceMover,
    GovernanceProposer,
    GovernanceReader,
)
from backend.db import DbSession, ReadSession
from backend.governance import cards, service
from backend.governance.schemas import (
    CardContent,
    CardDecision,
    CardRead,
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


CARD = VERSION + "/card"


@router.put(CARD, status_code=status.HTTP_201_CREATED, response_model=CardRead)
def write_card(
    model: str, version: str, content: CardContent, session: DbSession, actor: GovernanceProposer
) -> CardRead:
    """A new draft revision of the version's model card (the plan is generated)."""
    return cards.write(
        session, actor=actor, model_name=model, version_name=version, content=content
    )


@router.get(CARD, response_model=CardRead)
def read_card(
    model: str,
    version: str,
    session: ReadSession,
    actor: GovernanceReader,
    revision: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> CardRead:
    return cards.get(
        session, actor=actor, model_name=model, version_name=version, revision=revision
    )


@router.get(
    CARD + ".md",
    response_class=Response,
    responses={200: {"content": {"text/markdown": {}}, "description": "The card as Markdown."}},
)
def card_markdown(
    model: str,
    version: str,
    session: ReadSession,
    actor: GovernanceReader,
    revision: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    card = cards.get(
        session, actor=actor, model_name=model, version_name=version, revision=revision
    )
    return Response(card.markdown, media_type="text/markdown; charset=utf-8")


@router.post(CARD + ":submit", response_model=CardRead)
def submit_card(
    model: str, version: str, decision: CardDecision, session: DbSession,
    actor: GovernanceProposer,
) -> CardRead:  # fmt: skip
    """The latest draft goes to review."""
    return cards.submit(
        session, actor=actor, model_name=model, version_name=version, decision=decision
    )


@router.post(CARD + ":approve", response_model=CardRead)
def approve_card(
    model: str, version: str, decision: CardDecision, session: DbSession,
    actor: GovernanceApprover,
) -> CardRead:  # fmt: skip
    """Approve the card in review: another person, with another key, than its submitter."""
    return cards.approve(
        session, actor=actor, model_name=model, version_name=version, decision=decision
    )
