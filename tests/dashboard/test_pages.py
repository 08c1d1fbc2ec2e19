"""Every page of the dashboard, run by Streamlit's AppTest against the live API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from backend.api.roles import Role
from tests.dashboard.conftest import Loaded

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def signed_in(loaded: Loaded, role: Role = Role.COMPLIANCE) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    assert app.title[0].value == "Verity"
    app.text_input(key="url").input(loaded.url)
    app.text_input(key="key").input(loaded.tenant.tokens[role])
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert "api" in app.session_state
    return app


def open_page(app: AppTest, page: str) -> AppTest:
    app.radio(key="page").set_value(page).run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert app.header[0].value == page
    return app


def charts(app: AppTest) -> list[Any]:
    return list(app.get("plotly_chart"))


def test_sign_in_refuses_a_bad_key(loaded):
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    app.text_input(key="url").input(loaded.url)
    app.text_input(key="key").input("vt_nope_nope")
    app.button[0].click().run()
    assert "api" not in app.session_state
    assert "Sign-in failed" in app.error[0].value


def test_overview(loaded):
    app = open_page(signed_in(loaded), "Overview")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Models"] >= "1"
    assert int(metrics["Open critical alerts"]) + int(metrics["Open warning alerts"]) >= 1
    statuses = app.dataframe[0].value
    assert {"drift", "bias", "explain", "cost"} <= set(statuses["check"])
    assert len(charts(app)) == 1  # ingest volume


def test_drift(loaded):
    app = open_page(signed_in(loaded), "Drift")
    table = app.dataframe[0].value
    drifted = set(table.loc[table["drifted"] == "yes", "column"])
    assert "x2" in drifted and "x1" not in drifted
    assert set(table["test"]) <= {"ks", "chisquare", "wasserstein", "jensenshannon", "z"}
    assert len(charts(app)) == 2  # scores over time, reference vs current
    assert app.selectbox(key="drift-feature").value == "x2"
    assert "Evidently HTML report" in app.get("download_button")[0].proto.label


def test_performance_and_data_quality(loaded):
    app = open_page(signed_in(loaded), "Performance")
    assert app.selectbox(key="performance-metric").value == "accuracy"  # the declared one
    assert app.selectbox(key="performance-segment").value == "whole window"
    realized_and_estimated, coverage = charts(app)
    traces = {
        t["name"]
        for t in realized_and_estimated.proto.spec
        and __import__("json").loads(realized_and_estimated.proto.spec)["data"]
    }
    assert {"realized (labels)", "estimated (no labels)", "estimate ±3 SE"} <= traces
    layout = __import__("json").loads(realized_and_estimated.proto.spec)["layout"]
    assert any(a["text"] == "declared 0.6" for a in layout.get("annotations", []))
    assert coverage is not None
    side_by_side, quality = app.dataframe[0].value, app.dataframe[1].value
    assert {"accuracy", "roc_auc", "f1"} <= set(side_by_side["metric"])
    row = side_by_side.set_index("metric").loc["accuracy"]
    assert row["estimation error"] == row["estimated"] - row["realized"]
    assert set(quality["feature"]) == {"x1", "x2", "x3", "x4", "group"}


def test_governance_shows_gates_and_gates_actions_by_role(loaded):
    app = open_page(signed_in(loaded), "Governance")
    versions, gate = app.dataframe[0].value, app.dataframe[1].value
    assert versions.set_index("version").loc["v1", "stage"] == "candidate"
    bias = gate.set_index("condition").loc["bias.demographic_parity_ratio >= 0.8"]
    assert bias["passed"] == "NO" and bias["run"].startswith("#")
    assert "approve" in app.selectbox(key="governance-action").options
    app.text_input(key="governance-person").input("Bo")
    app.text_area(key="governance-reason").input("looks right")
    submit = next(b for b in app.button if b.label == "Submit")
    submit.click().run()  # approving a version whose gate failed
    assert any("Refused" in e.value and "failed" in e.value for e in app.error), (
        [e.value for e in app.error],
        [b.label for b in app.button],
        [s.value for s in app.success],
    )
    viewer = open_page(signed_in(loaded, Role.VIEWER), "Governance")
    assert not viewer.get("selectbox") or all(
        s.key != "governance-action" for s in viewer.selectbox
    )


def test_governance_compares_challenger_with_champion(loaded):
    app = open_page(signed_in(loaded), "Governance")
    app.selectbox(key="governance-model").set_value("scoring").run()
    app.selectbox(key="governance-version").set_value("v2").run()
    assert any(s.value.startswith("Challenger v2 against champion v1") for s in app.subheader)
    table = next(d.value for d in app.dataframe if "figure" in d.value.columns)
    figures = table.set_index("figure")
    assert figures.loc["agreement rate", "delta"] == 0.875
    assert figures.loc["latency p95 (ms)", "delta"] == 2.0
    assert "demographic parity difference (group)" in figures.index


def test_review_queue_one_item_at_a_time(loaded):
    app = open_page(signed_in(loaded, Role.REVIEWER), "Review queue")
    before = {m.label: m.value for m in app.metric}
    assert int(before["Pending"]) == 5
    app.button(key="review-claim").click().run()
    assert not app.exception, app.exception
    assert app.subheader[0].value.startswith("Prediction rev-")
    inputs, attributions = app.dataframe[0].value, app.dataframe[1].value
    assert "x1" in set(inputs["feature"]) and "x1" in set(attributions["feature"])
    app.text_input(key="review-reason").input("the score is borderline; the inputs agree")
    next(b for b in app.button if b.label == "Decide (Enter)").click().run()
    assert any("stored as the label" in s.value for s in app.success), (
        [e.value for e in app.error],
        [b.label for b in app.button],
        app.exception,
    )
    after = {m.label: m.value for m in app.metric}
    assert int(after["Pending"]) == 4


def test_incidents_show_the_deadline_and_timeline(loaded):
    app = open_page(signed_in(loaded), "Incidents")
    table = app.dataframe[0].value
    row = table.set_index("title").loc["group B refused more often"]
    assert row["classification"] == "serious_incident"
    assert row["countdown"].endswith("days left") and float(row["countdown"].split()[0]) > 14
    timeline = app.dataframe[1].value
    assert list(timeline["what"])[:2] == ["opened", "alert_linked"]
    assert app.get("download_button")[0].proto.label == "Incident report (PDF)"


def test_fairness(loaded):
    app = open_page(signed_in(loaded), "Fairness")
    overall = app.dataframe[0].value
    assert overall["rows"].iloc[0] > 0 and 0 < overall["selection rate"].iloc[0] < 1
    summary = app.dataframe[1].value
    assert "FAILED" in set(summary["four-fifths rule"])
    assert "group=B" in " ".join(summary["worst group"])
    assert any("four-fifths" in a for a in summary["alert"])
    groups = app.dataframe[2].value
    assert set(groups["group"]) == {"group=A", "group=B"}
    assert len(charts(app)) >= 1


def test_explanations_and_one_decision(loaded):
    app = open_page(signed_in(loaded), "Explanations")
    assert len(charts(app)) >= 1  # global importance
    app.text_input(key="explain-event").input(loaded.event_id).run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert app.dataframe[0].value.columns.tolist()[:4] == ["x1", "x2", "x3", "x4"]
    assert len(charts(app)) >= 2  # plus the attribution chart
    assert any("Shapley values" in c.value for c in app.caption)


def test_cost(loaded):
    app = open_page(signed_in(loaded), "Cost")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Cost per 1k predictions"] != "–"
    assert len(charts(app)) >= 2


def test_alerts_acknowledge_and_resolve_are_role_gated(loaded):
    viewer = open_page(signed_in(loaded, Role.VIEWER), "Alerts")
    assert any("compliance or admin" in i.value for i in viewer.info)
    app = open_page(signed_in(loaded), "Alerts")
    app.selectbox(key="alerts-state").set_value("any").run()
    table = app.dataframe[0].value
    assert "investigating the shift" in set(table["comment"])
    app.selectbox(key="alerts-state").set_value("open").run()
    assert not app.dataframe[0].value.empty, "the fixture leaves open alerts to handle"
    app.text_area(key="alerts-comment").input("retrained on the new data")
    resolve = next(b for b in app.button if b.label == "Resolve")
    resolve.click().run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]


def test_audit_trail_verify_and_lineage(loaded):
    app = open_page(signed_in(loaded), "Audit trail")
    events = app.dataframe[0].value
    assert "check_run.record" in set(events["action"])
    app.button(key="audit-verify").click().run()
    assert any("Chain intact" in s.value for s in app.success)
    app.number_input(key="audit-run").set_value(loaded.run_id).run()
    lineage = app.table[0].value
    fields = dict(zip(lineage["field"], lineage["value"], strict=True))
    assert len(fields["window SHA-256"]) == 64
    viewer = open_page(signed_in(loaded, Role.VIEWER), "Audit trail")
    assert any("compliance or admin" in w.value for w in viewer.warning)


def test_evidence_export(loaded):
    app = open_page(signed_in(loaded), "Evidence export")
    app.button(key="evidence-build").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert any("manifest SHA-256" in s.value for s in app.success)
    assert any("verify-pack" in c.value for c in app.code)
