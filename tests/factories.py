"""Plain factory functions for test data."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.api.actor import cli_actor
from backend.api.roles import Role
from backend.auth import service as auth_service
from backend.auth.schemas import ApiKeyCreate
from backend.config import Settings
from backend.db import Database
from backend.models import AuditEvent, Label, Prediction
from tests.support.timeline import at, window


@dataclass
class Tenant:
    project_id: int
    name: str
    tokens: dict[Role, str] = field(default_factory=dict)

    def headers(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_tenant(database: Database, settings: Settings) -> Tenant:
    name = f"p-{uuid.uuid4().hex[:10]}"
    with database.transaction() as session:
        project = auth_service.get_or_create_project(session, name=name, actor_label="test")
        tenant = Tenant(project_id=project.id, name=name)
        for role in Role:
            _, token = auth_service.create_key(
                session,
                actor=cli_actor(project.id, "test"),
                key_in=ApiKeyCreate(name=f"{role.value}-key", role=role),
                server_secret=settings.secret_key,
            )
            tenant.tokens[role] = token
    return tenant


NUMERIC = ["f_num_a", "f_num_b"]
SCHEMA: dict[str, Any] = {
    "version": "v1",
    "features": [
        {"name": "f_num_a", "dtype": "numeric"},
        {"name": "f_num_b", "dtype": "numeric"},
        {"name": "color", "dtype": "categorical", "categories": ["red", "green", "blue"]},
        {"name": "group", "dtype": "categorical", "sensitive": True, "model_input": False},
    ],
    "class_labels": [0, 1],
    "cost_profile": {"price_per_cpu_second": 0.0001},
}


def register_model(
    client: TestClient,
    tenant: Tenant,
    *,
    name: str = "churn",
    task: str = "binary",
    version: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = client.post(
        "/v1/models", json={"name": name, "task": task}, headers=tenant.headers()
    )
    assert response.status_code == 201, response.text
    response = client.post(
        f"/v1/models/{name}/versions", json=version or SCHEMA, headers=tenant.headers()
    )
    assert response.status_code == 201, response.text
    return response.json()


def record(
    i: int, *, model: str = "churn", version: str = "v1", **overrides: Any
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": f"evt-{i}",
        "model": model,
        "version": version,
        "occurred_at": at(i).isoformat(),
        "features": {"f_num_a": float(i), "f_num_b": i * 0.5, "color": "red", "group": "g1"},
        "prediction": i % 2,
        "score": 0.9 if i % 2 else 0.1,
        "latency_ms": 3.5,
        "compute_seconds": 0.002,
        "tags": {"region": "eu"},
    }
    base.update(overrides)
    return base


def counts(database: Database, project_id: int) -> dict[str, int]:
    with database.transaction(read_only=True) as session:

        def count(model: Any) -> int:
            return (
                session.scalar(
                    select(func.count()).select_from(model).where(model.project_id == project_id)
                )
                or 0
            )

        return {
            "predictions": count(Prediction),
            "labels": count(Label),
            "audit": count(AuditEvent),
        }


def tiny_model(n_inputs: int = 3) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(n_inputs, 4), nn.ReLU(), nn.Linear(4, 1)).eval()


def tiny_export(n_inputs: int = 3, *, dynamic_batch: bool = True) -> bytes:
    """The same model as ``tiny_torchscript``, as a torch.export program."""
    import torch

    shapes = ({0: torch.export.Dim("batch")},) if dynamic_batch else None
    program = torch.export.export(
        tiny_model(n_inputs), (torch.zeros(2, n_inputs),), dynamic_shapes=shapes
    )
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()


def tiny_torchscript(n_inputs: int = 3) -> bytes:
    import torch

    module = torch.jit.script(tiny_model(n_inputs))
    buffer = io.BytesIO()
    torch.jit.save(module, buffer)
    return buffer.getvalue()


# A cost monitor on the hour before each hourly run.
HOURLY_COST_MONITOR = {
    "name": "hourly-cost",
    "kind": "cost",
    "params": {"price_per_1k_predictions": 1.0},
    "window": {"duration": "1h"},
    "schedule": {"every": "1h"},
}

# A cost monitor over the factory records' day (DAY0) whose tiny budget raises an alert.
OVER_BUDGET_MONITOR = {
    "name": "cost",
    "kind": "cost",
    "params": {"price_per_1k_predictions": 1000, "budget": 0.001, "budget_period": "day"},
    "window": window(at(0), at(days=1)),
    "schedule": {"every": "1h"},
    "alert_on": "alert",
}


def over_budget_model(
    client: TestClient, tenant: Tenant, *, rows: int = 50, channels: Sequence[dict[str, Any]] = ()
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The churn model with ``rows`` predictions on DAY0 (one a minute), the given notification
    channels and OVER_BUDGET_MONITOR, whose run opens an alert. Returns the monitor
    and the created channels."""
    register_model(client, tenant)
    answer = client.post(
        "/v1/predictions",
        json={"records": [record(i) for i in range(rows)]},
        headers=tenant.headers(),
    )
    assert answer.status_code == 200, answer.text
    created = []
    for channel in channels:
        answer = client.post("/v1/channels", json=channel, headers=tenant.headers())
        assert answer.status_code == 201, answer.text
        created.append(answer.json())
    answer = client.post(
        "/v1/models/churn/versions/v1/monitors", json=OVER_BUDGET_MONITOR, headers=tenant.headers()
    )
    assert answer.status_code == 201, answer.text
    return answer.json(), created


def webhook(url: str) -> dict[str, Any]:
    return {"name": "hook", "kind": "webhook", "url": url}
