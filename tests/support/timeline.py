"""Test time, relative to the clock.

Every date a test logs is relative to ``DAY0``: midnight UTC two days before the test
session began, read from the process clock when the session starts (so libfaketime
moves it too). A trailing window ("30d", a retention cut-off, a key's expiry) meets
only these relative dates, never a literal one, so the suite passes on any day.
Fixed dates remain only where they meet fixed ``start``/``end`` windows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from backend import clock

SESSION_START = clock.now()
DAY0 = SESSION_START.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)


def at(minutes: float = 0, *, days: float = 0, hours: float = 0, seconds: float = 0) -> datetime:
    """DAY0 plus the given offset."""
    return DAY0 + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def iso(moment: datetime) -> str:
    """ISO 8601 with a Z, as the API's callers write it."""
    return moment.isoformat().replace("+00:00", "Z")


def window(start: datetime, end: datetime) -> dict[str, str]:
    return {"start": iso(start), "end": iso(end)}
