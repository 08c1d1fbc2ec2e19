"""Ingest throughput through the real HTTP API.

    python -m benchmarks.ingest --rows 200000 --db sqlite
    python -m benchmarks.ingest --rows 200000 --db postgresql

Starts the API with uvicorn on loopback in a subprocess, posts rows with 25 features in
batches of 1,000 from this process (request bodies are built before the clock starts),
then counts what the database holds. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import orjson
from sqlalchemy import func, select

from benchmarks.common import api_server, bench_database, bootstrap, emit, machine

N_NUMERIC = 23
SENSITIVE = {"gender": ["F", "M"], "region": ["north", "south", "east", "west"]}


def version_schema() -> dict[str, Any]:
    features: list[dict[str, Any]] = [
        {"name": f"x{i:02d}", "dtype": "numeric"} for i in range(N_NUMERIC)
    ]
    features += [
        {
            "name": name,
            "dtype": "categorical",
            "sensitive": True,
            "model_input": False,
            "categories": cats,
        }
        for name, cats in SENSITIVE.items()
    ]
    return {"version": "1", "features": features, "class_labels": [0, 1]}


def build_batches(rows: int, batch_size: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    numeric = rng.normal(size=(rows, N_NUMERIC)).round(6)
    gender = rng.choice(SENSITIVE["gender"], rows)
    region = rng.choice(SENSITIVE["region"], rows)
    scores = rng.random(rows).round(6)
    bodies = []
    for begin in range(0, rows, batch_size):
        records = []
        for i in range(begin, min(begin + batch_size, rows)):
            features: dict[str, Any] = {f"x{j:02d}": float(numeric[i, j]) for j in range(N_NUMERIC)}
            features["gender"] = str(gender[i])
            features["region"] = str(region[i])
            records.append(
                {
                    "event_id": f"bench-{i}",
                    "model": "bench",
                    "version": "1",
                    "occurred_at": (start + timedelta(milliseconds=i)).isoformat(),
                    "features": features,
                    "prediction": int(scores[i] >= 0.5),
                    "score": float(scores[i]),
                    "latency_ms": 2.5,
                    "compute_seconds": 0.001,
                }
            )
        bodies.append(orjson.dumps({"records": records}))
    return bodies


def post_all(
    base: str, token: str, bodies: list[bytes], concurrency: int
) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    errors_5xx = 0
    failed_batches = 0
    lock = threading.Lock()
    next_index = 0

    def worker() -> None:
        nonlocal next_index, errors_5xx, failed_batches
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            while True:
                with lock:
                    index = next_index
                    next_index += 1
                if index >= len(bodies):
                    return
                started = time.perf_counter()
                for attempt in range(5):
                    try:
                        response = client.post(
                            "/v1/predictions",
                            content=bodies[index],
                            headers={"Idempotency-Key": f"batch-{index}"},
                        )
                    except httpx.HTTPError:
                        time.sleep(0.1 * 2**attempt)
                        continue
                    if response.status_code >= 500:
                        with lock:
                            errors_5xx += 1
                        time.sleep(0.1 * 2**attempt)
                        continue
                    break
                else:
                    with lock:
                        failed_batches += 1
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors_5xx, failed_batches


def count_stored(url: str) -> int:
    from backend.db import Database
    from backend.models import Prediction

    database = Database(url)
    try:
        with database.transaction(read_only=True) as session:
            return session.scalar(select(func.count()).select_from(Prediction)) or 0
    finally:
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()

    bodies = build_batches(args.rows, args.batch_size)
    with bench_database(args.db) as database:
        token = bootstrap(database)
        with api_server(database, workers=args.workers) as base:
            headers = {"Authorization": f"Bearer {token}"}
            httpx.post(
                f"{base}/v1/models", json={"name": "bench", "task": "binary"}, headers=headers
            ).raise_for_status()
            httpx.post(
                f"{base}/v1/models/bench/versions", json=version_schema(), headers=headers
            ).raise_for_status()
            started = time.perf_counter()
            latencies, errors_5xx, failed = post_all(base, token, bodies, args.concurrency)
            elapsed = time.perf_counter() - started
        stored = count_stored(database.url)
    emit(
        {
            "bench": "ingest",
            "db": args.db,
            "rows": args.rows,
            "batch_size": args.batch_size,
            "concurrency": args.concurrency,
            "workers": args.workers,
            "seconds": round(elapsed, 3),
            "rows_per_s": round(args.rows / elapsed, 1),
            "p50_batch_ms": round(float(np.percentile(latencies, 50)) * 1000, 1),
            "p99_batch_ms": round(float(np.percentile(latencies, 99)) * 1000, 1),
            "errors_5xx": errors_5xx,
            "failed_batches": failed,
            "stored": stored,
            "lost": args.rows - stored,
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
