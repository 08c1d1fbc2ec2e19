from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from backend import clock
from backend.api.actor import Actor
from backend.api.roles import Role
from backend.audit import service as audit_service
from backend.auth import repository
from backend.auth.schemas import ApiKeyCreate
from backend.auth.tokens import new_token, parse_token, secret_hmac, secret_matches
from backend.errors import Conflict, InvalidInput, NotFound, Unauthorized
from backend.models import ApiKey, Project

log = logging.getLogger("verity.auth")


def _refuse(reason: str, prefix: str | None, detail: str) -> Unauthorized:
    # Refusals are logged for intrusion monitoring by the key's public prefix only.
    log.warning("auth.refused reason=%s prefix=%s", reason, prefix or "-")
    return Unauthorized(detail)


def authenticate(session: Session, *, raw_token: str, server_secret: str) -> Actor:
    token = parse_token(raw_token)
    if token is None:
        raise _refuse("malformed", None, "the API key is malformed; expected vt_<prefix>_<secret>")
    key = repository.get_key_by_prefix(session, token.prefix)
    if key is None or not secret_matches(server_secret, token.secret, key.secret_hmac):
        raise _refuse("unknown", token.prefix, "unknown API key")
    now = clock.now()
    if key.revoked_at is not None:
        raise _refuse("revoked", token.prefix, "this API key has been revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise _refuse("expired", token.prefix, "this API key has expired")
    return Actor(
        project_id=key.project_id,
        role=Role(key.role),
        label=f"key:{key.prefix}:{key.name}",
        key_id=key.id,
    )


def get_or_create_project(session: Session, *, name: str, actor_label: str) -> Project:
    project = repository.get_project_by_name(session, name)
    if project is not None:
        return project
    project = Project(name=name)
    session.add(project)
    session.flush()
    audit_service.append(
        session,
        project_id=project.id,
        actor=actor_label,
        action="project.create",
        subject=f"project:{name}",
        payload={"name": name},
    )
    return project


def create_key(
    session: Session, *, actor: Actor, key_in: ApiKeyCreate, server_secret: str
) -> tuple[ApiKey, str]:
    now = clock.now()
    expires_at = key_in.expires_at
    if key_in.expires_in_days is not None:
        expires_at = now + timedelta(days=key_in.expires_in_days)
    if expires_at is not None and _as_aware(expires_at) <= now:
        raise InvalidInput("expires_at must lie in the future", field="expires_at")
    token = new_token()
    key = ApiKey(
        project_id=actor.project_id,
        name=key_in.name,
        prefix=token.prefix,
        secret_hmac=secret_hmac(server_secret, token.secret),
        role=key_in.role.value,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    audit_service.record(
        session,
        actor,
        "api_key.create",
        f"api_key:{key.prefix}",
        {
            "id": key.id,
            "name": key.name,
            "role": key.role,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return key, str(token)


def list_keys(session: Session, *, actor: Actor) -> Sequence[ApiKey]:
    return repository.list_keys(session, project_id=actor.project_id)


def revoke_key(session: Session, *, actor: Actor, key_id: int) -> ApiKey:
    key = repository.get_key(session, project_id=actor.project_id, key_id=key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id} in this project")
    if key.revoked_at is not None:
        raise Conflict(f"API key {key.prefix} is already revoked")
    key.revoked_at = clock.now()
    session.flush()
    audit_service.record(
        session,
        actor,
        "api_key.revoke",
        f"api_key:{key.prefix}",
        {"id": key.id, "name": key.name, "role": key.role},
    )
    return key


def find_key_by_prefix(session: Session, *, project_id: int, prefix: str) -> ApiKey:
    key = repository.get_key_by_prefix(session, prefix)
    if key is None or key.project_id != project_id:
        raise NotFound(f"no API key with prefix {prefix} in this project")
    return key


def has_any_key(session: Session) -> bool:
    return repository.count_keys(session) > 0


def _as_aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def get_project(session: Session, *, name: str) -> Project:
    found = repository.get_project_by_name(session, name)
    if found is None:
        raise NotFound(f"no project named '{name}'")
    return found


def list_projects(session: Session) -> Sequence[Project]:
    return repository.list_projects(session)
