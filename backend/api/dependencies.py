"""The auth dependency every router uses, and the role aliases.

The key itself is checked by the auth domain: ``create_app`` puts its authenticator on
``app.state.authenticate`` (the same one the auth gate calls before a body is read), so
this shared layer imports no domain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from backend.api.actor import Actor
from backend.api.roles import Permission
from backend.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer vt_<prefix>_<secret>")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def _current_actor(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_api_key_header)],
) -> Actor:
    # The auth gate (backend.middleware) checked the key before the body was read.
    gated: Actor | None = getattr(request.state, "actor", None)
    if gated is not None:
        return gated
    raw = bearer.credentials if bearer is not None else header_key
    if not raw:
        raise Unauthorized("send an API key as 'Authorization: Bearer vt_…' or 'X-API-Key'")
    authenticate: Callable[[str], Actor] = request.app.state.authenticate
    actor = authenticate(raw)
    request.state.actor = actor
    return actor


CurrentActor = Annotated[Actor, Depends(_current_actor)]


def require(permission: Permission) -> Callable[[Actor], Actor]:
    def _check(actor: CurrentActor) -> Actor:
        if not actor.can(permission):
            raise Forbidden(
                f"a key with role '{actor.role.value}' may not do this "
                f"(needs permission '{permission.value}')"
            )
        return actor

    return _check


def require_any(*permissions: Permission) -> Callable[[Actor], Actor]:
    """At least one of ``permissions``: the service decides which one the request takes
    (a lifecycle move's permission depends on its target stage)."""

    def _check(actor: CurrentActor) -> Actor:
        if not any(actor.can(p) for p in permissions):
            needed = " or ".join(f"'{p.value}'" for p in permissions)
            raise Forbidden(
                f"a key with role '{actor.role.value}' may not do this (needs permission {needed})"
            )
        return actor

    return _check


IngestActor = Annotated[Actor, Depends(require(Permission.INGEST_WRITE))]
CatalogReader = Annotated[Actor, Depends(require(Permission.CATALOG_READ))]
CatalogWriter = Annotated[Actor, Depends(require(Permission.CATALOG_WRITE))]
PredictionReader = Annotated[Actor, Depends(require(Permission.PREDICTIONS_READ))]
AuditReader = Annotated[Actor, Depends(require(Permission.AUDIT_READ))]
KeyManager = Annotated[Actor, Depends(require(Permission.KEYS_MANAGE))]
MonitorReader = Annotated[Actor, Depends(require(Permission.MONITORS_READ))]
MonitorWriter = Annotated[Actor, Depends(require(Permission.MONITORS_WRITE))]
AlertManager = Annotated[Actor, Depends(require(Permission.ALERTS_MANAGE))]
ChannelManager = Annotated[Actor, Depends(require(Permission.CHANNELS_MANAGE))]
GovernanceReader = Annotated[Actor, Depends(require(Permission.GOVERNANCE_READ))]
GovernanceProposer = Annotated[Actor, Depends(require(Permission.GOVERNANCE_PROPOSE))]
GovernanceApprover = Annotated[Actor, Depends(require(Permission.GOVERNANCE_APPROVE))]
Reviewer = Annotated[Actor, Depends(require(Permission.REVIEW))]
IncidentReader = Annotated[Actor, Depends(require(Permission.INCIDENTS_READ))]
IncidentManager = Annotated[Actor, Depends(require(Permission.INCIDENTS_MANAGE))]
ServingReader = Annotated[Actor, Depends(require(Permission.SERVING_READ))]
ServingController = Annotated[Actor, Depends(require(Permission.SERVING_CONTROL))]
GovernanceMover = Annotated[
    Actor,
    Depends(require_any(Permission.GOVERNANCE_PROPOSE, Permission.GOVERNANCE_APPROVE)),
]
