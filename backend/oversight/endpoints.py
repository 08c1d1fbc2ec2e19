"""Serving state over HTTP. Every model server polls the GET with If-None-Match: an
unchanged state answers 304 from one indexed lookup, with no body."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from backend.api.dependencies import IngestActor, ServingController, ServingReader
from backend.db import DbSession, ReadSession
from backend.http import JsonRoute
from backend.oversight import service
from backend.oversight.schemas import LocalReport, ServingRead, ServingWrite

router = APIRouter(prefix="/v1", tags=["oversight"], route_class=JsonRoute)
SERVING = "/models/{model}/versions/{version}/serving-state"


@router.get(
    SERVING,
    response_model=ServingRead,
    responses={304: {"description": "Unchanged since the ETag in If-None-Match."}},
)
def get_serving_state(
    model: str, version: str, request: Request, response: Response, session: ReadSession,
    actor: ServingReader,
) -> ServingRead | Response:  # fmt: skip
    """The version's serving state (active, tripped, stopped), with an ETag."""
    asked = request.headers.get("if-none-match")
    if asked:
        current = service.poll_etag(session, actor=actor, model_name=model, version_name=version)
        if current is not None and current in {tag.strip() for tag in asked.split(",")}:
            return Response(status_code=304, headers={"ETag": current})
    read, tag = service.get(session, actor=actor, model_name=model, version_name=version)
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = "no-cache"
    return read


@router.post(SERVING, response_model=ServingRead)
def set_serving_state(
    model: str, version: str, spec: ServingWrite, response: Response, session: DbSession,
    actor: ServingController,
) -> ServingRead:  # fmt: skip
    """Stop or trip the version with a reason, or restore it (``active``); audited."""
    read, tag = service.set_state(
        session, actor=actor, model_name=model, version_name=version, spec=spec
    )
    response.headers["ETag"] = tag
    return read


@router.post(SERVING + ":report", status_code=status.HTTP_204_NO_CONTENT)
def report_local(
    model: str, version: str, spec: LocalReport, session: DbSession, actor: IngestActor
) -> Response:
    """A model server's SDK reports its local breaker (or its polls failing); audited."""
    service.report(session, actor=actor, model_name=model, version_name=version, spec=spec)
    return Response(status_code=204)
