import gzip
import json
import math
from datetime import timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.api.roles import Role
from backend.main import create_app
from tests.factories import counts, record, register_model
from tests.support.timeline import at, iso, window

URL = "/v1/predictions"


@pytest.fixture
def model(client, tenant):
    return register_model(client, tenant)


def post(client, tenant, records, role=Role.INGEST, **headers):
    return client.post(URL, json={"records": records}, headers={**tenant.headers(role), **headers})


def test_a_batch_is_stored_and_counted(client, tenant, database, model):
    response = post(client, tenant, [record(i) for i in range(50)])
    assert response.status_code == 200, response.text
    assert response.json() == {
        "received": 50,
        "stored": 50,
        "duplicates": 0,
        "duplicate_event_ids": [],
    }
    assert counts(database, tenant.project_id)["predictions"] == 50


def test_duplicate_event_ids_across_batches_are_stored_once(client, tenant, database, model):
    assert post(client, tenant, [record(i) for i in range(10)]).status_code == 200
    response = post(client, tenant, [record(i) for i in range(5, 15)])
    assert response.json()["stored"] == 5
    assert response.json()["duplicates"] == 5
    assert response.json()["duplicate_event_ids"] == [f"evt-{i}" for i in range(5, 10)]
    assert counts(database, tenant.project_id)["predictions"] == 15


def test_idempotency_key_replays_the_first_answer(client, tenant, database, model):
    batch = [record(i) for i in range(3)]
    first = post(client, tenant, batch, **{"Idempotency-Key": "batch-1"})
    assert first.status_code == 200
    audit_after_first = counts(database, tenant.project_id)["audit"]
    replay = post(client, tenant, batch, **{"Idempotency-Key": "batch-1"})
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert counts(database, tenant.project_id) == {
        "predictions": 3,
        "labels": 0,
        "audit": audit_after_first,
    }


def test_idempotency_key_with_another_body_is_422(client, tenant, database, model):
    assert post(client, tenant, [record(1)], **{"Idempotency-Key": "k"}).status_code == 200
    before = counts(database, tenant.project_id)
    response = post(client, tenant, [record(2)], **{"Idempotency-Key": "k"})
    assert response.status_code == 422
    assert "different request body" in response.json()["detail"]
    assert counts(database, tenant.project_id) == before


def first_request_storing(database, tenant, key, body):
    """Another request with ``key`` in the middle of its write transaction: it holds
    the key and has written its answer, not yet committed."""
    from backend.idempotency import service as idempotency

    session = database.session()
    idempotency.hold(session, project_id=tenant.project_id, key=key)
    idempotency.remember(
        session,
        project_id=tenant.project_id,
        key=key,
        endpoint="predictions",
        request_sha256=__import__("hashlib").sha256(body).hexdigest(),
        status_code=200,
        body={"received": 3, "stored": 3, "duplicates": 0, "duplicate_event_ids": []},
    )
    return session


def send(client, tenant, body, key):
    headers = {**tenant.headers(Role.INGEST), "Idempotency-Key": key,
               "Content-Type": "application/json"}  # fmt: skip
    return client.post(URL, content=body, headers=headers)


def test_a_concurrent_duplicate_gets_409_with_retry_after_or_waits_then_replays(
    client, tenant, database, model
):
    """Finding 10: a concurrent duplicate got 409 without Retry-After, and the SDK
    dropped it. PostgreSQL: while the first request holds the key, 409 with
    Retry-After, and the retry after it commits replays its answer. SQLite runs one
    writer at a time: the duplicate waits for the first to commit, then replays."""
    import threading

    body = json.dumps({"records": [record(i) for i in range(3)]}).encode()
    first = first_request_storing(database, tenant, "dup", body)
    answers = []
    try:
        if database.url.startswith("postgresql"):
            busy = send(client, tenant, body, "dup")
            assert busy.status_code == 409, busy.text
            assert busy.headers["retry-after"] == "1"
            assert busy.json()["type"].endswith("/idempotency-in-progress")
            first.commit()
        else:
            waiting = threading.Thread(
                target=lambda: answers.append(send(client, tenant, body, "dup"))
            )
            waiting.start()
            first.commit()
            waiting.join(60)
    finally:
        first.close()
    replay = answers[0] if answers else send(client, tenant, body, "dup")
    assert replay.status_code == 200, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert counts(database, tenant.project_id)["predictions"] == 0  # the first stored none here


def test_a_key_whose_holder_failed_is_free(client, tenant, database, model):
    body = json.dumps({"records": [record(i) for i in range(3)]}).encode()
    first = first_request_storing(database, tenant, "failing", body)
    first.rollback()  # the first request fails: its key, and its answer, are gone
    first.close()
    answer = send(client, tenant, body, "failing")
    assert answer.status_code == 200 and answer.json()["stored"] == 3
    assert "Idempotent-Replayed" not in answer.headers


def test_a_key_whose_request_failed_may_be_used_again(client, tenant, database, model):
    bad = post(client, tenant, [record(1, score=9.0)], **{"Idempotency-Key": "again"})
    assert bad.status_code == 422
    good = post(client, tenant, [record(1)], **{"Idempotency-Key": "again"})
    assert good.status_code == 200 and good.json()["stored"] == 1
    replay = post(client, tenant, [record(1)], **{"Idempotency-Key": "again"})
    assert replay.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"features": {"f_num_a": 1.0, "f_num_b": 2.0, "color": "x" * 1_000_000, "group": "g"}},
         "features.color"),
        ({"features": {"f_num_a": 1.0, "f_num_b": 2.0, "color": "red", "group": "g" * 300}},
         "features.group"),
        ({"tags": {"k": "v" * 257}}, "tags.k"),
    ],
)  # fmt: skip
def test_long_strings_are_refused(client, tenant, database, model, patch, field):
    """Finding 8: a 1 MB categorical value was stored."""
    response = post(client, tenant, [record(1, **patch)])
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert "VERITY_LIMITS__" in response.json()["errors"][0]["message"]
    assert counts(database, tenant.project_id)["predictions"] == 0


def test_a_long_pending_label_is_refused(client, tenant, database, model):
    """Finding 8: a 1 MB label for a prediction not yet arrived was stored."""
    response = client.post(
        "/v1/labels",
        json={"labels": [{"event_id": "later", "label": "x" * 1_000_000}]},
        headers=tenant.headers(Role.INGEST),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "label"
    assert counts(database, tenant.project_id)["labels"] == 0


def test_limits_are_settings(settings, tenant, database):
    from backend.config import LimitSettings

    tight = settings.model_copy(update={"limits": LimitSettings(value_chars=2, name_chars=5)})
    with TestClient(create_app(tight)) as small:
        long_name = small.post(
            "/v1/models", json={"name": "abcdef", "task": "binary"}, headers=tenant.headers()
        )
        assert long_name.status_code == 422
        assert long_name.json()["errors"][0]["field"] == "name"
        register_model(small, tenant, name="m")
        refused = small.post(
            URL, json={"records": [record(1, model="m")]}, headers=tenant.headers(Role.INGEST)
        )
        assert refused.status_code == 422  # "red" is 3 characters; "g1" and "eu" are 2
        assert [e["field"] for e in refused.json()["errors"]] == ["features.color"]


def test_naive_timestamps_are_taken_as_utc(client, tenant, model):
    ten = at(hours=10)
    naive = ten.replace(tzinfo=None).isoformat()
    plus_two = ten.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert plus_two.endswith("+02:00")
    post(client, tenant, [record(1, occurred_at=naive)])
    post(client, tenant, [record(2, occurred_at=plus_two)])
    one = client.get(f"{URL}/evt-1", headers=tenant.headers(Role.VIEWER)).json()
    two = client.get(f"{URL}/evt-2", headers=tenant.headers(Role.VIEWER)).json()
    assert one["occurred_at"] in (iso(ten), ten.isoformat())
    assert two["occurred_at"] == one["occurred_at"]


BAD_RECORDS = [
    ("unknown model", {"model": "nope"}, "model"),
    ("unknown version", {"version": "v9"}, "model"),
    (
        "missing feature",
        {"features": {"f_num_a": 1.0, "color": "red", "group": "g"}},
        "features.f_num_b",
    ),
    (
        "extra feature",
        {"features": {"f_num_a": 1, "f_num_b": 2, "color": "red", "group": "g", "zzz": 1}},
        "features.zzz",
    ),
    (
        "string for number",
        {"features": {"f_num_a": "1", "f_num_b": 2, "color": "red", "group": "g"}},
        "features.f_num_a",
    ),
    (
        "bool for number",
        {"features": {"f_num_a": True, "f_num_b": 2, "color": "red", "group": "g"}},
        "features.f_num_a",
    ),
    (
        "list for category",
        {"features": {"f_num_a": 1, "f_num_b": 2, "color": ["red"], "group": "g"}},
        "features.color",
    ),
    ("prediction not a class", {"prediction": 3}, "prediction"),
    ("score above one", {"score": 1.5}, "score"),
    ("negative latency", {"latency_ms": -1}, "latency_ms"),
    ("empty event id", {"event_id": ""}, "event_id"),
    ("unknown top-level field", {"surprise": 1}, "surprise"),
    ("bad timestamp", {"occurred_at": "yesterday"}, "occurred_at"),
]


@pytest.mark.parametrize(("case", "patch", "field"), BAD_RECORDS, ids=[c[0] for c in BAD_RECORDS])
def test_one_bad_record_rejects_the_whole_batch(
    client, tenant, database, model, case, patch, field
):
    before = counts(database, tenant.project_id)
    batch = [record(0), record(1, **patch), record(2)]
    response = post(client, tenant, batch)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert any(field in error["field"] for error in body["errors"]), body
    assert counts(database, tenant.project_id) == before


def test_every_bad_record_and_field_is_named(client, tenant, model):
    batch = [record(0, score=2.0), record(1), record(2, prediction=9, features={"f_num_a": 1})]
    body = post(client, tenant, batch).json()
    named = {(e["record"], e["field"]) for e in body["errors"]}
    assert (0, "score") in named
    assert (2, "prediction") in named
    assert (2, "features.f_num_b") in named
    assert (2, "features.color") in named
    assert not any(r == 1 for r, _ in named)
    assert body["detail"].startswith("2 of 3 records are invalid")


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(client, tenant, database, model, token):
    raw = json.dumps({"records": [record(1)]}).replace('"f_num_a": 1.0', f'"f_num_a": {token}')
    assert token in raw
    before = counts(database, tenant.project_id)
    response = client.post(
        URL,
        content=raw,
        headers={**tenant.headers(Role.INGEST), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert "NaN and infinity" in response.text
    raw_score = json.dumps({"records": [record(2)]}).replace('"score": 0.1', f'"score": {token}')
    response = client.post(
        URL,
        content=raw_score,
        headers={**tenant.headers(Role.INGEST), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert counts(database, tenant.project_id) == before


def test_duplicate_event_ids_inside_one_batch_are_refused(client, tenant, database, model):
    before = counts(database, tenant.project_id)
    response = post(client, tenant, [record(1), record(2), record(1)])
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "record": 2,
            "event_id": "evt-1",
            "field": "event_id",
            "message": "duplicates record 0 of this batch",
        }
    ]
    assert counts(database, tenant.project_id) == before


def test_oversize_batch_is_413(client, tenant, database, model):
    before = counts(database, tenant.project_id)
    response = post(client, tenant, [record(i) for i in range(10_001)])
    assert response.status_code == 413
    assert "at most 10000 records" in response.json()["detail"]
    assert counts(database, tenant.project_id) == before


def test_missing_values_are_stored_as_null(client, tenant, model):
    features = {"f_num_a": None, "f_num_b": 2.0, "color": None, "group": "g1"}
    assert post(client, tenant, [record(1, features=features)]).status_code == 200
    stored = client.get(f"{URL}/evt-1", headers=tenant.headers(Role.VIEWER)).json()
    assert stored["features"] == features


def test_multiclass_probabilities(client, tenant, database):
    schema = {
        "version": "v1",
        "features": [{"name": "x", "dtype": "numeric"}],
        "class_labels": ["a", "b", "c"],
    }
    register_model(client, tenant, name="mc", task="multiclass", version=schema)
    base: dict[str, Any] = {"model": "mc", "features": {"x": 1.0}, "score": None}
    ok = [
        record(1, **base, prediction="a", probabilities=[0.7, 0.2, 0.1]),
        record(2, **base, prediction="b", probabilities={"a": 0.1, "b": 0.8, "c": 0.1}),
    ]
    assert post(client, tenant, ok).status_code == 200
    stored = client.get(f"{URL}/evt-1", headers=tenant.headers(Role.VIEWER)).json()
    assert stored["probabilities"] == {"a": 0.7, "b": 0.2, "c": 0.1}
    for bad in ([0.5, 0.5], [0.7, 0.7, 0.1], {"a": 0.5, "z": 0.5}):
        response = post(client, tenant, [record(3, **base, prediction="a", probabilities=bad)])
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["field"] == "probabilities"


def test_regression_predictions(client, tenant):
    schema = {"version": "v1", "features": [{"name": "x", "dtype": "numeric"}]}
    register_model(client, tenant, name="price", task="regression", version=schema)
    ok = record(1, model="price", features={"x": 1.0}, prediction=123.4, score=None)
    assert post(client, tenant, [ok]).status_code == 200
    bad = record(2, model="price", features={"x": 1.0}, prediction="high", score=None)
    assert post(client, tenant, [bad]).status_code == 422


def test_gzip_bodies_are_accepted(client, tenant, database, model):
    body = gzip.compress(json.dumps({"records": [record(i) for i in range(20)]}).encode())
    response = client.post(
        URL,
        content=body,
        headers={
            **tenant.headers(Role.INGEST),
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    assert response.status_code == 200, response.text
    assert counts(database, tenant.project_id)["predictions"] == 20


def test_labels_join_whenever_they_arrive(client, tenant, database, model):
    early = client.post(
        "/v1/labels",
        json={"labels": [{"event_id": "evt-1", "label": 1}]},
        headers=tenant.headers(Role.INGEST),
    )
    assert early.json() == {
        "received": 1,
        "stored": 1,
        "updated": 0,
        "unchanged": 0,
        "matched": 0,
        "pending": 1,
    }
    post(client, tenant, [record(1), record(2)])
    late = client.post(
        "/v1/labels",
        json={"labels": [{"event_id": "evt-1", "label": 0}, {"event_id": "evt-2", "label": "1"}]},
        headers=tenant.headers(Role.INGEST),
    )
    assert late.json() == {
        "received": 2,
        "stored": 1,
        "updated": 1,
        "unchanged": 0,
        "matched": 2,
        "pending": 0,
    }
    one = client.get(f"{URL}/evt-1", headers=tenant.headers(Role.VIEWER)).json()
    two = client.get(f"{URL}/evt-2", headers=tenant.headers(Role.VIEWER)).json()
    assert one["label"] == 0
    assert two["label"] == 1  # "1" normalized to the declared class label
    bad = client.post(
        "/v1/labels",
        json={"labels": [{"event_id": "evt-1", "label": 7}]},
        headers=tenant.headers(Role.INGEST),
    )
    assert bad.status_code == 422
    assert counts(database, tenant.project_id)["labels"] == 2


def test_predictions_are_paged_newest_first_and_filtered(client, tenant, model):
    post(client, tenant, [record(i) for i in range(25)])
    seen = []
    cursor = None
    while True:
        params = {"model": "churn", "version": "v1", "limit": 10}
        if cursor:
            params["cursor"] = cursor
        page = client.get(URL, params=params, headers=tenant.headers(Role.COMPLIANCE)).json()
        seen += [item["event_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"evt-{i}" for i in range(24, -1, -1)]
    in_window = client.get(
        URL,
        params=window(at(5), at(8)),
        headers=tenant.headers(Role.VIEWER),
    ).json()
    assert [i["event_id"] for i in in_window["items"]] == ["evt-7", "evt-6", "evt-5"]
    bad = client.get(URL, params={"cursor": "@@@"}, headers=tenant.headers(Role.VIEWER))
    assert bad.status_code == 422
    missing = client.get(f"{URL}/evt-999", headers=tenant.headers(Role.VIEWER))
    assert missing.status_code == 404


def test_audit_event_per_batch(client, tenant, model):
    post(client, tenant, [record(i) for i in range(4)])
    events = client.get(
        "/v1/audit",
        params={"action": "predictions.ingest"},
        headers=tenant.headers(Role.COMPLIANCE),
    ).json()
    assert len(events["items"]) == 1
    payload = events["items"][0]["payload"]
    assert payload["received"] == 4 and payload["stored"] == 4
    assert payload["versions"] == ["churn/v1"]
    assert not math.isnan(events["items"][0]["seq"])


def test_concurrent_batches_are_all_stored_and_the_chain_stays_intact(
    client, tenant, database, model
):
    """Writers in parallel: no deadlock between FK checks and the audit chain lock."""
    from concurrent.futures import ThreadPoolExecutor

    def send(batch_index):
        records = [record(batch_index * 100 + i) for i in range(100)]
        return post(client, tenant, records, **{"Idempotency-Key": f"b{batch_index}"}).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(send, range(24)))
    assert statuses == [200] * 24
    assert counts(database, tenant.project_id)["predictions"] == 2400
    verify = client.get("/v1/audit/verify", headers=tenant.headers(Role.COMPLIANCE)).json()
    assert verify["ok"], verify
