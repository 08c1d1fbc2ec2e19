"""Full-coverage audit verification speed: the chain of a project holding ``--rows``
predictions (70 % labelled) ingested through the API, then ``audit verify`` with
every record checked against its batch's Merkle root, runs and alerts against their
digests, payloads against retention and the chain against a signed checkpoint.

    python -m benchmarks.verify --rows 1000000 --db sqlite|postgresql

Target: ≤ 30 s at 1M predictions on both databases. There is no peer library for
this; the JSON line also gives the chain-only walk's time, for scale. Prints one
JSON line last.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from fastapi.testclient import TestClient

from benchmarks.checks import ingest, make_frame, version_spec
from benchmarks.common import BENCH_SECRET, bench_database, bootstrap, emit, machine


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()

    from backend.audit import keys, repository
    from backend.audit import service as audit_service
    from backend.audit.chain import verify_chain
    from backend.config import Settings
    from backend.db import get_database
    from backend.main import create_app
    from backend.notifications.witness import checkpoint_and_publish
    from backend.runtime import tune_allocator

    tune_allocator()
    rng = np.random.default_rng(0)
    with bench_database(args.db) as database:
        token = bootstrap(database)
        settings = Settings(
            database_url=database.url, secret_key=BENCH_SECRET, data_dir=database.data_dir
        )
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(settings)) as client:
            client.post(
                "/v1/models", json={"name": "bench", "task": "binary"}, headers=headers
            ).raise_for_status()
            client.post(
                "/v1/models/bench/versions", json=version_spec(), headers=headers
            ).raise_for_status()
            started = time.perf_counter()
            ingest(client, headers, make_frame(args.rows, rng, shift=0.0))
            ingest_s = time.perf_counter() - started
            project_id = client.get("/v1/whoami", headers=headers).json()["project_id"]
        db = get_database(settings)
        checkpoint_and_publish(db, settings)
        trusted = [keys.public_key_base64(keys.signing_key(settings))]
        with db.transaction(read_only=True) as session:
            started = time.perf_counter()
            chain = verify_chain(
                (audit_service.to_link(e), b) for e, b in repository.iter_chain(session, project_id)
            )
            chain_s = time.perf_counter() - started
            started = time.perf_counter()
            result = audit_service.verify(session, project_id=project_id, trusted_keys=trusted)
            verify_s = time.perf_counter() - started
        db.dispose()
    if not (chain.ok and result.ok) or result.predictions_checked != args.rows:
        raise SystemExit(f"verification failed: {result}")
    emit(
        {
            "bench": "verify",
            "db": args.db,
            "rows": args.rows,
            "predictions_checked": result.predictions_checked,
            "labels_checked": result.labels_checked,
            "events": result.events,
            "checkpoint_seq": result.checkpoint_seq,
            "verify_s": round(verify_s, 2),
            "chain_only_s": round(chain_s, 3),
            "target_s": 30,
            "ingest_s": round(ingest_s, 1),
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
