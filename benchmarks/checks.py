"""Scheduled-check speed read from SQL: one drift, bias, cost, performance, estimated
performance and data-quality run over a window of ``--rows`` predictions ingested
through the ingest service.

    python -m benchmarks.checks --rows 1000000 --db sqlite|postgresql

25 features (19 numeric, 4 categorical, 2 sensitive categoricals), labels on 70 %
of rows, a 200,000-row reference dataset. Each run is timed end to end through
``backend.runs.execute.execute``: window loaded from SQL (labels joined), reference
read, detector run, run + alerts + audit event stored. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import shutil
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from benchmarks.common import BENCH_SECRET, bench_database, bootstrap, emit, machine

START = datetime(2026, 10, 1, tzinfo=UTC)
NUMERIC = [f"num_{i:02d}" for i in range(19)]
CATEGORICAL = [f"cat_{i}" for i in range(4)]
SENSITIVE = ["sex", "age_band"]


def version_spec() -> dict[str, Any]:
    features: list[dict[str, Any]] = [{"name": n, "dtype": "numeric"} for n in NUMERIC]
    features += [
        {"name": n, "dtype": "categorical", "categories": ["a", "b", "c", "d"]} for n in CATEGORICAL
    ]
    features += [
        {"name": n, "dtype": "categorical", "sensitive": True, "model_input": False}
        for n in SENSITIVE
    ]
    return {
        "version": "v1",
        "features": features,
        "class_labels": [0, 1],
        "positive_class": 1,
        "cost_profile": {"price_per_cpu_second": 0.0001},
    }


def make_frame(n: int, rng: np.random.Generator, shift: float) -> pd.DataFrame:
    data: dict[str, Any] = {
        n_: rng.normal(shift if i % 5 == 0 else 0.0, 1, n) for i, n_ in enumerate(NUMERIC)
    }
    for n_ in CATEGORICAL:
        data[n_] = rng.choice(["a", "b", "c", "d"], n)
    data["sex"] = rng.choice(["F", "M"], n)
    data["age_band"] = rng.choice(["18-30", "30-50", "50-65", "65+"], n)
    frame = pd.DataFrame(data)
    frame["score"] = rng.beta(2, 3, n).round(6)
    frame["prediction"] = (frame["score"] >= 0.5).astype(int)
    # Labels follow the scores, so that estimated and realized performance are real.
    frame["label"] = (rng.random(n) < frame["score"]).astype(int)
    return frame


def ingest(
    client: httpx.Client,
    headers: dict[str, str],
    frame: pd.DataFrame,
    *,
    start: datetime = START,
    prefix: str = "b",
    seconds_between: int = 2,
) -> None:
    """``frame`` through the ingest API in 10k batches, one prediction every
    ``seconds_between`` seconds from ``start``; labels for 70 % of them."""
    feature_columns = NUMERIC + CATEGORICAL + SENSITIVE
    records_all = frame[feature_columns].to_dict("records")
    predictions = frame["prediction"].to_numpy()
    scores = frame["score"].to_numpy()
    truth = frame["label"].to_numpy()
    for begin in range(0, len(frame), 10_000):
        chunk = range(begin, min(begin + 10_000, len(frame)))
        records = [
            {
                "event_id": f"{prefix}-{i}",
                "model": "bench",
                "version": "v1",
                "occurred_at": (start + timedelta(seconds=seconds_between * i)).isoformat(),
                "features": records_all[i],
                "prediction": int(predictions[i]),
                "score": float(scores[i]),
                "latency_ms": 3.0 + (i % 7),
                "compute_seconds": 0.002,
            }
            for i in chunk
        ]
        response = client.post("/v1/predictions", json={"records": records}, headers=headers)
        response.raise_for_status()
        labels = [
            {"event_id": f"{prefix}-{i}", "label": int(truth[i])} for i in chunk if i % 10 < 7
        ]
        client.post("/v1/labels", json={"labels": labels}, headers=headers).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=200_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--profile", help="write cProfile stats of the timed runs here")
    parser.add_argument("--save-sqlite", help="copy the SQLite database here at the end")
    args = parser.parse_args()

    from backend.config import Settings
    from backend.db import get_database
    from backend.main import create_app
    from backend.runs.execute import execute
    from backend.runtime import tune_allocator

    tune_allocator()
    rng = np.random.default_rng(0)
    with bench_database(args.db) as database:
        token = bootstrap(database)
        settings = Settings(
            database_url=database.url, secret_key=BENCH_SECRET, data_dir=database.data_dir
        )
        settings.ingest.max_batch_records = 10_000
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(settings)) as client:
            client.post(
                "/v1/models", json={"name": "bench", "task": "binary"}, headers=headers
            ).raise_for_status()
            client.post(
                "/v1/models/bench/versions", json=version_spec(), headers=headers
            ).raise_for_status()
            reference = make_frame(args.reference_rows, rng, shift=0.0)
            buffer = io.BytesIO()
            reference.to_parquet(buffer)
            client.post(
                "/v1/models/bench/versions/v1/references?name=training",
                content=buffer.getvalue(),
                headers={**headers, "Content-Type": "application/vnd.apache.parquet"},
            ).raise_for_status()
            started = time.perf_counter()
            ingest(client, headers, make_frame(args.rows, rng, shift=0.3))
            ingest_s = time.perf_counter() - started
            end = START + timedelta(seconds=2 * args.rows + 1)
            window = {"start": START.isoformat(), "end": end.isoformat()}
            ids = {}
            for kind, params in (
                ("drift", {}),
                ("bias", {}),
                ("cost", {"price_per_compute_second": 0.0001, "budget": 100.0}),
                ("performance", {}),
                ("estimated_performance", {}),
                ("data_quality", {}),
            ):
                created = client.post(
                    "/v1/models/bench/versions/v1/monitors",
                    json={
                        "name": kind,
                        "kind": kind,
                        "params": params,
                        "window": window,
                        "schedule": {"every": "1d"},
                    },
                    headers=headers,
                )
                created.raise_for_status()
                ids[kind] = created.json()["id"]
        db = get_database(settings)
        timings: dict[str, float] = {}
        statuses = {}
        profiler = cProfile.Profile() if args.profile else None
        for kind, monitor_id in ids.items():
            started = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            run, _ = execute(db, settings, monitor_id, end, trigger="manual")
            if profiler is not None:
                profiler.disable()
            timings[kind] = time.perf_counter() - started
            if run is None or run.rows != args.rows:
                raise RuntimeError(f"{kind}: expected a run over {args.rows} rows, got {run}")
            statuses[kind] = run.status
        db.dispose()
        if profiler is not None:
            profiler.dump_stats(args.profile)
        if args.save_sqlite and args.db == "sqlite":
            shutil.copy(database.url.removeprefix("sqlite:///"), args.save_sqlite)
    emit(
        {
            "bench": "checks",
            "db": args.db,
            "rows": args.rows,
            "drift_s": round(timings["drift"], 2),
            "bias_s": round(timings["bias"], 2),
            "cost_s": round(timings["cost"], 2),
            "performance_s": round(timings["performance"], 2),
            "estimated_performance_s": round(timings["estimated_performance"], 2),
            "data_quality_s": round(timings["data_quality"], 2),
            "total_s": round(sum(timings.values()), 2),
            "ingest_s": round(ingest_s, 1),
            "statuses": statuses,
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
