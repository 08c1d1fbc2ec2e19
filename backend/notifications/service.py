from __future__ import annotations

import binascii
from collections.abc import Sequence

from sqlalchemy.orm import Session

from backend.api.actor import Actor
from backend.audit import service as audit_service
from backend.config import NotifySettings
from backend.errors import Conflict, InvalidInput, NotFound
from backend.models import NotificationChannel
from backend.notifications import repository, signing
from backend.notifications.outbound import BlockedDestination, check_url
from backend.notifications.schemas import ChannelCreate


def create(
    session: Session, *, actor: Actor, spec: ChannelCreate, settings: NotifySettings
) -> tuple[NotificationChannel, str | None]:
    url = spec.url or settings.pagerduty_url
    try:
        check_url(url, settings)
    except BlockedDestination as error:
        raise InvalidInput(str(error), errors=[{"field": "url", "message": str(error)}]) from None
    generated = None
    secret = spec.secret
    if spec.kind == "webhook":
        if secret is None:
            secret = generated = signing.new_secret()
        else:
            try:
                signing.secret_bytes(secret)
            except (binascii.Error, ValueError):
                raise InvalidInput(
                    "a webhook secret is whsec_ followed by base64",
                    errors=[{"field": "secret", "message": "not whsec_<base64>"}],
                ) from None
    exists = repository.channel_by_name(session, project_id=actor.project_id, name=spec.name)
    if exists is not None:
        raise Conflict(f"a channel named '{spec.name}' exists")
    channel = NotificationChannel(
        project_id=actor.project_id,
        name=spec.name,
        kind=spec.kind,
        url=url,
        secret=secret,
        min_severity=spec.min_severity,
        enabled=spec.enabled,
        witness=spec.witness,
    )
    session.add(channel)
    session.flush()
    audit_service.record(
        session,
        actor,
        "channel.create",
        f"channel:{channel.id}",
        # The secret is never written to the audit trail; only whether one is set.
        {
            "name": channel.name,
            "kind": channel.kind,
            "url": channel.url,
            "min_severity": channel.min_severity,
            "witness": channel.witness,
            "has_secret": secret is not None,
        },
    )
    return channel, generated


def list_channels(session: Session, *, actor: Actor) -> Sequence[NotificationChannel]:
    return repository.channels(session, project_id=actor.project_id)


def delete(session: Session, *, actor: Actor, channel_id: int) -> None:
    """Disables the channel (past deliveries keep referring to it)."""
    channel = repository.get_channel(session, project_id=actor.project_id, channel_id=channel_id)
    if channel is None:
        raise NotFound(f"no channel {channel_id}")
    channel.enabled = False
    session.flush()
    audit_service.record(
        session, actor, "channel.disable", f"channel:{channel.id}", {"name": channel.name}
    )
