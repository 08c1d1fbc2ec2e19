"""Query parameter types shared by every domain's routes."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator


def utc(value: datetime) -> datetime:
    # Documented: a timestamp without a zone is taken as UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _not_a_number(value: Any) -> Any:
    # pydantic reads a number as Unix time; a query parameter documented as an ISO 8601
    # date-time that is "1e9" is far likelier a mistake than an epoch.
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            float(value)
            numeric = True
    if numeric:
        raise ValueError("give an ISO 8601 date-time such as 2026-11-01T00:00:00Z, not a number")
    return value


UtcDateTime = Annotated[datetime, AfterValidator(utc)]
# For query parameters, which are validated one at a time (no per-record cost).
QueryDateTime = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(utc)]
