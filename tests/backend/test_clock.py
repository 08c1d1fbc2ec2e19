"""One clock: the control plane reads "now" only through backend.clock, and never
asks the database server for its time."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backend import clock
from backend.clock import ManualClock, SystemClock, use_clock

BACKEND = Path(__file__).resolve().parents[2] / "backend"
# The SDK runs in the model server's process, on the model server's clock.
OUTSIDE_THE_CONTROL_PLANE = {"sdk"}
# APScheduler's own wake-up timer compares against the wall clock (see the comment
# there); it decides when a job wakes, never what time a job works with.
ALLOWED = {("scheduler.py", "datetime.now")}
FORBIDDEN_CALLS = {"datetime.now", "datetime.utcnow", "datetime.today", "time.time", "date.today"}
FORBIDDEN_SQL = ("now()", "current_timestamp", "localtimestamp", "datetime('now')")


def _call_name(node: ast.Call) -> str:
    parts = []
    target: ast.expr = node.func
    while isinstance(target, ast.Attribute):
        parts.append(target.attr)
        target = target.value
    if isinstance(target, ast.Name):
        parts.append(target.id)
    return ".".join(reversed(parts))


def control_plane_sources() -> list[Path]:
    return [
        path
        for path in BACKEND.rglob("*.py")
        if path.relative_to(BACKEND).parts[0] not in OUTSIDE_THE_CONTROL_PLANE
        and path.name != "clock.py"
    ]


def clock_violations(source: str, relative: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in FORBIDDEN_CALLS and (relative, name) not in ALLOWED:
                found.append(f"{relative}:{node.lineno} {name}()")
            if name.endswith(("func.now", "func.current_timestamp")):
                found.append(f"{relative}:{node.lineno} {name}(): the database's clock")
        if isinstance(node, ast.keyword) and node.arg == "server_default":
            found.append(f"{relative}:{node.lineno} a server-side default")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.lower()
            if any(fragment in text for fragment in FORBIDDEN_SQL):
                found.append(f"{relative}:{node.lineno} SQL asking the database for now")
    return found


def test_now_is_read_only_through_the_clock() -> None:
    found = []
    for path in control_plane_sources():
        found += clock_violations(path.read_text(), path.relative_to(BACKEND).as_posix())
    assert found == []


def test_the_check_finds_each_kind_of_stray_clock_read() -> None:
    stray = """
from datetime import datetime
import time
from sqlalchemy import func, text
a = datetime.now()
b = time.time()
c = select(func.now())
d = Column(DateTime, server_default=text("x"))
e = text("SELECT CURRENT_TIMESTAMP")
"""
    found = clock_violations(stray, "x.py")
    assert [f.split(" ", 1)[0] for f in found] == [f"x.py:{n}" for n in (5, 6, 7, 8, 9)], found


def test_manual_clock_moves_only_when_told() -> None:
    start = datetime(2028, 2, 28, 23, 0, tzinfo=UTC)
    manual = ManualClock(start)
    assert manual.now() == start == manual.now()
    assert manual.advance(timedelta(hours=1)) == datetime(2028, 2, 29, tzinfo=UTC)
    manual.set(datetime(2030, 1, 1, tzinfo=UTC))
    assert manual.now().year == 2030
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        manual.set(datetime(2030, 1, 1))


def test_use_clock_installs_and_restores() -> None:
    assert isinstance(clock.current(), SystemClock)
    manual = ManualClock(datetime(2031, 5, 5, tzinfo=UTC))
    with use_clock(manual):
        assert clock.now() == datetime(2031, 5, 5, tzinfo=UTC)
    assert isinstance(clock.current(), SystemClock)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
