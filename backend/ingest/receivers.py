"""Native ingestion: Open Inference Protocol v2 pairs, and the KServe / MLServer
CloudEvents logger (binary mode), whose request and response events are joined by
``ce-id``. Both end in the same validation and storage as ``POST /v1/predictions``.
"""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from backend import clock
from backend.api.actor import Actor
from backend.api.dependencies import IngestActor, MonitorReader
from backend.catalog import repository as catalog_repository
from backend.catalog.schemas import Task
from backend.db import DbSession, ReadSession
from backend.errors import InvalidInput, NotFound
from backend.http import JsonRoute
from backend.ingest import oip, repository, service
from backend.ingest.schemas import IngestResult, PredictionBatch
from backend.models import InferenceHalf, Model, ModelVersion

router = APIRouter(prefix="/v1/ingest", tags=["ingest"], route_class=JsonRoute)


async def _json_body(request: Request) -> Any:
    """The body as JSON, read in the event loop; the endpoints themselves run in the
    thread pool, as every endpoint that touches the database does."""
    try:
        return json.loads(await request.body())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"the body is not JSON: {exc}") from exc


JsonBody = Annotated[Any, Depends(_json_body)]

HALVES = ("request", "response")


class CloudEventAccepted(BaseModel):
    ce_id: str
    half: str
    state: str = Field(description="'waiting' for its partner, or 'joined' and stored.")
    result: IngestResult | None = None
    expired: int = Field(description="Halves of this project expired by this call.")


class UnpairedHalf(BaseModel):
    ce_id: str
    half: str
    model: str
    version: str
    ce_type: str
    ce_source: str
    received_at: datetime
    state: str
    closed_at: datetime | None
    error: str | None


class UnpairedPage(BaseModel):
    items: list[UnpairedHalf]
    pending: int
    expired: int


def _version(
    session: Session, actor: Actor, model: str, version: str
) -> tuple[Model, ModelVersion]:
    found = catalog_repository.find_versions(
        session, project_id=actor.project_id, pairs={(model, version)}
    )
    if (model, version) not in found:
        raise NotFound(f"no model '{model}' with version '{version}' in this project")
    return found[(model, version)]


def _shape(model: Model, version: ModelVersion) -> oip.VersionShape:
    return oip.VersionShape(
        task=Task(model.task),
        features=version.features,
        class_labels=list(version.class_labels or []),
        positive_class=version.positive_class,
    )


def _store(
    read_session: Session,
    session: Session,
    request: Request,
    actor: Actor,
    records: list[dict[str, Any]],
) -> IngestResult:
    try:
        batch = PredictionBatch.model_validate({"records": records})
    except ValidationError as exc:
        raise InvalidInput(
            "the converted records are invalid",
            errors=[
                {"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()
            ],
        ) from exc
    prepared = service.prepare_predictions(
        read_session,
        actor=actor,
        batch=batch,
        max_records=request.app.state.settings.ingest.max_batch_records,
        limits=request.app.state.settings.limits,
    )
    return service.store_predictions(
        session, actor=actor, prepared=prepared, body_sha256=request.state.body_sha256
    )


def _conversion_error(exc: oip.ConversionError) -> InvalidInput:
    return InvalidInput(str(exc), errors=[{"field": exc.field, "message": exc.message}])


@router.post("/oip/{model}/versions/{version}", response_model=IngestResult)
def ingest_oip(
    model: str,
    version: str,
    body: JsonBody,
    request: Request,
    read_session: ReadSession,
    session: DbSession,
    actor: IngestActor,
    output: Annotated[
        str | None, Query(description="The output tensor holding the prediction.")
    ] = None,
    threshold: Annotated[
        float,
        Query(ge=0, le=1, description="Binary score at which the positive class is predicted."),
    ] = 0.5,
) -> IngestResult:
    """Open Inference Protocol v2 ``{"request": ..., "response": ...}`` pairs, one or a
    list: each row of the batched tensors is one prediction, with event id
    ``<response or request id>-<row>``."""
    items = body if isinstance(body, list) else [body]
    records: list[dict[str, Any]] = []
    found_model, found_version = _version(read_session, actor, model, version)
    shape = _shape(found_model, found_version)
    received = clock.now()
    for i, item in enumerate(items):
        try:
            pair = oip.InferencePair.model_validate(item)
            records += oip.to_records(
                pair,
                shape,
                model=model,
                version=version,
                occurred_at=received,
                output=output,
                threshold=threshold,
            )
        except ValidationError as exc:
            raise InvalidInput(
                f"pair {i} is not an Open Inference Protocol v2 request/response pair",
                errors=[
                    {"field": f"{i}." + ".".join(map(str, e["loc"])), "message": e["msg"]}
                    for e in exc.errors()
                ],
            ) from exc
        except oip.ConversionError as exc:
            raise _conversion_error(oip.ConversionError(f"{i}.{exc.field}", exc.message)) from exc
    return _store(read_session, session, request, actor, records)


def _half_of(ce_type: str) -> str:
    lowered = ce_type.lower()
    for half in HALVES:
        if lowered.endswith(half):
            return half
    raise InvalidInput(
        f"ce-type '{ce_type}' names neither a request nor a response event",
        errors=[{"field": "ce-type", "message": "expected a type ending in .request or .response"}],
    )


def expire_halves(session: Session, *, project_id: int, ttl_seconds: float) -> int:
    now = clock.now()
    return repository.expire_halves(
        session,
        project_id=project_id,
        received_before=now - timedelta(seconds=ttl_seconds),
        now=now,
    )


def _pair_lock(session: Session, project_id: int, version_id: int, ce_id: str) -> None:
    """Two halves arriving at once must not both miss each other: on PostgreSQL they
    serialize on a transaction lock for their ce-id (SQLite serializes writers)."""
    repository.pair_lock(session, zlib.crc32(f"{project_id}/{version_id}/{ce_id}".encode()))


@router.post("/cloudevents/{model}/versions/{version}", response_model=CloudEventAccepted)
def ingest_cloudevent(
    model: str,
    version: str,
    body: JsonBody,
    request: Request,
    response: Response,
    read_session: ReadSession,
    session: DbSession,
    actor: IngestActor,
    output: Annotated[str | None, Query()] = None,
    threshold: Annotated[float, Query(ge=0, le=1)] = 0.5,
) -> CloudEventAccepted:
    """A CloudEvents 1.0 event in binary mode (``ce-*`` headers, the inference request
    or response as the body), as KServe's and MLServer's payload loggers send. The
    request and response events of one inference share a ``ce-id``; the first waits
    for the second, and a half whose partner has not come within
    ``ingest.cloudevent_pair_ttl_seconds`` is marked expired and listed by
    ``GET /v1/ingest/cloudevents/unpaired``."""
    headers = request.headers
    missing = [h for h in ("ce-id", "ce-type", "ce-source", "ce-specversion") if h not in headers]
    if missing:
        raise InvalidInput(
            f"not a binary-mode CloudEvent: missing {', '.join(missing)}",
            errors=[{"field": h, "message": "required header"} for h in missing],
        )
    if headers["ce-specversion"] != "1.0":
        raise InvalidInput(f"ce-specversion {headers['ce-specversion']!r} is not 1.0")
    ce_id = headers["ce-id"]
    if not 0 < len(ce_id) <= 200:
        raise InvalidInput("ce-id must be 1 to 200 characters")
    half = _half_of(headers["ce-type"])
    if not isinstance(body, dict):
        raise InvalidInput("the event's data must be a JSON object")
    found_model, found_version = _version(read_session, actor, model, version)
    ttl = request.app.state.settings.ingest.cloudevent_pair_ttl_seconds
    expired = expire_halves(session, project_id=actor.project_id, ttl_seconds=ttl)
    _pair_lock(session, actor.project_id, found_version.id, ce_id)
    other = "response" if half == "request" else "request"
    pair_key: repository.PairKey = {
        "project_id": actor.project_id,
        "version_id": found_version.id,
        "ce_id": ce_id,
    }
    partner = repository.pending_half(session, key=pair_key, half=other)
    if partner is None:
        if not repository.has_half(session, key=pair_key, half=half):
            session.add(
                InferenceHalf(
                    project_id=actor.project_id,
                    model_version_id=found_version.id,
                    ce_id=ce_id,
                    half=half,
                    ce_type=headers["ce-type"][:200],
                    ce_source=headers["ce-source"][:500],
                    ce_time=_ce_time(headers.get("ce-time")),
                    body=body,
                    received_at=clock.now(),
                    state="pending",
                )
            )
            session.flush()
        response.status_code = 202
        return CloudEventAccepted(ce_id=ce_id, half=half, state="waiting", expired=expired)
    bodies = {half: body, other: partner.body}
    try:
        pair = _pair(bodies["request"], bodies["response"], ce_id)
        records = oip.to_records(
            pair,
            _shape(found_model, found_version),
            model=model,
            version=version,
            occurred_at=partner.ce_time or _ce_time(headers.get("ce-time")) or clock.now(),
            output=output,
            threshold=threshold,
        )
    except (ValidationError, oip.ConversionError) as exc:
        # Nothing is written: the waiting half stays, expires and is reported.
        if isinstance(exc, oip.ConversionError):
            raise _conversion_error(exc) from exc
        raise InvalidInput(f"the joined pair is not an inference request/response: {exc}") from exc
    result = _store(read_session, session, request, actor, records)
    repository.delete_half(session, partner.id)
    return CloudEventAccepted(
        ce_id=ce_id, half=half, state="joined", result=result, expired=expired
    )


def _pair(request: dict[str, Any], response: dict[str, Any], ce_id: str) -> oip.InferencePair:
    if (
        "inputs" in request
        and "outputs" in response
        and isinstance(request["inputs"], list)
        and (
            request["inputs"]
            and isinstance(request["inputs"][0], dict)
            and "shape" in request["inputs"][0]
        )
    ):
        pair = oip.InferencePair.model_validate({"request": request, "response": response})
        if pair.request.id is None and pair.response.id is None:
            pair.response.id = ce_id
        return pair
    return oip.kserve_v1_pair(request, response, ce_id)


def _ce_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@router.get("/cloudevents/unpaired", response_model=UnpairedPage)
def unpaired_halves(
    request: Request,
    session: DbSession,
    actor: MonitorReader,
    state: Annotated[str, Query(pattern="^(pending|expired)$")] = "expired",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> UnpairedPage:
    """Halves still waiting for their partner, or expired without one: inferences the
    logger sent that are not stored."""
    ttl = request.app.state.settings.ingest.cloudevent_pair_ttl_seconds
    expire_halves(session, project_id=actor.project_id, ttl_seconds=ttl)
    rows = repository.halves(session, project_id=actor.project_id, state=state, limit=limit)
    counts = repository.half_counts(session, project_id=actor.project_id)
    return UnpairedPage(
        items=[
            UnpairedHalf(
                ce_id=h.ce_id,
                half=h.half,
                model=name,
                version=version_name,
                ce_type=h.ce_type,
                ce_source=h.ce_source,
                received_at=h.received_at,
                state=h.state,
                closed_at=h.closed_at,
                error=h.error,
            )
            for h, name, version_name in rows
        ],
        pending=int(counts.get("pending", 0)),
        expired=int(counts.get("expired", 0)),
    )
