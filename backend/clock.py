"""The one source of "now" in the control plane.

Decision: **"now" comes from the application, never from the database server.** Every
time Verity stores or compares (scheduled windows, leases, alert and key expiry,
retention cut-offs, pairing TTLs, evidence periods, demo traffic) is read here and
bound into SQL as a parameter; no query calls ``now()``/``CURRENT_TIMESTAMP`` and no
column has a server-side default. The API and its database run on different hosts in
real deployments and their clocks differ; with one source, a comparison never mixes
the two. A test found that moving the process clock (libfaketime) moves all of
Verity's time with it, which is only true because of this rule.

Tests install a :class:`ManualClock` with :func:`use_clock`; the code under test reads
the same clock through :func:`now`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The process's wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until moved: ``set`` and ``advance``. Thread-safe, so
    a test can move it while the code under test reads it from another thread."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock's time is timezone-aware")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a clock's time is timezone-aware")
        with self._lock:
            self._now = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


_clock: Clock = SystemClock()


def now() -> datetime:
    """The control plane's "now" (timezone-aware UTC)."""
    return _clock.now()


def current() -> Clock:
    return _clock


def set_clock(clock: Clock) -> Clock:
    """Installs ``clock`` for the whole process; returns the one it replaces."""
    global _clock
    previous, _clock = _clock, clock
    return previous


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    previous = set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)
