"""First start: a ``default`` project and an admin key, shown once."""

from __future__ import annotations

import getpass

from backend.api.actor import cli_actor
from backend.api.roles import Role
from backend.auth import service
from backend.auth.schemas import ApiKeyCreate
from backend.config import Settings
from backend.db import Database

BOOTSTRAP_PROJECT = "default"


def ensure_bootstrap_key(database: Database, settings: Settings) -> str | None:
    """Create the bootstrap admin key if the store has no key at all; return its token."""
    with database.transaction() as session:
        if service.has_any_key(session):
            return None
        user = f"cli:{getpass.getuser()}"
        project = service.get_or_create_project(session, name=BOOTSTRAP_PROJECT, actor_label=user)
        _, token = service.create_key(
            session,
            actor=cli_actor(project.id, getpass.getuser()),
            key_in=ApiKeyCreate(name="bootstrap-admin", role=Role.ADMIN),
            server_secret=settings.secret_key,
        )
        return token
