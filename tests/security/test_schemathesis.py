"""Schemathesis over the OpenAPI spec with every check it has: no 5xx, status codes,
content types, headers and bodies as documented, invalid input refused, valid input
accepted. Authenticated as the tenant's admin, over a model with data, with valid
and with invalid (negative) generated input.

Each operation is driven by its Hypothesis strategy here rather than by the pytest
plugin's ``from_fixture``, which does not run under pytest 9.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.result import Ok

from backend.config import Settings
from backend.main import create_app
from tests.factories import Tenant, over_budget_model

pytestmark = pytest.mark.slow  # minutes, not seconds: -m 'not slow' leaves it out

EXAMPLES = 15

# Operations whose valid inputs depend on rules OpenAPI cannot state (stored state,
# cross-field rules, file contents): a schema-valid request may rightly get 422 there,
# so Schemathesis' "schema-valid request accepted" check is off for them, and only it.
SEMANTIC_VALIDATION = {
    "POST /v1/keys": "expires_at and expires_in_days exclude each other",
    "POST /v1/models/{model}/versions": "categories only on categorical features",
    "POST /v1/models/{model}/versions/{version}/references": "a CSV with the version's columns",
    "PUT /v1/models/{model}/versions/{version}/artifact": "a torch.export or TorchScript model",
    "POST /v1/predictions": "records match the registered version's features",
    "POST /v1/labels": "labels are the version's class labels",
    "GET /v1/predictions": "a version filter needs the model; a cursor this list returned",
    "GET /v1/alerts": "an opaque cursor this list returned",
    "GET /v1/audit": "a cursor this list returned, in its order; not with the old seq params",
    "GET /v1/monitors/{monitor_id}/runs": "an opaque cursor this list returned",
    "GET /v1/monitors/{monitor_id}/series": "an opaque cursor this list returned",
    "POST /v1/ingest/oip/{model}/versions/{version}": "tensors match the version's inputs",
    "POST /v1/ingest/cloudevents/{model}/versions/{version}": "ce- headers and KServe bodies",
    "POST /v1/models/{model}/versions/{version}/monitors": "params per detector kind, cron",
    "PATCH /v1/monitors/{monitor_id}": "params per detector kind, cron",
    "POST /v1/monitors/{monitor_id}/backfill": "start before end",
    "POST /v1/models/{model}/versions/{version}/evidence": "start before end",
    "GET /v1/models/{model}/volume": "hourly buckets span at most 92 days",
    "POST /v1/channels": "webhook URLs to internal addresses are refused (SSRF)",
    "PUT /v1/models/{model}/gate-policy": "conditions name the model's monitors and metrics",
    "POST /v1/models/{model}/versions/{version}/transitions": "a rollout only with production",
    "GET /v1/incidents": "an opaque cursor this list returned",
    "PUT /v1/models/{model}/versions/{version}/review-policy": "a segment of the version's features",
    "POST /v1/review/items/{item_id}/decision": "leased to this key; an override gives a label",
    "POST /v1/incidents": "alerts of the version named; awareness not in the future",
    "POST /v1/incidents/{incident_id}/status": "forward only; reported needs a classification",
}


def run_operation(
    operation: Any, mode: schemathesis.GenerationMode, headers: dict[str, str]
) -> None:
    excluded = []
    if operation.label in SEMANTIC_VALIDATION:
        excluded.append(schemathesis.checks.positive_data_acceptance)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases every run: CI stays reproducible
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    check()


def test_every_operation_keeps_its_contract(settings: Settings, tenant: Tenant) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        over_budget_model(client, tenant)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document is a valid OpenAPI schema
        operation = result.ok()
        operations += 1
        for mode in schemathesis.GenerationMode:
            try:
                run_operation(operation, mode, tenant.headers())
            except Unsatisfiable:
                # No parameters and no body: there is no invalid request to make.
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as failure:  # one report for all
                failures[f"{operation.label} [{mode.value}]"] = str(failure)[:3000]
    assert operations > 40
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
