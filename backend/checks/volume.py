"""Ingest volume of a model over time, aggregated in SQL: what the dashboard's
overview charts, cheap at millions of predictions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from backend.auth.actor import Actor
from backend.catalog import service as catalog_service
from backend.models import Label, ModelVersion, Prediction

Bucket = Literal["hour", "day"]


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


def _bucket(session: Session, bucket: Bucket) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc(bucket, Prediction.occurred_at)
    # SQLite stores UTC as 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
    return func.substr(Prediction.occurred_at, 1, 13 if bucket == "hour" else 10)


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
    slot = _bucket(session, bucket).label("slot")
    rows = session.execute(
        select(
            ModelVersion.version,
            slot,
            func.count(Prediction.id),
            func.count(Label.id),
            func.avg(Prediction.latency_ms),
        )
        .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
        .outerjoin(
            Label,
            and_(Label.project_id == Prediction.project_id, Label.event_id == Prediction.event_id),
        )
        .where(
            ModelVersion.model_id == model.id,
            Prediction.occurred_at >= start,
            Prediction.occurred_at < end,
        )
        .group_by(ModelVersion.version, slot)
        .order_by(slot, ModelVersion.version)
    ).all()
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
