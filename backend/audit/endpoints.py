from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query

from backend.audit import service
from backend.audit.schemas import AuditEventRead, AuditPage, VerifyRead
from backend.auth.dependencies import AuditReader
from backend.db import DbSession
from backend.http import MAX_ID, QueryId
from backend.ingest.schemas import QueryDateTime

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=AuditPage)
def list_events(
    session: DbSession,
    actor: AuditReader,
    action: str | None = None,
    actor_label: Annotated[str | None, Query(alias="actor")] = None,
    subject: str | None = None,
    since: QueryDateTime | None = None,
    until: QueryDateTime | None = None,
    after_seq: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    before_seq: QueryId = None,
    order: Annotated[Literal["asc", "desc"], Query(description="By sequence number.")] = "asc",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Oldest first, paged with ``after_seq``; or ``order=desc``, newest first, paged
    with ``before_seq`` (both given back as ``next_after_seq`` / ``next_before_seq``)."""
    rows = service.list_events(
        session,
        project_id=actor.project_id,
        action=action,
        actor=actor_label,
        subject=subject,
        since=since,
        until=until,
        after_seq=after_seq,
        limit=limit + 1,
        before_seq=before_seq,
        newest_first=order == "desc",
    )
    items = [
        AuditEventRead(
            seq=event.seq,
            actor=event.actor,
            action=event.action,
            subject=event.subject,
            occurred_at=event.occurred_at,
            payload_sha256=event.payload_sha256,
            prev_hash=event.prev_hash,
            hash=event.hash,
            payload=orjson.loads(body) if body is not None else None,
        )
        for event, body in rows[:limit]
    ]
    more = len(rows) > limit
    if order == "desc":
        return AuditPage(
            items=items, next_after_seq=None, next_before_seq=items[-1].seq if more else None
        )
    return AuditPage(items=items, next_after_seq=items[-1].seq if more else None)


@router.get("/verify", response_model=VerifyRead)
def verify(session: DbSession, actor: AuditReader) -> VerifyRead:
    """Recompute this project's hash chain; names the first sequence number that fails."""
    return VerifyRead(**dataclasses.asdict(service.verify(session, project_id=actor.project_id)))
