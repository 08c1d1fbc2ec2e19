"""Request ids on every response and in every log line; JSON logs when asked."""

from __future__ import annotations

import io
import json
import logging

from fastapi.testclient import TestClient

from backend.observability import JsonFormatter, RequestIdFilter, request_id


def test_responses_carry_a_request_id_and_keep_a_sane_given_one(client: TestClient) -> None:
    generated = client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    other = client.get("/healthz")
    assert other.headers["x-request-id"] != generated.headers["x-request-id"]
    kept = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a:42"})
    assert kept.headers["x-request-id"] == "lb-7f3a:42"
    insane = client.get("/healthz", headers={"X-Request-Id": "x" * 500})
    assert insane.headers["x-request-id"] != "x" * 500
    problem = client.get("/v1/models")  # a 401 problem carries it too
    assert problem.status_code == 401 and problem.headers["x-request-id"]


def test_json_lines_hold_the_request_id_and_extra_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("verity.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    token = request_id.set("req-1")
    try:
        logger.warning("ingest %s", "slow", extra={"rows": 1000})
    finally:
        request_id.reset(token)
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["message"] == "ingest slow"
    assert line["level"] == "WARNING" and line["logger"] == "verity.test.json"
    assert line["request_id"] == "req-1" and line["rows"] == 1000
    assert line["ts"].endswith("+00:00")
