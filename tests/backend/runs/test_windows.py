"""The columnar window loader against a plain Python oracle: every stored row read
through the ORM and decoded value by value must give the same frame, dtypes
included, on SQLite and PostgreSQL, with awkward values and names."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from backend.models import Label, ModelVersion, Prediction
from backend.runs.windows import postgresql as pg_reader
from backend.runs.windows import sqlite as sqlite_reader
from backend.runs.windows.load import EVENT_ID, NEEDS, category_text, load_window
from detectors.base import ColumnKind

START = datetime(2026, 3, 1, tzinfo=UTC)
# Names SQLite's JSON paths cannot address, or address only when quoted.
ODD_NUMERIC = 'he said "hi". ok'
ODD_CATEGORY = "a.b [c]"
# Regression outputs SQLite stores as REAL, INTEGER and REAL again.
REGRESSION: list[Any] = [1 / 3, 7, 1.7976931348623157e308, -2.5e-300, 1.0]
NUMERIC_VALUES: list[Any] = [0.1, -0.0, 1e-300, 1.7976931348623157e308, 3, None, 2**60, 1 / 3]
CATEGORY_VALUES: list[Any] = ["x", 'q"uote', "comma,semi;", "null", "", 7, 1.0, None, "é ü"]
# Text only: Arrow's JSON reader can type the column. Mixed with numbers (above), it
# cannot, and SQLite's json_extract reads it.
TEXT_VALUES: list[Any] = ["x", 'q"uote', "back\\slash", "tab\tx", "comma,semi;", "null", ""]
TEXT_VALUES += [None, "é ü", "1.0", "[1]", "7"]
GROUPS: list[Any] = ["A", "B", 3]


def version_spec(classes: list[Any]) -> dict[str, Any]:
    if classes == REGRESSION:
        return {**version_spec([0, 1]), "class_labels": None, "positive_class": None}
    return {
        "version": "v1",
        "features": [
            {"name": "n1", "dtype": "numeric"},
            {"name": ODD_NUMERIC, "dtype": "numeric"},
            {"name": "n3", "dtype": "numeric"},
            {"name": ODD_CATEGORY, "dtype": "categorical", "model_input": False},
            {"name": "group", "dtype": "categorical", "sensitive": True, "model_input": False},
        ],
        "class_labels": classes,
        "positive_class": classes[0],
    }


def post_traffic(
    client: TestClient,
    headers: dict[str, str],
    model: str,
    n: int,
    classes: list[Any],
    categories: list[Any] = CATEGORY_VALUES,
    groups: list[Any] = GROUPS,
) -> None:
    """``categories`` cycle; ``groups`` come in blocks, the last ones late in the
    window."""
    rng = np.random.default_rng(3)
    records = []
    for i in range(n):
        records.append(
            {
                "event_id": f"w-{model}-{i}",
                "model": model,
                "version": "v1",
                "occurred_at": (START + timedelta(seconds=i)).isoformat(),
                "features": {
                    "n1": NUMERIC_VALUES[i % len(NUMERIC_VALUES)],
                    ODD_NUMERIC: float(rng.normal()),
                    "n3": None if i % 5 == 0 else int(rng.integers(-5, 5)),
                    ODD_CATEGORY: categories[i % len(categories)],
                    "group": groups[i * len(groups) // n],
                },
                "prediction": classes[i % len(classes)],
                "score": None if i % 4 == 0 else float(rng.random()),
                "latency_ms": None if i % 6 == 0 else float(rng.random() * 10),
                "compute_seconds": 0.001 * (i % 3),
            }
        )
    response = client.post("/v1/predictions", json={"records": records}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == n
    labels = [
        {"event_id": f"w-{model}-{i}", "label": classes[(i + 1) % len(classes)]}
        for i in range(n)
        if i % 3
    ]
    assert client.post("/v1/labels", json={"labels": labels}, headers=headers).status_code == 200


def oracle(
    session: Any, version: ModelVersion, kind: str, start: datetime, end: datetime
) -> pd.DataFrame:
    """The window built one Python value at a time."""
    needs = NEEDS[kind]
    features = version.features
    if needs.features == "sensitive":
        features = [f for f in features if f.get("sensitive")]
    elif needs.features == "none":
        features = []
    labels = {
        label.event_id: label.label
        for label in session.scalars(select(Label).where(Label.project_id == version.project_id))
    }
    rows = session.scalars(
        select(Prediction)
        .where(
            Prediction.model_version_id == version.id,
            Prediction.occurred_at >= start,
            Prediction.occurred_at < end,
        )
        .order_by(Prediction.id)
    ).all()
    outputs = needs.outputs and (needs.features != "none" or needs.labels)
    data: dict[str, Any] = {}
    for feature in features:
        values = [row.features.get(feature["name"]) for row in rows]
        if feature["dtype"] == ColumnKind.NUMERIC:
            data[feature["name"]] = np.array(
                [math.nan if v is None else float(v) for v in values], dtype=np.float64
            )
        else:
            data[feature["name"]] = category_text(pd.Series(values, dtype=object)).to_numpy()
    if outputs:
        data[version.prediction_column] = pd.Series([r.prediction for r in rows]).to_numpy()
    for name in needs.floats:
        values = [getattr(r, name) for r in rows]
        if name == "score" and all(v is None for v in values):
            continue  # the loader reads scores only from a window that logs them
        column = version.score_column if name == "score" else name
        data[column] = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    if needs.labels:
        data[version.label_column] = pd.Series([labels.get(r.event_id) for r in rows]).to_numpy()
    return pd.DataFrame(
        data, index=pd.Index([r.event_id for r in rows], name=EVENT_ID, dtype=object)
    )


@pytest.mark.parametrize(
    ("classes", "chunk_rows", "categories", "groups", "arrow_chunks"),
    [
        ([0, 1], sqlite_reader.SQLITE_CHUNK_ROWS, CATEGORY_VALUES, GROUPS, "none"),
        ([0, 1], 45, TEXT_VALUES, [1, 2, 2**40], "all"),
        ([0, 1], 30, TEXT_VALUES, [True, None, False], "all"),
        (["approve", 'deny, "later"'], 37, TEXT_VALUES, GROUPS, "some"),
        (REGRESSION, 50, CATEGORY_VALUES, [None], "none"),
    ],
    ids=[
        "mixed-one-chunk",
        "text-and-integers",
        "text-and-booleans",
        "numbers-arrive-late",
        "regression-mixed",
    ],
)
def test_window_matches_a_row_by_row_oracle(
    client, tenant, database, monkeypatch, classes, chunk_rows, categories, groups, arrow_chunks
):
    """``arrow_chunks``: which chunks' features SQLite hands to Arrow's JSON reader
    whole ("some": until a chunk holds a column of text and numbers)."""
    monkeypatch.setattr(sqlite_reader, "SQLITE_CHUNK_ROWS", chunk_rows)
    read_by_arrow: list[bool] = []
    parse = sqlite_reader.parse_features
    monkeypatch.setattr(
        sqlite_reader,
        "parse_features",
        lambda *a: read_by_arrow.append(parsed := parse(*a)) or parsed,
    )
    monkeypatch.setattr(pg_reader, "PG_CHUNK_ROWS", chunk_rows)
    headers = tenant.headers()
    model = f"win{len(str(classes))}-{len(categories)}-{len(groups)}-{chunk_rows}"
    assert (
        client.post(
            "/v1/models",
            json={"name": model, "task": "regression" if classes == REGRESSION else "binary"},
            headers=headers,
        ).status_code
        == 201
    )
    created = client.post(
        f"/v1/models/{model}/versions", json=version_spec(classes), headers=headers
    )
    assert created.status_code == 201, created.text
    post_traffic(client, headers, model, 180, classes, categories, groups)
    start, end = START + timedelta(seconds=10), START + timedelta(seconds=170)
    with database.session() as session:
        version = session.scalars(
            select(ModelVersion)
            .where(ModelVersion.project_id == tenant.project_id)
            .where(ModelVersion.id == created.json()["id"])
        ).one()
        for kind in ("drift", "bias", "cost", "data_quality"):
            loaded = load_window(session, version, start, end, needs=NEEDS[kind])
            expected = oracle(session, version, kind, start, end)
            pd.testing.assert_frame_equal(loaded.window.frame, expected, check_exact=True)
            assert loaded.rows_in_window == 160
        if database.url.startswith("sqlite"):
            typed = [parsed is not None for parsed in read_by_arrow]
            expected_typed = {"all": [True], "none": [False], "some": [True, False]}
            assert sorted(set(typed), reverse=True) == expected_typed[arrow_chunks]
        empty = load_window(
            session, version, end + timedelta(days=1), end + timedelta(days=2), needs=NEEDS["bias"]
        )
        assert empty.rows_in_window == 0
        assert list(empty.window.frame.columns) == list(
            oracle(session, version, "bias", end, end).columns
        )


def test_rows_deleted_while_the_window_is_read_are_still_read(
    client, tenant, database, monkeypatch
):
    """The run sees one snapshot: retention deleting a row between the id listing and
    the chunk reads (on PostgreSQL, by other connections sharing the snapshot) must
    not lose or mismatch it."""
    monkeypatch.setattr(sqlite_reader, "SQLITE_CHUNK_ROWS", 40)
    monkeypatch.setattr(pg_reader, "PG_CHUNK_ROWS", 40)
    headers = tenant.headers()
    model = "win-retention"
    assert client.post("/v1/models", json={"name": model, "task": "binary"}, headers=headers)
    created = client.post(
        f"/v1/models/{model}/versions", json=version_spec([0, 1]), headers=headers
    )
    assert created.status_code == 201, created.text
    post_traffic(client, headers, model, 180, [0, 1], TEXT_VALUES, ["A", "B"])
    start, end = START + timedelta(seconds=10), START + timedelta(seconds=170)
    deleted: list[int] = []

    def deleting(listing: Any) -> Any:
        def listed(*args: Any) -> Any:
            chunks = listing(*args)
            if not deleted:
                victim = int(chunks[1][0][3])  # a row of the second chunk
                with database.transaction() as writer:
                    writer.execute(delete(Prediction).where(Prediction.id == victim))
                deleted.append(victim)
            return chunks

        return listed

    monkeypatch.setattr(sqlite_reader, "id_chunks", deleting(sqlite_reader.id_chunks))
    monkeypatch.setattr(pg_reader, "id_chunks", deleting(pg_reader.id_chunks))
    with database.session(read_only=True) as session:
        version = session.scalars(
            select(ModelVersion).where(ModelVersion.id == created.json()["id"])
        ).one()
        expected = oracle(session, version, "data_quality", start, end)
        loaded = load_window(session, version, start, end, needs=NEEDS["data_quality"])
        pd.testing.assert_frame_equal(loaded.window.frame, expected, check_exact=True)
    assert deleted
    with database.session(read_only=True) as session:
        assert session.get(Prediction, deleted[0]) is None  # gone for later readers


@pytest.mark.parametrize(
    "rows",
    [
        [{"a": 0.2, "b": 0.8}, None, {"a": 1, "b": 0}, {"b": 0.5}, {"a": True, "c": 3}],
        [{"a": 0.2, "b": "x"}, {"a": 0.5, "b": "y"}, {"a": None, "b": None}],
        [{"a": 0.2, "b": "x"}, {"a": 0.5, "b": 0.1}],  # text and a number: row by row
        [{"a": 2**70}, {"a": 0.5}],  # past int64: row by row
        [{"a": [0.1]}, {"a": {"x": 1}}, 0.5, "text"],
        [{"1": 0.3, "2": 0.7}, {"1": float("nan"), "2": 2**60 + 1}],
        [],
    ],
)
def test_probability_columns_equal_the_row_by_row_reading(rows: list[Any]) -> None:
    from backend.runs.windows.load import _probability_columns_by_row, probability_columns

    values = np.array([*rows, None], dtype=object)[:-1]
    for classes in [("a", "b"), ("1", "2", "3")]:
        fast = probability_columns(values, classes)
        slow = _probability_columns_by_row(values, classes)
        assert fast.keys() == slow.keys()
        for name in slow:
            np.testing.assert_array_equal(fast[name], slow[name])
            assert fast[name].dtype == np.float64
