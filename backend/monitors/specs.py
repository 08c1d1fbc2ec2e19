"""Durations ("90s", "15m", "1h", "1d", "2w") and schedules (an interval or a cron
expression): parsing, and the scheduled times they produce."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_duration(text: str) -> int:
    """Seconds in a duration such as '1h'; ValueError naming the accepted forms."""
    match = DURATION.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(
            f"'{text}' is not a duration: a positive integer and a unit, s m h d or w "
            "(e.g. 15m, 1h, 1d)"
        )
    return int(match.group(1)) * UNITS[match.group(2)]


def format_duration(seconds: int) -> str:
    for unit in ("w", "d", "h", "m"):
        if seconds % UNITS[unit] == 0:
            return f"{seconds // UNITS[unit]}{unit}"
    return f"{seconds}s"


def cron_trigger(expression: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(expression, timezone=UTC)
    except ValueError as error:
        raise ValueError(f"'{expression}' is not a cron expression: {error}") from None


def floor_time(moment: datetime, seconds: int) -> datetime:
    """The latest multiple of ``seconds`` since the epoch at or before ``moment``."""
    elapsed = int((moment - EPOCH).total_seconds())
    return EPOCH + timedelta(seconds=elapsed - elapsed % seconds)


def first_run(schedule_seconds: int | None, cron: str | None, now: datetime) -> datetime:
    """An interval schedule is due at once, for the last complete interval; a cron
    schedule at its next fire time."""
    if schedule_seconds is not None:
        return floor_time(now, schedule_seconds)
    assert cron is not None
    fire = cron_trigger(cron).get_next_fire_time(None, now)
    assert fire is not None
    return fire.astimezone(UTC)


def next_run(
    schedule_seconds: int | None, cron: str | None, after: datetime, now: datetime
) -> datetime:
    """The scheduled time after ``after``; missed ones are coalesced: a scheduler that
    was down for a day runs the latest window once, not 24 times (backfill exists
    for the others)."""
    if schedule_seconds is not None:
        following = after + timedelta(seconds=schedule_seconds)
        return max(following, floor_time(now, schedule_seconds))
    assert cron is not None
    trigger = cron_trigger(cron)
    fire = trigger.get_next_fire_time(None, after + timedelta(seconds=1))
    assert fire is not None
    if fire <= now:
        # Catch up to the latest fire time at or before now.
        latest = fire
        while fire is not None and fire <= now:
            latest = fire
            fire = trigger.get_next_fire_time(latest, latest + timedelta(seconds=1))
        fire = latest
    return fire.astimezone(UTC)


def scheduled_times(
    schedule_seconds: int | None, cron: str | None, start: datetime, end: datetime, limit: int
) -> list[datetime]:
    """Every scheduled time in [start, end], for a backfill; at most ``limit``."""
    times: list[datetime] = []
    if schedule_seconds is not None:
        moment = floor_time(start, schedule_seconds)
        if moment < start:
            moment += timedelta(seconds=schedule_seconds)
        while moment <= end:
            times.append(moment)
            if len(times) > limit:
                break
            moment += timedelta(seconds=schedule_seconds)
        return times
    assert cron is not None
    trigger = cron_trigger(cron)
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= end:
        times.append(fire.astimezone(UTC))
        if len(times) > limit:
            break
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return times
