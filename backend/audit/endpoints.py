from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from backend.api.dependencies import AuditReader
from backend.api.paging import QueryCursor, decode_cursor, deprecated_parameter, encode_cursor
from backend.api.params import QueryDateTime
from backend.audit import keys, service
from backend.audit.checkpoints import Checkpoint
from backend.audit.schemas import (
    AuditEventRead,
    AuditPage,
    CheckpointRead,
    VerifyRead,
    VerifyRequest,
)
from backend.db import DbSession
from backend.errors import InvalidInput, NotFound
from backend.http import MAX_ID, JsonRoute, json_body, json_body_openapi

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=JsonRoute)


@router.get("", response_model=AuditPage)
def list_events(
    response: Response,
    session: DbSession,
    actor: AuditReader,
    action: str | None = None,
    actor_label: Annotated[str | None, Query(alias="actor")] = None,
    subject: str | None = None,
    since: QueryDateTime | None = None,
    until: QueryDateTime | None = None,
    cursor: QueryCursor = None,
    order: Annotated[
        Literal["asc", "desc"] | None,
        Query(description="By sequence number; default newest first (desc)."),
    ] = None,
    after_seq: Annotated[
        int | None, Query(ge=0, le=MAX_ID, deprecated=True, description="Use cursor.")
    ] = None,
    before_seq: Annotated[
        int | None, Query(ge=1, le=MAX_ID, deprecated=True, description="Use cursor.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Newest first, or oldest first with ``order=asc`` (to read the chain as it
    grew); pass ``next_cursor`` as ``cursor`` for the next page, in the same order."""
    if sum(x is not None for x in (cursor, after_seq, before_seq)) > 1:
        raise InvalidInput(
            "give one of cursor, after_seq and before_seq",
            errors=[{"field": "cursor", "message": "the deprecated seq parameters page too"}],
        )
    if cursor is not None:
        direction, seq = decode_cursor("audit", cursor, str, int)
        if direction not in ("asc", "desc") or (order is not None and order != direction):
            raise InvalidInput(
                "the cursor pages in the other order",
                errors=[{"field": "order", "message": f"this cursor pages {direction}"}],
            )
        order = direction
        after_seq, before_seq = (seq, None) if direction == "asc" else (None, seq)
    elif after_seq is not None or before_seq is not None:
        deprecated_parameter(response)
        # As before the cursor: after_seq paged oldest first, before_seq newest first.
        order = order or ("asc" if after_seq is not None else "desc")
    order = order or "desc"
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
    last = items[-1].seq if len(rows) > limit else None
    return AuditPage(
        items=items,
        next_cursor=encode_cursor("audit", order, last) if last is not None else None,
        next_after_seq=last if order == "asc" else None,
        next_before_seq=last if order == "desc" else None,
    )


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
