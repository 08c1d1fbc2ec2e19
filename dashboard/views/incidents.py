"""Incidents (EU AI Act Art. 73): each with its reporting deadline counting down, its
classification and status, its timeline; compliance reclassifies, moves the status
and adds notes; the PDF report downloads."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.api import ApiError, VerityApi
from dashboard.schemas import WhoAmI
from dashboard.ui import call, can, paged, when

CLASSES = ["unclassified", "serious_incident", "death", "widespread_or_critical_infrastructure",
           "not_reportable"]  # fmt: skip


def _countdown(incident: dict) -> str:
    left = incident.get("seconds_left")
    if left is None:
        return "no deadline"
    if incident["status"] in ("reported", "closed"):
        return "reported"
    if left < 0:
        return f"OVERDUE by {-left / 86400:.1f} days"
    return f"{left / 86400:.1f} days left"


def render(api: VerityApi, me: WhoAmI) -> None:
    st.header("Incidents")
    found = call("incidents", api.incidents)
    if found is None:
        return
    if not found:
        st.info("No incident has been opened.")
        return
    st.dataframe(pd.DataFrame([
        {"id": i["id"], "model": f"{i['model']} {i['version']}", "title": i["title"],
         "classification": i["classification"], "status": i["status"],
         "report due (UTC)": when(i["deadline_at"]), "countdown": _countdown(i)}
        for i in found]), hide_index=True)  # fmt: skip
    options = {f"#{i['id']} {i['title']}": i for i in found}
    incident = options[st.selectbox("Incident", list(options), key="incident-pick")]
    st.subheader(f"#{incident['id']} · {_countdown(incident)}")
    st.markdown(f"**{incident['classification'].replace('_', ' ')}** · {incident['status']} · "
                f"aware since {when(incident['aware_at'])} UTC")  # fmt: skip
    paged(pd.DataFrame([{"at (UTC)": when(e["at"]), "who": e["actor"], "what": e["kind"],
                         "detail": e["text"], "run": e["run_id"] or ""}
                        for e in incident["timeline"]]), "incident-timeline")  # fmt: skip
    pdf = call("the report", lambda: api.incident_report(incident["id"]))
    if pdf:
        st.download_button("Incident report (PDF)", pdf, file_name=f"incident-{incident['id']}.pdf",
                           mime="application/pdf", key="incident-pdf")  # fmt: skip
    if not can(me, "incidents:manage"):
        return
    with st.form("incident-act", clear_on_submit=True):
        action = st.selectbox("Action", ["add a note", "classify", "move the status"],
                              key="incident-action")  # fmt: skip
        classification = st.selectbox("Classification", CLASSES, key="incident-class")
        status = st.selectbox(
            "Status", ["investigating", "reported", "closed"], key="incident-status"
        )
        text = st.text_area("Note or reason (kept in the audit trail)", key="incident-text")
        submitted = st.form_submit_button("Submit", type="primary")
    if not submitted:
        return
    if not text.strip():
        st.error("Write the note or the reason.")
        return
    path, body = {
        "add a note": ("notes", {"text": text.strip()}),
        "classify": ("classification", {"classification": classification, "reason": text.strip()}),
        "move the status": ("status", {"status": status, "note": text.strip()}),
    }[action]
    try:
        api.incident_action(incident["id"], path, body)
    except ApiError as exc:
        st.error(f"Refused: {exc}")
        return
    st.rerun()
