"""Shared by the crash tests: an SDK stream of distinct predictions, and what the
database holds of it."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import func, select
from verity_sdk.client import VerityClient
from verity_sdk.transport import Backoff

from backend.db import Database
from backend.models import Prediction
from tests.support.timeline import at


def spooled_client(
    url: str, api_key: str, spool: Path, queue: int, batch_size: int = 2_000
) -> VerityClient:
    return VerityClient(
        url,
        api_key,
        "churn",
        "v1",
        batch_size=batch_size,
        max_queue=queue,
        spool_dir=spool,
        # Short waits, so the test spends its time sending rather than sleeping.
        backoff=Backoff(base=0.05, cap=0.5),
    )


def log_range(client: VerityClient, start: int, stop: int) -> None:
    for i in range(start, stop):
        client.log(
            {"f_num_a": float(i), "f_num_b": i * 0.5, "color": "red", "group": "g1"},
            i % 2,
            event_id=f"s-{i}",
            occurred_at=at(seconds=i),
        )


def stored_rows(database: Database, project_id: int) -> int:
    with database.session() as session:
        count = session.scalar(
            select(func.count()).select_from(Prediction).where(Prediction.project_id == project_id)
        )
    return int(count or 0)


def stored_ids(database: Database, project_id: int) -> list[str]:
    with database.session() as session:
        return list(
            session.scalars(select(Prediction.event_id).where(Prediction.project_id == project_id))
        )


def wait_for_rows(database: Database, project_id: int, at_least: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        rows = stored_rows(database, project_id)
        if rows >= at_least or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)
