"""The fast SQLite insert path converts values exactly as SQLAlchemy would."""

from datetime import UTC, datetime, timedelta, timezone

from backend.db import make_engine
from backend.ingest.repository import _PREDICTION_COLUMNS, sqlite_prediction_values
from backend.models import Prediction


def test_sqlite_conversions_equal_sqlalchemys_bind_processors(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    dialect = engine.dialect
    table = Prediction.__table__
    rows = [
        {
            "project_id": 1,
            "model_version_id": 2,
            "event_id": "e",
            "occurred_at": datetime(
                2026, 11, 1, 12, 30, 5, 123, tzinfo=timezone(timedelta(hours=2))
            ),
            "received_at": datetime(2026, 11, 2, tzinfo=UTC),
            "features": {"a": 1.5, "b": None, "c": "red", "é": 2},
            "prediction": 1,
            "score": 0.25,
            "probabilities": None,
            "latency_ms": None,
            "compute_seconds": 0.001,
            "tags": {"k": "v"},
            "ingest_batch_id": 7,
        },
        {
            "project_id": 1,
            "model_version_id": 2,
            "event_id": "f",
            "occurred_at": datetime(1999, 1, 2, 3, 4, 5, tzinfo=UTC),
            "received_at": datetime(2026, 1, 1, tzinfo=UTC),
            "features": {},
            "prediction": "cat",
            "score": None,
            "probabilities": {"cat": 0.9, "dog": 0.1},
            "latency_ms": 3.0,
            "compute_seconds": None,
            "tags": None,
            "ingest_batch_id": 2**40,
        },
    ]
    expected = []
    for row in rows:
        values = []
        for name in _PREDICTION_COLUMNS:
            process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            values.append(process(row[name]) if process else row[name])
        expected.append(tuple(values))
    assert sqlite_prediction_values(rows) == expected
    engine.dispose()
