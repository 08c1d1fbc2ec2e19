"""Dashboard page loads with a large database behind the API.

    python -m benchmarks.dashboard [--rows 1000000] [--runs 1000] [--db sqlite|postgresql]

Ingests ``--rows`` predictions (25 features, 2 sensitive, labels on 70 %) spread over
the days before now, backfills hourly drift, bias and cost checks until ``--runs``
check runs exist (plus a few explain runs), then renders every dashboard page with
Streamlit's AppTest against the live API and times each (script run to finished
page, API calls included). Target: every page <= 2 s. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import io
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.checks import CATEGORICAL, NUMERIC, ingest, make_frame, version_spec
from benchmarks.common import BENCH_SECRET, api_server, bench_database, bootstrap, emit, machine

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
SECONDS_BETWEEN = 2


def artifact() -> bytes:
    """A small TorchScript model over the version's 23 model inputs."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(len(NUMERIC) + len(CATEGORICAL), 8),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 1),
        torch.nn.Sigmoid(),
    )
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(model.eval()), buffer)
    return buffer.getvalue()


def monitor(http: httpx.Client, kind: str, params: dict[str, Any]) -> int:
    created = http.post(
        "/v1/models/bench/versions/v1/monitors",
        json={
            "name": kind,
            "kind": kind,
            "params": params,
            "window": {"duration": "1h"},
            "schedule": {"every": "1h"},
        },
    )
    created.raise_for_status()
    return int(created.json()["id"])


def backfill(http: httpx.Client, monitor_id: int, start: datetime, end: datetime) -> int:
    answer = http.post(
        f"/v1/monitors/{monitor_id}/backfill",
        json={"start": start.isoformat(), "end": end.isoformat()},
        timeout=3600,
    )
    answer.raise_for_status()
    return len(answer.json()["windows"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()

    from streamlit.testing.v1 import AppTest

    from dashboard.app import PAGES

    rng = np.random.default_rng(0)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(seconds=SECONDS_BETWEEN * args.rows)
    with bench_database(args.db) as database:
        token = bootstrap(database)
        with api_server(database, workers=2) as url:
            http = httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600
            )
            http.post("/v1/models", json={"name": "bench", "task": "binary"}).raise_for_status()
            http.post("/v1/models/bench/versions", json=version_spec()).raise_for_status()
            reference = make_frame(50_000, rng, shift=0.0)
            buffer = io.BytesIO()
            reference.to_parquet(buffer)
            http.post(
                "/v1/models/bench/versions/v1/references?name=training",
                content=buffer.getvalue(),
                headers={"Content-Type": "application/vnd.apache.parquet"},
            ).raise_for_status()
            http.put(
                "/v1/models/bench/versions/v1/artifact",
                content=artifact(),
                headers={"Content-Type": "application/octet-stream"},
            ).raise_for_status()
            started = time.perf_counter()
            frame = make_frame(args.rows, rng, shift=0.3)
            ingest(http, {}, frame, start=start, prefix="d", seconds_between=SECONDS_BETWEEN)
            ingest_s = time.perf_counter() - started
            started = time.perf_counter()
            ids = [
                monitor(http, "drift", {}),
                monitor(http, "bias", {"bootstrap_samples": 50}),
                monitor(http, "cost", {"price_per_compute_second": 0.0001, "budget": 100.0}),
            ]
            per_monitor = -(-args.runs // len(ids))
            runs = 0
            for monitor_id in ids:
                # Backfill takes at most 500 windows per call.
                end = now
                left = per_monitor
                while left > 0:
                    step = min(left, 500)
                    runs += backfill(http, monitor_id, end - timedelta(hours=step), end)
                    end -= timedelta(hours=step)
                    left -= step
            explain = monitor(http, "explain", {"max_rows": 20, "nsamples": 256})
            runs += backfill(http, explain, now - timedelta(hours=3), now)
            # Backfills are queued; a scheduler does them, as `verity scheduler` would.
            from backend.config import Settings
            from backend.scheduler import CheckScheduler

            CheckScheduler(
                Settings(
                    database_url=database.url, secret_key=BENCH_SECRET, data_dir=database.data_dir
                )
            ).backfill()
            checks_s = time.perf_counter() - started
            timings: dict[str, float] = {}
            app = AppTest.from_file(APP, default_timeout=600)
            app.run()
            app.text_input(key="url").input(url)
            app.text_input(key="key").input(token)
            app.button[0].click().run()
            for page in PAGES:
                started = time.perf_counter()
                app.radio(key="page").set_value(page).run()
                timings[page] = time.perf_counter() - started
                if app.exception or app.error:
                    raise RuntimeError(f"{page}: {app.exception or [e.value for e in app.error]}")
            started = time.perf_counter()
            app.radio(key="page").set_value("Explanations").run()
            app.text_input(key="explain-event").input(f"d-{args.rows - 1}").run()
            timings["Explanations: one decision"] = time.perf_counter() - started
            if app.exception or app.error:
                raise RuntimeError(f"lookup: {app.exception or [e.value for e in app.error]}")
    emit(
        {
            "bench": "dashboard",
            "db": args.db,
            "rows": args.rows,
            "check_runs": runs,
            "pages_s": {k: round(v, 2) for k, v in timings.items()},
            "max_page_s": round(max(timings.values()), 2),
            "ingest_s": round(ingest_s, 1),
            "checks_s": round(checks_s, 1),
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
