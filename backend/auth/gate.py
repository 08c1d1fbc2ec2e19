from __future__ import annotations

from collections.abc import Callable

from backend.api.actor import Actor
from backend.auth import service
from backend.config import Settings
from backend.db import Database


def key_authenticator(database: Database, settings: Settings) -> Callable[[str], Actor]:
    """What the API's auth gate and ``backend.api.dependencies`` call with a raw key,
    in a read-only transaction of its own."""

    def authenticate(raw_token: str) -> Actor:
        with database.transaction(read_only=True) as session:
            return service.authenticate(
                session, raw_token=raw_token, server_secret=settings.secret_key
            )

    return authenticate
