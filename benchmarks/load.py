"""Sustained load: SDK clients offering twice the ingest target against the API on
PostgreSQL, then a drain.

    python -m benchmarks.load [--seconds 60] [--db postgresql|sqlite] [--target 20000]

The API runs under uvicorn on loopback (2 worker processes, default settings: the
in-flight limit included). ``--clients`` ``VerityClient`` threads in this process log
predictions (25 features, as in ``benchmarks.ingest``) paced to offer ``2 × --target``
rows/s together for ``--seconds``. Clients queue what the server cannot take yet, so
the backlog is held by the SDK and drained after the offer period, as a model server's
client would after a burst.

- ``offered_rows_per_s``: rows logged per second during the offer period.
- ``stored_rows_per_s``: rows the database gained during the offer period, per second.
- ``p99_ms``: the 99th percentile of the clients' HTTP request latency (batch POSTs).
- ``errors_5xx``: 5xx answers the clients saw; ``shed_429`` counts back-pressure.
- ``lost``: rows logged but not stored once the clients are drained and closed.

There is no peer library to compare: none of Evidently, fairlearn or shap ingests.
Target: ``errors_5xx == 0`` and ``lost == 0``.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

import httpx
import numpy as np

from benchmarks.common import api_server, bench_database, bootstrap, emit, machine
from benchmarks.ingest import N_NUMERIC, SENSITIVE, count_stored, version_schema


class TimingTransport(httpx.HTTPTransport):
    """Records each request's latency and status, as the client saw it."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.transport_errors = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = super().handle_request(request)
        except httpx.HTTPError:
            with self.lock:
                self.transport_errors += 1
            raise
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies.append(elapsed)
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response


def feature_pool(size: int, seed: int = 0) -> list[dict[str, Any]]:
    """Distinct feature rows to log, reused: building a dict per logged row would
    make this process, not the API, the bottleneck on two cores."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(size, N_NUMERIC)).round(6).tolist()
    gender = rng.choice(SENSITIVE["gender"], size).tolist()
    region = rng.choice(SENSITIVE["region"], size).tolist()
    pool = []
    for i in range(size):
        row: dict[str, Any] = {f"x{j:02d}": numeric[i][j] for j in range(N_NUMERIC)}
        row["gender"], row["region"] = gender[i], region[i]
        pool.append(row)
    return pool


def offer(client: Any, index: int, rate: float, seconds: float, pool: list[dict[str, Any]]) -> int:
    """Logs at ``rate`` rows/s for ``seconds``; returns the rows logged."""
    logged = 0
    started = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return logged
        due = int(rate * elapsed) - logged
        for _ in range(due):
            row = pool[logged % len(pool)]
            client.log(row, int(row["x00"] > 0), event_id=f"load-{index}-{logged}")
            logged += 1
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--target", type=float, default=20_000, help="the ingest target, rows/s")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    args = parser.parse_args()

    from verity_sdk import VerityClient

    offered_rate = 2 * args.target
    per_client = offered_rate / args.clients
    # Room for the whole offer: rows the server has not taken yet wait in the queue.
    queue = int(per_client * args.seconds) + 10_000
    pool = feature_pool(20_000)
    with bench_database(args.db) as database:
        token = bootstrap(database)
        headers = {"Authorization": f"Bearer {token}"}
        with api_server(database, workers=args.workers) as url:
            httpx.post(
                f"{url}/v1/models", json={"name": "bench", "task": "binary"}, headers=headers
            ).raise_for_status()
            httpx.post(
                f"{url}/v1/models/bench/versions", json=version_schema(), headers=headers
            ).raise_for_status()
            transport = TimingTransport()
            clients = [
                VerityClient(
                    url,
                    token,
                    "bench",
                    "1",
                    batch_size=2_000,
                    max_queue=queue,
                    transport=transport,
                )
                for _ in range(args.clients)
            ]
            logged = [0] * args.clients

            def run(index: int) -> None:
                logged[index] = offer(clients[index], index, per_client, args.seconds, pool)

            threads = [threading.Thread(target=run, args=(i,)) for i in range(args.clients)]
            before = count_stored(database.url)
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            offer_seconds = time.perf_counter() - started
            during = count_stored(database.url) - before
            drain_started = time.perf_counter()
            drained = all(client.flush(timeout=args.drain_timeout) for client in clients)
            drain_seconds = time.perf_counter() - drain_started
            for client in clients:
                client.close()
            stored = count_stored(database.url) - before
            metrics = httpx.get(f"{url}/metrics").text
    offered = sum(logged)
    dropped = sum(client.stats.dropped for client in clients)
    latencies = np.array(transport.latencies) * 1000
    errors_5xx = sum(n for status, n in transport.statuses.items() if status >= 500)
    emit(
        {
            "bench": "load",
            "db": args.db,
            "seconds": round(offer_seconds, 1),
            "clients": args.clients,
            "api_workers": args.workers,
            "target_rows_per_s": args.target,
            "offered": offered,
            "stored": stored,
            "stored_during_offer": during,
            "drained": drained,
            "drain_s": round(drain_seconds, 1),
            "dropped_by_sdk": dropped,
            "requests": len(latencies),
            "statuses": {str(k): v for k, v in sorted(transport.statuses.items())},
            "transport_errors": transport.transport_errors,
            "p50_ms": round(float(np.percentile(latencies, 50)), 1) if len(latencies) else None,
            "shed_429": transport.statuses.get(429, 0),
            "server_shed_metric": _metric(metrics, "verity_http_shed_requests_total"),
            **machine(),
            "offered_rows_per_s": round(offered / offer_seconds, 1),
            "stored_rows_per_s": round(during / offer_seconds, 1),
            "p99_ms": round(float(np.percentile(latencies, 99)), 1) if len(latencies) else None,
            "errors_5xx": errors_5xx,
            "lost": offered - stored,
        }
    )


def _metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


if __name__ == "__main__":
    main()
