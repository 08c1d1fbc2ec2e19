"""``notifications.deliver``: send the queued notifications that are due.
``notifications.checkpoint``: sign every audit chain's head and send the checkpoints
to the witness webhooks."""

from __future__ import annotations

import httpx

from backend.config import Settings
from backend.db import Database
from backend.notifications.delivery import deliver_due
from backend.notifications.witness import checkpoint_and_publish


def deliver(database: Database, settings: Settings, client: httpx.Client) -> dict[str, int]:
    return deliver_due(database, settings.notify, client)


def checkpoint(database: Database, settings: Settings) -> int:
    return checkpoint_and_publish(database, settings)
