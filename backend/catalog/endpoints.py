from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from backend.api.dependencies import CatalogReader, CatalogWriter
from backend.catalog import service
from backend.catalog.reference_io import FORMATS
from backend.catalog.schemas import (
    ModelCreate,
    ModelRead,
    ReferenceRead,
    VersionCreate,
    VersionRead,
    version_read,
)
from backend.db import DbSession
from backend.http import JsonRoute, check_name_lengths

router = APIRouter(prefix="/v1/models", tags=["catalog"], route_class=JsonRoute)
uploads = APIRouter(prefix="/v1/models", tags=["catalog"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ModelRead)
def create_model(
    model_in: ModelCreate, request: Request, session: DbSession, actor: CatalogWriter
) -> ModelRead:
    check_name_lengths(request, name=model_in.name)
    return ModelRead.model_validate(service.create_model(session, actor=actor, model_in=model_in))


@router.get("", response_model=list[ModelRead])
def list_models(session: DbSession, actor: CatalogReader) -> list[ModelRead]:
    return [ModelRead.model_validate(m) for m in service.list_models(session, actor=actor)]


@router.get("/{model}", response_model=ModelRead)
def get_model(model: str, session: DbSession, actor: CatalogReader) -> ModelRead:
    return ModelRead.model_validate(service.get_model(session, actor=actor, name=model))


@router.post("/{model}/versions", status_code=status.HTTP_201_CREATED, response_model=VersionRead)
def create_version(
    model: str,
    version_in: VersionCreate,
    request: Request,
    session: DbSession,
    actor: CatalogWriter,
) -> VersionRead:
    check_name_lengths(request, version=version_in.version)
    found, version = service.create_version(
        session, actor=actor, model_name=model, version_in=version_in
    )
    return version_read(found.name, found.task, version)


@router.get("/{model}/versions", response_model=list[VersionRead])
def list_versions(model: str, session: DbSession, actor: CatalogReader) -> list[VersionRead]:
    found, versions = service.list_versions(session, actor=actor, model_name=model)
    return [version_read(found.name, found.task, v) for v in versions]


@router.get("/{model}/versions/{version}", response_model=VersionRead)
def get_version(model: str, version: str, session: DbSession, actor: CatalogReader) -> VersionRead:
    found, row = service.get_version(session, actor=actor, model_name=model, version=version)
    return version_read(found.name, found.task, row)


@router.get("/{model}/versions/{version}/references", response_model=list[ReferenceRead])
def list_references(
    model: str, version: str, session: DbSession, actor: CatalogReader
) -> list[ReferenceRead]:
    return [
        ReferenceRead.model_validate(r)
        for r in service.list_references(
            session, actor=actor, model_name=model, version_name=version
        )
    ]


@uploads.put(
    "/{model}/versions/{version}/artifact",
    response_model=VersionRead,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "description": "A torch.export program (torch.export.save, with a dynamic "
            "batch dimension; recommended) or a TorchScript archive (torch.jit.save). "
            "Anything that could run code when loaded is refused.",
        }
    },
    responses={201: {"description": "Stored"}, 200: {"description": "Same artifact, unchanged"}},
)
async def upload_artifact(
    model: str,
    version: str,
    request: Request,
    response: Response,
    session: DbSession,
    actor: CatalogWriter,
) -> VersionRead:
    data = await request.body()
    store = request.app.state.artifact_store
    found, row, created = await run_in_threadpool(
        service.upload_artifact,
        session,
        actor=actor,
        model_name=model,
        version_name=version,
        data=data,
        store=store,
        settings=request.app.state.settings,
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return version_read(found.name, found.task, row)


@uploads.post(
    "/{model}/versions/{version}/references",
    response_model=ReferenceRead,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {media: {"schema": {}} for media in FORMATS},
            "description": "Rows with every feature column, and optionally the prediction, "
            "score and label columns.",
        }
    },
    responses={201: {"description": "Stored"}, 200: {"description": "Same content, unchanged"}},
)
async def upload_reference(
    model: str,
    version: str,
    request: Request,
    response: Response,
    session: DbSession,
    actor: CatalogWriter,
    name: Annotated[str, Query(min_length=1, max_length=200)] = "reference",
) -> ReferenceRead:
    check_name_lengths(request, name=name)
    data = await request.body()
    reference, created = await run_in_threadpool(
        service.upload_reference,
        session,
        actor=actor,
        model_name=model,
        version_name=version,
        name=name,
        content_type=request.headers.get("content-type", ""),
        data=data,
        store=request.app.state.artifact_store,
        settings=request.app.state.settings,
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return ReferenceRead.model_validate(reference)
