"""torch.export programs as artifacts: accepted and explained exactly as the same
model in TorchScript, and refused, without running anything, wherever loading them
could run code (pickled weights, constants or sample inputs, foreign call targets,
the old archive layout) or where the batch size is fixed."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.api.roles import Role
from backend.catalog import export_artifacts
from backend.catalog.artifacts import artifact_format, load_model
from backend.errors import InvalidInput
from tests.factories import (
    SCHEMA,
    Tenant,
    record,
    register_model,
    tiny_export,
    tiny_torchscript,
)
from tests.support.timeline import at, window

CSV = "f_num_a,f_num_b,color,group\n" + "".join(
    f"{i},{i / 2},{['red', 'green', 'blue'][i % 3]},g{i % 2}\n" for i in range(60)
)


def rewritten(data: bytes, change: Callable[[str, bytes], bytes]) -> bytes:
    """The archive with each entry passed through ``change(name, content)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, change(info.filename, source.read(info.filename)))
    return out.getvalue()


class Marker:
    """A pickle that, if ever unpickled, creates a file: proof that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def test_formats_are_told_apart_and_load_alike() -> None:
    import torch

    exported, scripted = tiny_export(), tiny_torchscript()
    assert artifact_format(exported) == "torch.export"
    assert artifact_format(scripted) == "torchscript"
    rows = torch.randn(7, 3)
    with torch.no_grad():
        a = load_model(exported)(rows)
        b = load_model(scripted)(rows)
    assert torch.allclose(a, b, atol=1e-6)


def test_explanations_are_equal_on_both_formats(client: TestClient, tenant: Tenant) -> None:
    admin = tenant.headers()
    register_model(client, tenant)
    client.post(
        "/v1/models/churn/versions",
        json={**SCHEMA, "version": "v2"},
        headers=admin,
    ).raise_for_status()
    for version, artifact in (("v1", tiny_torchscript()), ("v2", tiny_export())):
        put = client.put(
            f"/v1/models/churn/versions/{version}/artifact",
            content=artifact,
            headers={**admin, "Content-Type": "application/octet-stream"},
        )
        assert put.status_code == 201, put.text
        client.post(
            f"/v1/models/churn/versions/{version}/references?name=training",
            content=CSV.encode(),
            headers={**admin, "Content-Type": "text/csv"},
        ).raise_for_status()
        client.post(
            "/v1/predictions",
            json={
                "records": [
                    record(i, version=version, event_id=f"same-{version}-{i}") for i in range(12)
                ]
            },
            headers=admin,
        ).raise_for_status()
    answers = [
        client.get(f"/v1/predictions/same-{v}-7/explanation", headers=tenant.headers(Role.VIEWER))
        for v in ("v1", "v2")
    ]
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    scripted, exported = (a.json() for a in answers)
    assert scripted["attributions"].keys() == exported["attributions"].keys()
    for name, value in scripted["attributions"].items():
        assert exported["attributions"][name] == pytest.approx(value, abs=1e-6)
    assert exported["base_value"] == pytest.approx(scripted["base_value"], abs=1e-6)
    # The scheduled explain check too: the same importances from either format.
    importances = []
    for version in ("v1", "v2"):
        monitor = client.post(
            f"/v1/models/churn/versions/{version}/monitors",
            json={
                "name": "explain",
                "kind": "explain",
                "params": {"method": "exact", "max_rows": 12, "background_size": 20},
                "window": window(at(0), at(days=1)),
            },
            headers=admin,
        ).json()
        run = client.post(f"/v1/monitors/{monitor['id']}/run", headers=admin).json()["run"]
        assert run["status"] in ("ok", "alert"), run
        importances.append(run["result"]["importance"])
    assert importances[0].keys() == importances[1].keys()
    for name, value in importances[0].items():
        assert importances[1][name] == pytest.approx(value, abs=1e-6)
    events = client.get(
        "/v1/audit", params={"action": "model_version.artifact_upload"}, headers=admin
    ).json()["items"]
    assert {e["payload"]["format"] for e in events} == {"torchscript", "torch.export"}
    formats = {
        v: client.get(f"/v1/models/churn/versions/{v}", headers=admin).json()["artifact"]["format"]
        for v in ("v1", "v2")
    }
    assert formats == {"v1": "torchscript", "v2": "torch.export"}


def test_a_fixed_batch_size_is_refused_with_the_fix(client: TestClient, tenant: Tenant) -> None:
    register_model(client, tenant)
    put = client.put(
        "/v1/models/churn/versions/v1/artifact",
        content=tiny_export(dynamic_batch=False),
        headers={**tenant.headers(), "Content-Type": "application/octet-stream"},
    )
    assert put.status_code == 422
    assert "dynamic batch dimension" in put.json()["detail"]


def test_pickled_payloads_are_refused_before_anything_is_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = pickle.dumps(Marker(marker))

    def pickled_sample_inputs(name: str, content: bytes) -> bytes:
        return payload if "/sample_inputs/" in name else content

    def pickled_weight(name: str, content: bytes) -> bytes:
        if name.endswith("model_weights_config.json"):
            config = json.loads(content)
            first = next(iter(config["config"].values()))
            first["use_pickle"] = True
            return json.dumps(config).encode()
        return content

    def opaque_constant(name: str, content: bytes) -> bytes:
        if name.endswith("model_constants_config.json"):
            return json.dumps(
                {"config": {"x": {"path_name": "opaque_obj_0", "use_pickle": False}}}
            ).encode()
        return content

    cases = {
        "sample inputs": (pickled_sample_inputs, "sample inputs"),
        "weight": (pickled_weight, "as a pickle"),
        "constant": (opaque_constant, "as an object"),
    }
    for label, (change, message) in cases.items():
        with pytest.raises(InvalidInput, match=message):
            export_artifacts.load(rewritten(tiny_export(), change))
        assert not marker.exists(), f"{label}: the pickle ran"


def test_foreign_call_targets_and_old_layouts_are_refused() -> None:
    def calls(target: str) -> Callable[[str, bytes], bytes]:
        def change(name: str, content: bytes) -> bytes:
            if name.endswith("/models/model.json"):
                return content.replace(b"torch.ops.aten.relu.default", target.encode())
            return content

        return change

    for target in ("torch.save", "builtins.exec", "torch.ops.aten.from_file.default"):
        with pytest.raises(InvalidInput, match="only ATen operators"):
            export_artifacts.inspect(rewritten(tiny_export(), calls(target)))

    def old_layout(name: str, content: bytes) -> bytes:
        return b"zip" if name.endswith("/archive_format") else content

    with pytest.raises(InvalidInput, match="current format"):
        export_artifacts.inspect(rewritten(tiny_export(), old_layout))


def test_a_refused_program_upload_is_a_422_and_stores_nothing(
    client: TestClient, tenant: Tenant, tmp_path: Path
) -> None:
    register_model(client, tenant)
    marker = tmp_path / "ran"
    payload = pickle.dumps(Marker(marker))
    bad = rewritten(tiny_export(), lambda n, c: payload if "/sample_inputs/" in n else c)
    put = client.put(
        "/v1/models/churn/versions/v1/artifact",
        content=bad,
        headers={**tenant.headers(), "Content-Type": "application/octet-stream"},
    )
    assert put.status_code == 422
    assert "sample inputs" in put.json()["detail"]
    assert not marker.exists()
    version = client.get("/v1/models/churn/versions/v1", headers=tenant.headers()).json()
    assert version["artifact"] is None
