"""The Argo Rollouts AnalysisTemplate in docs/release-governance.md, evaluated as
Argo's web metric provider would: its jsonPath applied to the real gate endpoint's
JSON, and its successCondition to the value found."""

from __future__ import annotations

import operator
import re
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from backend.api.roles import Role
from tests.factories import Tenant, register_model

DOC = Path(__file__).parents[3] / "docs" / "release-governance.md"


def template() -> dict[str, Any]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    found = [yaml.safe_load(b) for b in blocks if "kind: AnalysisTemplate" in b]
    assert len(found) == 1
    return dict(found[0])


def json_path(expression: str, document: Any) -> Any:
    """Argo's jsonPath as the template uses it: ``{$.a.b}`` (dotted keys)."""
    match = re.fullmatch(r"\{\$((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\}", expression)
    assert match, f"an expression this test does not evaluate: {expression}"
    for key in match.group(1).strip(".").split("."):
        document = document[key]
    return document


def success(condition: str, result: Any) -> bool:
    """``result <op> literal``, the form Argo's expr conditions take here."""
    match = re.fullmatch(r"result\s*(==|!=|>=|<=|>|<)\s*(true|false|[0-9.]+)", condition.strip())
    assert match, f"a condition this test does not evaluate: {condition}"
    op, literal = match.groups()
    value: Any = {"true": True, "false": False}.get(literal)
    if value is None:
        value = float(literal)
    ops = {"==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le,
           ">": operator.gt, "<": operator.lt}  # fmt: skip
    return bool(ops[op](result, value))


def test_the_documented_template_reads_the_real_gate(client: TestClient, tenant: Tenant) -> None:
    metric = template()["spec"]["metrics"][0]
    assert metric["failureLimit"] == 0
    web = metric["provider"]["web"]
    assert web["url"].endswith("/v1/models/{{args.model}}/versions/{{args.version}}/gate")
    register_model(client, tenant)
    policy = {"conditions": [{"kind": "no_open_alerts", "severity": "critical"}]}
    assert client.put("/v1/models/churn/gate-policy", json=policy,
                      headers=tenant.headers()).status_code == 200  # fmt: skip
    url = web["url"].replace("https://verity.example.com", "").replace(
        "{{args.model}}", "churn").replace("{{args.version}}", "v1")  # fmt: skip
    headers = {h["key"]: h["value"].replace("{{args.verity-key}}", tenant.tokens[Role.VIEWER])
               for h in web["headers"]}  # fmt: skip
    assert client.get(url, headers=headers).status_code == 404  # nothing evaluated yet
    assert client.post(url, headers=headers).status_code == 201
    answer = client.get(url, headers=headers)
    assert answer.status_code == 200
    assert success(metric["successCondition"], json_path(web["jsonPath"], answer.json()))
    # A failing gate fails the measurement.
    failing = {"conditions": [{"monitor": "m", "metric": "share_drifted", "op": "<",
                               "threshold": 0.3}]}  # fmt: skip
    client.post("/v1/models/churn/versions/v1/monitors", headers=tenant.headers(),
                json={"name": "m", "kind": "drift", "window": {"duration": "1d"},
                      "schedule": {"every": "1d"}, "reference": {"kind": "first_week"}})  # fmt: skip
    assert client.put("/v1/models/churn/gate-policy", json=failing,
                      headers=tenant.headers()).status_code == 200  # fmt: skip
    client.post(url, headers=headers)
    answer = client.get(url, headers=headers).json()
    assert answer["conditions"][0]["why"] == "monitor 'm' has no completed run"
    assert not success(metric["successCondition"], json_path(web["jsonPath"], answer))
