from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import clock
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
        occurred_at=clock.now(),
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
    """The chain, then every record the chain vouches for by digest (check runs): an
    edit to a stored run fails here, naming the audit event that recorded it."""
    result = verify_chain(
        (to_link(event), body) for event, body in repository.iter_chain(session, project_id)
    )
    if not result.ok:
        return result
    return _verify_records(session, project_id, result)


def _verify_records(session: Session, project_id: int, result: VerifyResult) -> VerifyResult:
    from backend.checks.lineage import record_sha256
    from backend.models import CheckRun

    recorded: dict[int, tuple[int, str]] = {}
    for event, body in repository.iter_chain(session, project_id):
        if event.action == "check_run.record" and body is not None:
            payload = orjson.loads(body)
            recorded[payload["check_run_id"]] = (event.seq, payload["record_sha256"])
    runs = session.scalars(
        select(CheckRun).where(CheckRun.project_id == project_id).order_by(CheckRun.id)
    ).all()
    for run in runs:
        if run.id not in recorded:
            return replace(
                result,
                ok=False,
                reason=f"check run {run.id} has no audit record",
                first_bad_seq=None,
            )
        seq, digest = recorded[run.id]
        if record_sha256(run) != digest or run.record_sha256 != digest:
            return replace(
                result,
                ok=False,
                first_bad_seq=seq,
                reason=f"check run {run.id} no longer matches the record audited at seq {seq}",
            )
    return result


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
    before_seq: int | None = None,
    newest_first: bool = False,
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
        before_seq=before_seq,
        newest_first=newest_first,
    )
