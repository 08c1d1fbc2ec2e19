from __future__ import annotations

from fastapi import APIRouter, Request, status
from pydantic import BaseModel

from backend.api.dependencies import CurrentActor, KeyManager
from backend.api.roles import ROLE_PERMISSIONS
from backend.auth import service
from backend.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from backend.db import DbSession
from backend.http import JsonRoute, PathId, check_name_lengths

router = APIRouter(prefix="/v1/keys", tags=["keys"], route_class=JsonRoute)
me_router = APIRouter(tags=["keys"], route_class=JsonRoute)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
def create_key(
    key_in: ApiKeyCreate, request: Request, session: DbSession, actor: KeyManager
) -> ApiKeyCreated:
    check_name_lengths(request, name=key_in.name)
    key, token = service.create_key(
        session, actor=actor, key_in=key_in, server_secret=request.app.state.settings.secret_key
    )
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), token=token)


@router.get("", response_model=list[ApiKeyRead])
def list_keys(session: DbSession, actor: KeyManager) -> list[ApiKeyRead]:
    return [ApiKeyRead.model_validate(key) for key in service.list_keys(session, actor=actor)]


@router.post("/{key_id}/revoke", response_model=ApiKeyRead)
def revoke_key(key_id: PathId, session: DbSession, actor: KeyManager) -> ApiKeyRead:
    return ApiKeyRead.model_validate(service.revoke_key(session, actor=actor, key_id=key_id))


class WhoAmI(BaseModel):
    project_id: int
    role: str
    label: str
    permissions: list[str]


@me_router.get("/v1/whoami", response_model=WhoAmI)
def whoami(actor: CurrentActor) -> WhoAmI:
    """The calling key's project, role and permissions: what a client may offer."""
    return WhoAmI(
        project_id=actor.project_id,
        role=actor.role.value,
        label=actor.label,
        permissions=sorted(p.value for p in ROLE_PERMISSIONS[actor.role]),
    )
