"""What the SDK hook adds to a predict call, and what arrives.

    python -m benchmarks.sdk [--calls 50000] [--db sqlite|postgresql] [--fallback]

A predict function (a small numpy model over 25 features) is called ``--calls``
times bare and as often decorated with ``@client.monitor``, alternating, against a
live API process. The overhead of a call is its decorated time less the median bare
time. Then the client is closed and the stored rows are compared with the event ids
the hook handed out. With ``--fallback`` the client has a fallback, so every call is
routed (serving state polled each second in the background, the local breaker
counting outcomes). Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from benchmarks.common import api_server, bench_database, bootstrap, emit, machine

FEATURES = [f"x{i:02d}" for i in range(25)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--fallback", action="store_true", help="route through a fallback")
    args = parser.parse_args()

    import httpx
    from sqlalchemy import create_engine, func, select
    from verity_sdk import VerityClient, last_event_id

    from backend.models import Prediction

    weights = np.random.default_rng(0).normal(size=len(FEATURES))

    def predict(row: dict[str, float]) -> dict[str, Any]:
        z = float(np.dot(weights, [row[n] for n in FEATURES]))
        score = 1.0 / (1.0 + np.exp(-z))
        return {"prediction": int(score >= 0.5), "score": score}

    rng = np.random.default_rng(1)
    rows = [dict(zip(FEATURES, r, strict=True)) for r in rng.normal(size=(1000, 25)).tolist()]
    with bench_database(args.db) as database:
        token = bootstrap(database)
        headers = {"Authorization": f"Bearer {token}"}
        with api_server(database) as url:
            httpx.post(
                f"{url}/v1/models", json={"name": "bench", "task": "binary"}, headers=headers
            ).raise_for_status()
            httpx.post(
                f"{url}/v1/models/bench/versions",
                json={
                    "version": "v1",
                    "features": [{"name": n, "dtype": "numeric"} for n in FEATURES],
                    "class_labels": [0, 1],
                    "positive_class": 1,
                },
                headers=headers,
            ).raise_for_status()
            fallback = (lambda row: {"prediction": 0, "score": 0.0}) if args.fallback else None
            client = VerityClient(
                url,
                token,
                "bench",
                "v1",
                max_queue=args.calls + 1,
                fallback=fallback,
                serving_poll_interval=1.0,
            )
            monitored = client.monitor(predict)
            bare_ns = np.empty(args.calls, dtype=np.int64)
            hooked_ns = np.empty(args.calls, dtype=np.int64)
            made = []
            clock = time.perf_counter_ns
            for i in range(args.calls):
                row = rows[i % len(rows)]
                started = clock()
                predict(row)
                bare_ns[i] = clock() - started
                started = clock()
                monitored(row)
                hooked_ns[i] = clock() - started
                made.append(last_event_id.get())
            started_close = time.perf_counter()
            client.close(timeout=300)
            drain_s = time.perf_counter() - started_close
            stats = client.stats
        engine = create_engine(database.url)
        with engine.connect() as connection:
            stored_rows = connection.scalar(select(func.count()).select_from(Prediction)) or 0
            stored_ids = set(connection.scalars(select(Prediction.event_id)))
        engine.dispose()
    overhead_us = (hooked_ns - np.median(bare_ns)) / 1000.0
    emit(
        {
            "bench": "sdk",
            "db": args.db,
            "calls": args.calls,
            "predict_us_p50": round(float(np.median(bare_ns)) / 1000.0, 2),
            "overhead_us_p50": round(float(np.percentile(overhead_us, 50)), 2),
            "overhead_us_p99": round(float(np.percentile(overhead_us, 99)), 2),
            "overhead_us_max": round(float(overhead_us.max()), 1),
            "delivered": len(stored_ids & set(made)),
            "lost": len(set(made) - stored_ids),
            "duplicated": int(stored_rows) - len(stored_ids),
            "client_delivered": stats.delivered,
            "client_dropped": stats.dropped,
            "drain_after_close_s": round(drain_s, 2),
            "fallback_configured": args.fallback,
            "served_by_primary": client.serving_counts.primary,
            "served_by_fallback": client.serving_counts.fallback,
            "serving_poll_failures": client.serving_counts.poll_failures,
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
