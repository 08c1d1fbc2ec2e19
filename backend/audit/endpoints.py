from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request

from backend.audit import keys, service
from backend.audit.checkpoints import Checkpoint
from backend.audit.schemas import (
    AuditEventRead,
    AuditPage,
    CheckpointRead,
    VerifyRead,
    VerifyRequest,
)
from backend.auth.dependencies import AuditReader
from backend.db import DbSession
from backend.errors import NotFound
from backend.http import MAX_ID, JsonRoute, QueryId, json_body, json_body_openapi
from backend.ingest.schemas import QueryDateTime

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=JsonRoute)


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


def _trusted_keys(request: Request) -> list[str]:
    return keys.trusted_public_keys(request.app.state.settings)


@router.get("/verify", response_model=VerifyRead)
def verify(request: Request, session: DbSession, actor: AuditReader) -> VerifyRead:
    """Recompute this project's hash chain and check every record it vouches for
    (predictions and labels by their batches' Merkle roots, runs and alerts by digest,
    missing payloads against retention) and the newest stored checkpoint; names the
    first failure and its sequence number."""
    result = service.verify(
        session, project_id=actor.project_id, trusted_keys=_trusted_keys(request)
    )
    return VerifyRead(**dataclasses.asdict(result))


@router.post("/verify", response_model=VerifyRead, openapi_extra=json_body_openapi(VerifyRequest))
def verify_against(
    body: Annotated[VerifyRequest, Depends(json_body(VerifyRequest))],
    request: Request,
    session: DbSession,
    actor: AuditReader,
) -> VerifyRead:
    """As ``GET /verify``, also against checkpoints kept outside Verity (a witness's
    copies): a chain whose end was cut off fails here even if the stored checkpoints
    were deleted too."""
    handed = [Checkpoint.from_json(c.model_dump(mode="json")) for c in body.checkpoints]
    result = service.verify(
        session,
        project_id=actor.project_id,
        trusted_keys=_trusted_keys(request),
        checkpoints=handed,
    )
    return VerifyRead(**dataclasses.asdict(result))


@router.get("/checkpoints/latest", response_model=CheckpointRead)
def latest_checkpoint(session: DbSession, actor: AuditReader) -> CheckpointRead:
    """The newest signed checkpoint of this project's chain (keep a copy elsewhere)."""
    checkpoint = service.latest_checkpoint(session, project_id=actor.project_id)
    if checkpoint is None:
        raise NotFound("no checkpoint yet: the scheduler writes one every hour")
    return CheckpointRead(**checkpoint.as_json())
