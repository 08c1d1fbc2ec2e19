"""``retention.purge``: one retention pass over every project."""

from __future__ import annotations

from backend.config import Settings
from backend.db import Database
from backend.retention.service import run_retention


def purge(database: Database, settings: Settings) -> dict[str, int]:
    return run_retention(database, settings.retention).totals()
