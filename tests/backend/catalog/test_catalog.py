import io
import json
import pickle
from typing import Any

import pandas as pd
import pytest

from backend.api.roles import Role
from tests.factories import SCHEMA, counts, register_model, tiny_torchscript


def test_register_model_and_version(client, tenant):
    version = register_model(client, tenant)
    assert version["task"] == "binary"
    assert version["class_labels"] == [0, 1]
    assert version["positive_class"] == 1
    assert [f["name"] for f in version["features"]] == ["f_num_a", "f_num_b", "color", "group"]
    assert version["artifact"] is None
    listed = client.get("/v1/models", headers=tenant.headers(Role.VIEWER)).json()
    assert [m["name"] for m in listed] == ["churn"]
    got = client.get("/v1/models/churn/versions/v1", headers=tenant.headers(Role.VIEWER))
    assert got.status_code == 200
    assert got.json()["cost_profile"]["price_per_cpu_second"] == 0.0001


def test_duplicate_model_and_version_are_conflicts(client, tenant):
    register_model(client, tenant)
    again = client.post(
        "/v1/models", json={"name": "churn", "task": "binary"}, headers=tenant.headers()
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    again = client.post("/v1/models/churn/versions", json=SCHEMA, headers=tenant.headers())
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("task", "patch", "field"),
    [
        ("regression", {"class_labels": [0, 1]}, "class_labels"),
        ("multiclass", {"class_labels": None}, "class_labels"),
        ("binary", {"class_labels": ["a", "b", "c"]}, "class_labels"),
        ("binary", {"positive_class": 7}, "positive_class"),
        (
            "binary",
            {"features": [{"name": "x", "dtype": "numeric"}, {"name": "x", "dtype": "numeric"}]},
            "features",
        ),
        ("binary", {"features": [{"name": "c", "dtype": "categorical"}]}, "features"),
        ("binary", {"features": [{"name": "label", "dtype": "numeric"}]}, "features"),
    ],
)
def test_invalid_version_schemas_are_422_naming_the_field(client, tenant, task, patch, field):
    client.post("/v1/models", json={"name": "m", "task": task}, headers=tenant.headers())
    response = client.post(
        "/v1/models/m/versions", json={**SCHEMA, **patch}, headers=tenant.headers()
    )
    assert response.status_code == 422, response.text
    assert field in json.dumps(response.json()["errors"])


def test_unknown_model_is_404(client, tenant):
    response = client.get("/v1/models/nope/versions/v1", headers=tenant.headers())
    assert response.status_code == 404
    assert response.json()["detail"] == "no model named 'nope'"


def test_torchscript_artifact_is_stored_with_its_sha256(client, tenant, settings):
    register_model(client, tenant)
    data = tiny_torchscript(3)
    url = "/v1/models/churn/versions/v1/artifact"
    headers = {**tenant.headers(), "Content-Type": "application/octet-stream"}
    response = client.put(url, content=data, headers=headers)
    assert response.status_code == 201, response.text
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    assert response.json()["artifact"]["sha256"] == digest
    stored = settings.resolved_artifact_dir / f"projects/{tenant.project_id}/artifacts/{digest}.pt"
    assert stored.read_bytes() == data
    assert client.put(url, content=data, headers=headers).status_code == 200
    other = client.put(url, content=tiny_torchscript(3) + b"", headers=headers)
    assert other.status_code == 200  # same bytes: deterministic seed
    different = client.put(url, content=_torchscript_with_seed(3, seed=5), headers=headers)
    assert different.status_code == 409


def _torchscript_with_seed(n, seed):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(nn.Linear(n, 1)), buffer)
    return buffer.getvalue()


class _Boom:
    def __reduce__(self):
        return (open, ("/tmp/verity-pickle-executed", "w"))


def test_pickles_are_never_unpickled(client, tenant, tmp_path):
    import os

    import torch

    register_model(client, tenant)
    headers = {**tenant.headers(), "Content-Type": "application/octet-stream"}
    url = "/v1/models/churn/versions/v1/artifact"
    if os.path.exists("/tmp/verity-pickle-executed"):
        os.remove("/tmp/verity-pickle-executed")
    for payload in (pickle.dumps(_Boom()), _torch_save_bytes(torch.nn.Linear(3, 1)), b"", b"junk"):
        response = client.put(url, content=payload, headers=headers)
        assert response.status_code == 422, response.text
    assert not os.path.exists("/tmp/verity-pickle-executed")
    version = client.get("/v1/models/churn/versions/v1", headers=tenant.headers()).json()
    assert version["artifact"] is None


def _torch_save_bytes(module):
    import torch

    buffer = io.BytesIO()
    torch.save(module, buffer)
    return buffer.getvalue()


def test_artifact_of_the_wrong_width_is_refused(client, tenant):
    register_model(client, tenant)
    response = client.put(
        "/v1/models/churn/versions/v1/artifact",
        content=tiny_torchscript(7),
        headers={**tenant.headers(), "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 422
    assert "shape (batch, 3)" in response.json()["detail"]


def _reference_frame():
    return pd.DataFrame(
        {
            "f_num_a": [1.0, 2.5, None],
            "f_num_b": [3, 4, 5],
            "color": ["red", "blue", "green"],
            "group": ["g1", "g2", "g1"],
            "prediction": [0, 1, 1],
            "score": [0.1, 0.8, 0.7],
            "label": [0, 1, 0],
        }
    )


def test_reference_dataset_hash_is_the_same_for_csv_parquet_and_json(client, tenant):
    register_model(client, tenant)
    frame = _reference_frame()
    url = "/v1/models/churn/versions/v1/references"
    parquet = io.BytesIO()
    frame.to_parquet(parquet)
    bodies = [
        ("text/csv", frame.to_csv(index=False).encode()),
        ("application/vnd.apache.parquet", parquet.getvalue()),
        (
            "application/json",
            json.dumps({"rows": json.loads(frame.to_json(orient="records"))}).encode(),
        ),
    ]
    hashes = []
    for index, (content_type, body) in enumerate(bodies):
        response = client.post(
            url, content=body, headers={**tenant.headers(), "Content-Type": content_type}
        )
        assert response.status_code == (201 if index == 0 else 200), response.text
        hashes.append(response.json()["content_sha256"])
        assert response.json()["row_count"] == 3
    assert len(set(hashes)) == 1
    listed = client.get(url, headers=tenant.headers(Role.VIEWER)).json()
    assert len(listed) == 1


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda f: f.drop(columns=["color"]), "missing"),
        (lambda f: f.assign(extra=1), "not in the version's schema"),
        (lambda f: f.assign(f_num_a=["x", 1, 2]), "not a number"),
        (lambda f: f.assign(f_num_b=[1.0, float("inf"), 2.0]), "infinite"),
        (lambda f: f.assign(prediction=[0, 1, 5]), "not one of the classes"),
        (lambda f: f.assign(score=[0.1, 1.5, 0.2]), "outside [0, 1]"),
        (lambda f: f.iloc[0:0], "no rows"),
    ],
)
def test_invalid_reference_datasets_are_refused(client, tenant, mutate, expected):
    register_model(client, tenant)
    body = mutate(_reference_frame()).to_csv(index=False).encode()
    before = counts_refs(client, tenant)
    response = client.post(
        "/v1/models/churn/versions/v1/references",
        content=body,
        headers={**tenant.headers(), "Content-Type": "text/csv"},
    )
    assert response.status_code == 422, response.text
    assert expected in response.text
    assert counts_refs(client, tenant) == before


def counts_refs(client, tenant):
    return len(
        client.get("/v1/models/churn/versions/v1/references", headers=tenant.headers()).json()
    )


def test_reference_with_unknown_content_type_is_415(client, tenant, database):
    register_model(client, tenant)
    before = counts(database, tenant.project_id)
    response = client.post(
        "/v1/models/churn/versions/v1/references",
        content=b"<xml/>",
        headers={**tenant.headers(), "Content-Type": "application/xml"},
    )
    assert response.status_code == 415
    assert counts(database, tenant.project_id) == before


# --- uploads that could stall the API (outside attack, finding 7) -------------------


def _scripted(module: Any) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buffer)
    return buffer.getvalue()


@pytest.fixture
def strict_uploads(settings):
    from fastapi.testclient import TestClient

    from backend.config import IngestSettings, UploadSettings
    from backend.main import create_app

    tight = settings.model_copy(
        update={
            "uploads": UploadSettings(
                sandbox_seconds=3, sandbox_memory_bytes=1024**3, max_reference_rows=100_000
            ),
            "ingest": IngestSettings(max_upload_bytes=1024**2),
        }
    )
    with TestClient(create_app(tight), raise_server_exceptions=False) as client:
        yield client


def test_a_model_that_loops_is_a_clear_422(strict_uploads, tenant):
    import torch

    class Loops(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = x
            for _ in range(1_000_000_000):
                y = y + 1
            return y

    register_model(strict_uploads, tenant)
    answer = strict_uploads.put(
        "/v1/models/churn/versions/v1/artifact",
        content=_scripted(Loops()),
        headers={**tenant.headers(), "Content-Type": "application/octet-stream"},
    )
    assert answer.status_code == 422, answer.text
    assert "took more than 3 s" in answer.json()["detail"]
    assert strict_uploads.get("/healthz").status_code == 200


def test_a_model_that_allocates_without_bound_is_a_clear_422(strict_uploads, tenant):
    import torch

    class Hog(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.ones(4_000_000_000)[: x.shape[0]].unsqueeze(1) + x

    register_model(strict_uploads, tenant)
    answer = strict_uploads.put(
        "/v1/models/churn/versions/v1/artifact",
        content=_scripted(Hog()),
        headers={**tenant.headers(), "Content-Type": "application/octet-stream"},
    )
    assert answer.status_code == 422, answer.text
    assert "needed more than 1024 MiB" in answer.json()["detail"]


def test_an_archive_that_unpacks_past_the_limit_is_refused_unopened(strict_uploads, tenant):
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model/data.pkl", b"\0" * (8 * 1024**2))
    bomb = buffer.getvalue()
    assert len(bomb) < 64 * 1024
    register_model(strict_uploads, tenant)
    answer = strict_uploads.put(
        "/v1/models/churn/versions/v1/artifact",
        content=bomb,
        headers={**tenant.headers(), "Content-Type": "application/octet-stream"},
    )
    assert answer.status_code == 413, answer.text
    assert "unpacks to 8388608 bytes" in answer.json()["detail"]


def test_a_small_parquet_of_many_rows_is_refused_from_its_metadata(strict_uploads, tenant):
    frame = pd.DataFrame(
        {"f_num_a": [1.0] * 200_000, "f_num_b": 2.0, "color": "red", "group": "g1"}
    )
    parquet = io.BytesIO()
    frame.to_parquet(parquet)
    assert len(parquet.getvalue()) < 64 * 1024
    register_model(strict_uploads, tenant)
    answer = strict_uploads.post(
        "/v1/models/churn/versions/v1/references",
        content=parquet.getvalue(),
        headers={**tenant.headers(), "Content-Type": "application/vnd.apache.parquet"},
    )
    assert answer.status_code == 413, answer.text
    assert "200000 rows; at most 100000" in answer.json()["detail"]
    csv = b"f_num_a,f_num_b,color,group\n" + b"1,2,r,g\n" * 100_001
    answer = strict_uploads.post(
        "/v1/models/churn/versions/v1/references",
        content=csv,
        headers={**tenant.headers(), "Content-Type": "text/csv"},
    )
    assert answer.status_code == 413, answer.text
    assert "100001 rows; at most 100000" in answer.json()["detail"]
