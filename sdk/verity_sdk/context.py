"""What a hook leaves for the code after a prediction, per thread or task."""

from __future__ import annotations

import contextvars

# The event id of the latest prediction logged by a hook in this thread or task.
last_event_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "verity_last_event_id", default=None
)
