from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.audit import repository
from backend.audit.chain import (
    GENESIS_HASH,
    ChainLink,
    VerifyResult,
    canonical_json,
    link_hash,
    sha256_hex,
    verify_chain,
)
from backend.models import AuditEvent
from backend.models.base import utcnow


def append(
    session: Session,
    *,
    project_id: int,
    actor: str,
    action: str,
    subject: str,
    payload: dict[str, Any],
) -> AuditEvent:
    """Append one event to the project's chain, in the caller's transaction.

    Call it as late as possible in the transaction: on PostgreSQL it holds the
    project's chain lock until commit.
    """
    repository.lock_chain(session, project_id)
    previous = repository.last_event(session, project_id)
    body = canonical_json(payload)
    link = ChainLink(
        project_id=project_id,
        seq=previous.seq + 1 if previous else 1,
        actor=actor,
        action=action,
        subject=subject,
        occurred_at=utcnow(),
        payload_sha256=sha256_hex(body),
        prev_hash=previous.hash if previous else GENESIS_HASH,
        hash="",
    )
    event = AuditEvent(
        project_id=project_id,
        seq=link.seq,
        actor=actor,
        action=action,
        subject=subject,
        occurred_at=link.occurred_at,
        payload_sha256=link.payload_sha256,
        prev_hash=link.prev_hash,
        hash=link_hash(link.prev_hash, link.header()),
    )
    repository.add_event(session, event, body)
    return event


def to_link(event: AuditEvent) -> ChainLink:
    return ChainLink(
        project_id=event.project_id,
        seq=event.seq,
        actor=event.actor,
        action=event.action,
        subject=event.subject,
        occurred_at=event.occurred_at,
        payload_sha256=event.payload_sha256,
        prev_hash=event.prev_hash,
        hash=event.hash,
    )


def verify(session: Session, *, project_id: int) -> VerifyResult:
    return verify_chain(
        (to_link(event), body) for event, body in repository.iter_chain(session, project_id)
    )


def list_events(
    session: Session,
    *,
    project_id: int,
    action: str | None = None,
    actor: str | None = None,
    subject: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int | None = None,
    limit: int = 100,
) -> Sequence[tuple[AuditEvent, str | None]]:
    return repository.list_events(
        session,
        project_id=project_id,
        action=action,
        actor=actor,
        subject=subject,
        since=since,
        until=until,
        after_seq=after_seq,
        limit=limit,
    )
