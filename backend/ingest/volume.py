"""Ingest volume of a model over time, aggregated in SQL: what the dashboard's
overview charts, cheap at millions of predictions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from backend.api.actor import Actor
from backend.catalog import service as catalog_service
from backend.ingest import repository

Bucket = repository.Bucket


class VolumePoint(BaseModel):
    version: str
    bucket_start: datetime
    predictions: int
    labeled: int
    mean_latency_ms: float | None


class Volume(BaseModel):
    model: str
    bucket: Bucket
    points: list[VolumePoint]


def _start(value: Any, bucket: Bucket) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value) + (":00:00" if bucket == "hour" else " 00:00:00")
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def volume(
    session: Session,
    *,
    actor: Actor,
    model_name: str,
    start: datetime,
    end: datetime,
    bucket: Bucket,
) -> Volume:
    model = catalog_service.get_model(session, actor=actor, name=model_name)
    rows = repository.volume_rows(session, model_id=model.id, start=start, end=end, bucket=bucket)
    return Volume(
        model=model_name,
        bucket=bucket,
        points=[
            VolumePoint(
                version=version,
                bucket_start=_start(at, bucket),
                predictions=count,
                labeled=labeled,
                mean_latency_ms=float(latency) if latency is not None else None,
            )
            for version, at, count, labeled, latency in rows
        ],
    )
