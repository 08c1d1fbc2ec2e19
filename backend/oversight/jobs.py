"""Scheduled oversight work."""

from __future__ import annotations

from backend.db import Database
from backend.oversight import incidents


def deadlines(database: Database) -> int:
    """``oversight.deadlines``: warn of Art. 73 reporting deadlines less than 48 hours
    away (each once), in one transaction."""
    with database.transaction() as session:
        return incidents.warn_deadlines(session)
