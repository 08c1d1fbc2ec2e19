"""Open Inference Protocol v2 pairs and KServe CloudEvents, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from backend.api.roles import Role
from backend.db import Database
from backend.models import InferenceHalf, Prediction
from tests.factories import register_model

VERSION = {
    "version": "v1",
    "features": [
        {"name": "age", "dtype": "numeric"},
        {"name": "income", "dtype": "numeric"},
        {"name": "debt", "dtype": "numeric"},
        {"name": "region", "dtype": "categorical", "model_input": False},
    ],
    "class_labels": ["deny", "approve"],
    "positive_class": "approve",
}


def oip_pair(request_id: str, rows: list[list[float]], probs: list[list[float]]) -> dict[str, Any]:
    return {
        "request": {
            "id": request_id,
            "inputs": [
                {"name": "x", "shape": [len(rows), 3], "datatype": "FP32", "data": rows},
                {
                    "name": "region",
                    "shape": [len(rows)],
                    "datatype": "BYTES",
                    "data": ["north"] * len(rows),
                },
            ],
        },
        "response": {
            "model_name": "loans",
            "id": request_id,
            "outputs": [
                {
                    "name": "probabilities",
                    "shape": [len(probs), 2],
                    "datatype": "FP32",
                    "data": [v for row in probs for v in row],
                }
            ],
        },
    }


def stored(database: Database, project_id: int) -> dict[str, Prediction]:
    with database.session() as session:
        rows = session.scalars(select(Prediction).where(Prediction.project_id == project_id))
        return {r.event_id: r for r in rows}


def test_oip_pairs_become_one_prediction_per_row(client, tenant, database):
    register_model(client, tenant, name="loans", version=VERSION)
    ingest = tenant.headers(Role.INGEST)
    pair = oip_pair("req-1", [[30, 50_000, 1_000], [61, 20_000, 9_000]], [[0.2, 0.8], [0.9, 0.1]])
    answer = client.post("/v1/ingest/oip/loans/versions/v1", json=pair, headers=ingest)
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] == 2
    again = client.post("/v1/ingest/oip/loans/versions/v1", json=[pair], headers=ingest)
    assert again.json() == {**again.json(), "stored": 0, "duplicates": 2}
    rows = stored(database, tenant.project_id)
    assert set(rows) == {"req-1-0", "req-1-1"}
    first = rows["req-1-0"]
    assert first.features == {"age": 30, "income": 50_000, "debt": 1_000, "region": "north"}
    assert first.prediction == "approve"
    assert first.score == 0.8
    assert rows["req-1-1"].prediction == "deny"


def test_oip_binary_score_output_and_named_inputs(client, tenant, database):
    register_model(client, tenant, name="loans", version=VERSION)
    pair = {
        "request": {
            "inputs": [
                {"name": n, "shape": [2, 1], "datatype": "FP64", "data": [[1.0], [2.0]]}
                for n in ("age", "income", "debt")
            ]
        },
        "response": {
            "outputs": [
                {"name": "other", "shape": [2], "datatype": "FP32", "data": [7, 7]},
                {"name": "p", "shape": [2], "datatype": "FP32", "data": [0.75, 0.25]},
            ]
        },
    }
    answer = client.post(
        "/v1/ingest/oip/loans/versions/v1?output=p&threshold=0.7",
        json=pair,
        headers=tenant.headers(Role.INGEST),
    )
    assert answer.status_code == 200, answer.text
    rows = sorted(stored(database, tenant.project_id).values(), key=lambda r: r.event_id)
    # No ids in the pair: the event ids come from its digest, so a resend dedupes.
    assert all(r.event_id.startswith("oip-") for r in rows)
    assert [(r.prediction, r.score) for r in rows] == [("approve", 0.75), ("deny", 0.25)]
    assert rows[0].features["region"] is None


def test_oip_errors_name_the_field(client, tenant):
    register_model(client, tenant, name="loans", version=VERSION)
    ingest = tenant.headers(Role.INGEST)
    bad_shape = oip_pair("r", [[1, 2, 3]], [[0.5, 0.5]])
    bad_shape["request"]["inputs"][0]["shape"] = [2, 3]
    answer = client.post("/v1/ingest/oip/loans/versions/v1", json=bad_shape, headers=ingest)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "0.request.inputs.0.data"
    too_wide = oip_pair("r", [[1, 2, 3, 4]], [[0.5, 0.5]])
    too_wide["request"]["inputs"][0]["shape"] = [1, 4]
    answer = client.post("/v1/ingest/oip/loans/versions/v1", json=too_wide, headers=ingest)
    assert answer.status_code == 422
    assert "3 model-input features" in answer.json()["errors"][0]["message"]
    missing = client.post(
        "/v1/ingest/oip/loans/versions/v9",
        json=oip_pair("r", [[1, 2, 3]], [[1, 0]]),
        headers=ingest,
    )
    assert missing.status_code == 404
    not_json = client.post(
        "/v1/ingest/oip/loans/versions/v1",
        content=b"{nope",
        headers={**ingest, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422
    viewer = client.post(
        "/v1/ingest/oip/loans/versions/v1",
        json=oip_pair("r", [[1, 2, 3]], [[1, 0]]),
        headers=tenant.headers(Role.VIEWER),
    )
    assert viewer.status_code == 403


def cloudevent(ce_id: str, half: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "content": __import__("json").dumps(body),
        "headers": {
            "ce-id": ce_id,
            "ce-type": f"org.kubeflow.serving.inference.{half}",
            "ce-source": "http://loans-predictor.default/",
            "ce-specversion": "1.0",
            "ce-time": "2026-11-20T10:00:00Z",
            "Content-Type": "application/json",
        },
    }


def test_cloudevent_halves_join_by_ce_id_in_either_order(client, tenant, database):
    register_model(client, tenant, name="loans", version=VERSION)
    ingest = tenant.headers(Role.INGEST)
    url = "/v1/ingest/cloudevents/loans/versions/v1"
    v1_request: dict[str, Any] = {"instances": [[30, 50_000, 1_000], [45, 80_000, 0]]}
    v1_response: dict[str, Any] = {"predictions": [[0.3, 0.7], [0.6, 0.4]]}
    for ce_id, first, second in (("ce-a", "request", "response"), ("ce-b", "response", "request")):
        bodies = {"request": v1_request, "response": v1_response}
        sent = cloudevent(ce_id, first, bodies[first])
        waiting = client.post(url, content=sent["content"], headers={**ingest, **sent["headers"]})
        assert waiting.status_code == 202, waiting.text
        assert waiting.json()["state"] == "waiting"
        # The same half again is accepted once.
        client.post(url, content=sent["content"], headers={**ingest, **sent["headers"]})
        sent = cloudevent(ce_id, second, bodies[second])
        joined = client.post(url, content=sent["content"], headers={**ingest, **sent["headers"]})
        assert joined.status_code == 200, joined.text
        assert joined.json()["result"]["stored"] == 2
    rows = stored(database, tenant.project_id)
    assert set(rows) == {"ce-a-0", "ce-a-1", "ce-b-0", "ce-b-1"}
    assert rows["ce-a-0"].prediction == "approve"
    assert rows["ce-a-0"].occurred_at.isoformat().startswith("2026-11-20T10:00:00")
    with database.session() as session:
        left = session.scalars(
            select(InferenceHalf).where(InferenceHalf.project_id == tenant.project_id)
        ).all()
    assert left == []


def test_a_half_without_partner_expires_and_is_reported(client, tenant, database, manual_clock):
    register_model(client, tenant, name="loans", version=VERSION)
    ingest = tenant.headers(Role.INGEST)
    url = "/v1/ingest/cloudevents/loans/versions/v1"
    sent = cloudevent("lonely", "request", {"instances": [[1, 2, 3]]})
    assert (
        client.post(url, content=sent["content"], headers={**ingest, **sent["headers"]}).status_code
        == 202
    )
    pending = client.get(
        "/v1/ingest/cloudevents/unpaired?state=pending", headers=tenant.headers(Role.VIEWER)
    )
    assert [h["ce_id"] for h in pending.json()["items"]] == ["lonely"]
    manual_clock.advance(timedelta(hours=1))
    report = client.get("/v1/ingest/cloudevents/unpaired", headers=tenant.headers(Role.VIEWER))
    assert report.status_code == 200
    body = report.json()
    assert (body["pending"], body["expired"]) == (0, 1)
    assert body["items"][0]["ce_id"] == "lonely" and body["items"][0]["half"] == "request"
    # Its partner, arriving late, no longer joins: it waits (and will expire) in turn.
    late = cloudevent("lonely", "response", {"predictions": [[0.1, 0.9]]})
    answer = client.post(url, content=late["content"], headers={**ingest, **late["headers"]})
    assert answer.status_code == 202
    assert stored(database, tenant.project_id) == {}


def test_cloudevent_header_errors(client, tenant):
    register_model(client, tenant, name="loans", version=VERSION)
    ingest = tenant.headers(Role.INGEST)
    url = "/v1/ingest/cloudevents/loans/versions/v1"
    sent = cloudevent("x", "request", {"instances": [[1, 2, 3]]})
    headers = {k: v for k, v in sent["headers"].items() if k != "ce-id"}
    answer = client.post(url, content=sent["content"], headers={**ingest, **headers})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"field": "ce-id", "message": "required header"}]
    odd = {**sent["headers"], "ce-type": "org.example.something"}
    assert client.post(url, content=sent["content"], headers={**ingest, **odd}).status_code == 422
    bad_pair = cloudevent("y", "request", {"instances": [[1, 2]]})
    client.post(url, content=bad_pair["content"], headers={**ingest, **bad_pair["headers"]})
    partner = cloudevent("y", "response", {"predictions": [[0.5, 0.5]]})
    answer = client.post(url, content=partner["content"], headers={**ingest, **partner["headers"]})
    assert answer.status_code == 422
