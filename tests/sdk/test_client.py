"""The SDK against the real API on loopback: delivery, retries that never duplicate,
drops that are counted and reported, hooks, the asyncio client."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from verity_sdk import AsyncVerityClient, Backoff, VerityClient, last_event_id
from verity_sdk.transport import judge, retry_after_seconds

from backend.api.roles import Role
from backend.config import Settings
from backend.db import Database
from backend.models import Label, Prediction
from tests.factories import SCHEMA, register_model
from tests.live import LiveApi

FAST = Backoff(base=0.01, cap=0.05)


@pytest.fixture(scope="module")
def live(settings: Settings) -> Iterator[LiveApi]:
    api = LiveApi(settings).start()
    yield api
    api.stop()


def features(i: int) -> dict[str, Any]:
    return {"f_num_a": float(i), "f_num_b": i * 0.5, "color": "red", "group": "g1"}


def stored_ids(database: Database, project_id: int) -> list[str]:
    with database.session() as session:
        return list(
            session.scalars(select(Prediction.event_id).where(Prediction.project_id == project_id))
        )


def test_importing_the_sdk_loads_neither_fastapi_nor_sqlalchemy():
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, verity_sdk; "
            "print(sorted(m for m in ('fastapi', 'sqlalchemy', 'starlette', 'torch') "
            "if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"


def test_retry_after_and_verdicts():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "Mon, 23 Nov 2026 12:00:05 GMT"}, now) == 5.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({"retry-after": "-1"}) is None
    assert retry_after_seconds({}) is None
    assert Backoff(base=1, cap=4).delay(10) <= 4
    assert Backoff().delay(1, retry_after=2.5) == 2.5
    assert judge(200, {"stored": 3, "duplicates": 1}).outcome == "delivered"
    in_progress = {"type": "https://verity.dev/problems/idempotency-in-progress"}
    assert judge(409, in_progress).outcome == "retry"
    assert judge(409, {"type": "https://verity.dev/problems/conflict"}).outcome == "rejected"
    assert judge(408, None).outcome == "retry"
    for status in (429, 502, 503, 504):
        assert judge(status, None).outcome == "retry"
    assert judge(413, None).outcome == "split"
    assert judge(422, {"errors": [{"record": 1}]}).invalid == {1}
    assert judge(401, {"detail": "bad key"}).outcome == "rejected"


def test_predictions_and_labels_are_delivered_once(live, client, tenant, database):
    register_model(client, tenant)
    sdk = VerityClient(live.url, tenant.tokens[Role.INGEST], "churn", "v1", batch_size=40)
    ids = [sdk.log(features(i), i % 2, score=0.3, latency_ms=2.0) for i in range(300)]
    for event_id in ids[:100]:
        sdk.log_label(event_id, 1)
    sdk.close()
    assert sorted(stored_ids(database, tenant.project_id)) == sorted(ids)
    with database.session() as session:
        labels = session.scalar(
            select(func.count()).select_from(Label).where(Label.project_id == tenant.project_id)
        )
    assert labels == 100
    stats = sdk.stats
    assert (stats.logged, stats.labels_logged, stats.delivered, stats.dropped) == (300, 100, 400, 0)


class Flaky(httpx.BaseTransport):
    """Between the client and the API: answers 503 (with Retry-After) or 429 itself,
    or forwards and then loses the answer, so the client must retry batches the
    server has already stored."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.calls = itertools.count()
        self.lost_answers = 0
        self.batch_keys: set[str] = set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        n = next(self.calls)
        self.batch_keys.add(request.headers["idempotency-key"])
        if n % 4 == 0:
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"detail": "busy"})
        if n % 4 == 1:
            return httpx.Response(429, json={"detail": "slow down"})
        response = self.inner.handle_request(request)
        if n % 4 == 2:
            response.read()
            self.lost_answers += 1
            raise httpx.ReadError("connection reset after the server answered")
        return response


def test_a_retry_storm_never_duplicates(live, client, tenant, database):
    register_model(client, tenant)
    flaky = Flaky()
    sdk = VerityClient(
        live.url,
        tenant.tokens[Role.INGEST],
        "churn",
        "v1",
        batch_size=25,
        backoff=FAST,
        max_attempts=100,
        transport=flaky,
    )
    ids = [sdk.log(features(i), 1) for i in range(500)]
    assert sdk.flush(timeout=60)
    sdk.close()
    stored = stored_ids(database, tenant.project_id)
    assert len(stored) == len(set(stored)) == 500
    assert set(stored) == set(ids)
    assert flaky.lost_answers >= 5
    # Every failed attempt was retried, and each batch (an Idempotency-Key; how many
    # depends on when the sender woke) ended in one delivery.
    assert sdk.stats.retries == sdk.stats.batches_sent - len(flaky.batch_keys)
    assert sdk.stats.delivered == 500
    assert sdk.stats.dropped == 0


class HeldKey(httpx.BaseTransport):
    """The first attempt of each batch meets another request holding its
    Idempotency-Key: the API's 409 in-progress problem with Retry-After. That other
    request then fails (nothing stored). The batch must be retried, never dropped
    (finding 10)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.answers: list[int] = []
        self.keys: set[str] = set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["idempotency-key"]
        if key not in self.keys:
            self.keys.add(key)
            self.answers.append(409)
            return httpx.Response(
                409,
                headers={"Retry-After": "0", "Content-Type": "application/problem+json"},
                json={
                    "type": "https://verity.dev/problems/idempotency-in-progress",
                    "title": "A request with this Idempotency-Key is in progress",
                    "status": 409,
                    "detail": "retry",
                },
            )
        response = self.inner.handle_request(request)
        response.read()
        self.answers.append(response.status_code)
        return response


def test_a_batch_meeting_its_key_in_progress_is_retried_not_dropped(live, client, tenant, database):
    register_model(client, tenant)
    held = HeldKey()
    sdk = VerityClient(
        live.url, tenant.tokens[Role.INGEST], "churn", "v1", batch_size=10, transport=held
    )
    ids = [sdk.log(features(i), 1) for i in range(10)]
    assert sdk.flush(timeout=60)
    sdk.close()
    assert held.answers[0] == 409 and held.answers[-1] == 200
    assert sorted(stored_ids(database, tenant.project_id)) == sorted(ids)
    assert sdk.stats.dropped == 0 and sdk.stats.retries >= 1


def test_invalid_records_are_dropped_reported_and_the_rest_delivered(
    live, client, tenant, database
):
    register_model(client, tenant)
    reports: list[tuple[str, int, str]] = []
    sdk = VerityClient(
        live.url,
        tenant.tokens[Role.INGEST],
        "churn",
        "v1",
        on_drop=lambda reason, count, detail: reports.append((reason, count, detail)),
    )
    good = [sdk.log(features(i), 0) for i in range(10)]
    sdk.log({"f_num_a": "not a number"}, 0)
    sdk.log(features(99), "not a class")
    sdk.close()
    assert sorted(stored_ids(database, tenant.project_id)) == sorted(good)
    assert sdk.stats.dropped_invalid == 2
    assert [(r, c) for r, c, _ in reports] == [("invalid", 2)]


def test_a_full_queue_drops_without_blocking_and_says_so():
    reports: list[tuple[str, int, str]] = []
    sdk = VerityClient(
        "http://127.0.0.1:9",  # nothing listens on the discard port
        "vt_key",
        "m",
        "v1",
        batch_size=10,
        max_queue=50,
        flush_interval=60,
        max_attempts=1,
        on_drop=lambda reason, count, detail: reports.append((reason, count, detail)),
    )
    started = time.perf_counter()
    for i in range(5_000):
        sdk.log(features(i), 0)
    assert time.perf_counter() - started < 2.0
    sdk.close(timeout=2)
    stats = sdk.stats
    # Every call is accounted for: queued (then dropped, nothing listens) or refused.
    assert stats.logged + stats.dropped_queue_full == 5_000
    assert stats.dropped_queue_full > 0
    assert stats.dropped == 5_000
    reasons = {r for r, _, _ in reports}
    assert "queue_full" in reasons


def test_monitor_decorator_logs_inputs_outputs_and_latency(live, client, tenant, database):
    register_model(client, tenant)
    sdk = VerityClient(live.url, tenant.tokens[Role.INGEST], "churn", "v1")

    @sdk.monitor
    def predict(row: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.01)
        return {"prediction": int(row["f_num_a"] > 1), "score": 0.7}

    assert predict(features(3)) == {"prediction": 1, "score": 0.7}
    event_id = last_event_id.get()
    sdk.close()
    with database.session() as session:
        row = session.scalars(select(Prediction).where(Prediction.event_id == event_id)).one()
    assert row.project_id == tenant.project_id
    assert row.prediction == 1 and row.score == 0.7
    assert row.latency_ms is not None and row.latency_ms >= 10


def test_torch_forward_hook_logs_every_row(live, client, tenant, database):
    torch = pytest.importorskip("torch")
    version = {
        "version": "v1",
        "features": [{"name": n, "dtype": "numeric"} for n in ("a", "b", "c")],
        "class_labels": ["no", "yes"],
        "positive_class": "yes",
    }
    register_model(client, tenant, name="netted", version=version)
    sdk = VerityClient(live.url, tenant.tokens[Role.INGEST], "netted", "v1")
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Softmax(dim=1))
    handles = sdk.watch(model, feature_names=["a", "b", "c"], class_labels=["no", "yes"])
    batch = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    with torch.no_grad():
        out = model(batch)
    for handle in handles:
        handle.remove()
    with torch.no_grad():
        model(batch)  # no longer watched
    sdk.close()
    with database.session() as session:
        rows = session.scalars(
            select(Prediction)
            .where(Prediction.project_id == tenant.project_id)
            .order_by(Prediction.id)
        ).all()
    assert [r.features for r in rows] == [
        {"a": 0.0, "b": 1.0, "c": 2.0},
        {"a": 3.0, "b": 4.0, "c": 5.0},
        {"a": 6.0, "b": 7.0, "c": 8.0},
    ]
    expected = ["yes" if o[1] >= o[0] else "no" for o in out.tolist()]
    assert [r.prediction for r in rows] == expected
    assert all(r.latency_ms is not None for r in rows)
    assert sdk.stats.internal_errors == 0


def test_fastapi_dependency_returns_the_event_id(live, client, tenant, database):
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient
    from verity_sdk.hooks import RequestLogger, fastapi_logger

    register_model(client, tenant)
    sdk = VerityClient(live.url, tenant.tokens[Role.INGEST], "churn", "v1")
    app = FastAPI()

    @app.post("/predict")
    def predict(
        row: dict[str, Any], log: RequestLogger = Depends(fastapi_logger(sdk))
    ) -> dict[str, int]:
        prediction = int(row["f_num_a"] > 1)
        log.log(row, prediction)
        return {"prediction": prediction}

    with TestClient(app) as server:
        answered = server.post("/predict", json=features(5))
    sdk.close()
    event_id = answered.headers["Verity-Event-Id"]
    assert stored_ids(database, tenant.project_id) == [event_id]


def test_async_client_delivers(live, client, tenant, database):
    register_model(client, tenant)

    async def serve() -> list[str]:
        async with AsyncVerityClient(
            live.url, tenant.tokens[Role.INGEST], "churn", "v1", batch_size=30
        ) as sdk:
            ids = [sdk.log(features(i), 1) for i in range(200)]
            for event_id in ids[:20]:
                sdk.log_label(event_id, 0)
            await asyncio.sleep(0)
        assert sdk.stats.delivered == 220
        return ids

    ids = asyncio.run(serve())
    assert sorted(stored_ids(database, tenant.project_id)) == sorted(ids)


def test_occurred_at_is_kept(live, client, tenant, database):
    register_model(client, tenant)
    when = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    with VerityClient(live.url, tenant.tokens[Role.INGEST], "churn", "v1") as sdk:
        event_id = sdk.log(features(1), 0, occurred_at=when)
    with database.session() as session:
        row = session.scalars(select(Prediction).where(Prediction.event_id == event_id)).one()
    assert abs(row.occurred_at - when) < timedelta(microseconds=1)
    assert SCHEMA["version"] == "v1"


def test_with_a_spool_a_batch_is_retried_for_as_long_as_it_takes(tmp_path):
    from verity_sdk.pipeline import Pipeline
    from verity_sdk.spool import Spool

    def pipeline(spool: Spool | None) -> Pipeline:
        return Pipeline(
            model="m",
            version="v1",
            batch_size=10,
            max_queue=100,
            spool=spool,
            backoff=FAST,
            max_attempts=None,
            on_drop=None,
        )

    spooled = pipeline(Spool(tmp_path / "spool", 1 << 20))  # empty, so len() == 0
    assert spooled.max_attempts is None
    assert pipeline(None).max_attempts == 8
    spooled.offer_prediction("e-1", features(1), 0, (None,) * 6)
    (batch,) = spooled.ready(now=0.0)
    for attempt in range(50):
        assert spooled.settle(batch, None, now=float(attempt), error="down") == []
    assert spooled.stats.dropped == 0
    assert len(spooled.spool or []) == 1
