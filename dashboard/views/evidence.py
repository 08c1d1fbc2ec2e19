"""Evidence export: a model version and a period → a signed ZIP that verifies offline."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from dashboard.api import ApiError, VerityApi
from dashboard.schemas import WhoAmI
from dashboard.ui import call, can, pick_model_version


def render(api: VerityApi, me: WhoAmI) -> None:
    st.header("Evidence export")
    if not can(me, "audit:read"):
        st.warning("Evidence packs need a compliance or admin key.")
        return
    st.write(
        "A ZIP with a PDF summary (model facts, checks run, alerts and how each was "
        "handled, the audit chain checkpoint), CSVs of check runs, alerts and audit "
        "events, a manifest of SHA-256s and its Ed25519 signature."
    )
    picked = pick_model_version(api, "evidence")
    if picked is None:
        return
    today = datetime.now(UTC).date()
    left, right = st.columns(2)
    start_day: date = left.date_input("From", today - timedelta(days=30), key="evidence-start")
    end_day: date = right.date_input("To (inclusive)", today, key="evidence-end")
    if end_day < start_day:
        st.error("The period ends before it starts.")
        return
    start = datetime.combine(start_day, time(), UTC)
    end = datetime.combine(end_day + timedelta(days=1), time(), UTC)
    if st.button("Build the evidence pack", type="primary", key="evidence-build"):
        try:
            with st.spinner("Building and signing…"):
                st.session_state["evidence-pack"] = api.evidence(*picked, start, end)
        except ApiError as exc:
            st.error(f"Could not build the pack: {exc}")
    pack = st.session_state.get("evidence-pack")
    if pack:
        data, name, manifest_sha256 = pack
        st.success(f"{name}: {len(data):,} bytes, manifest SHA-256 {manifest_sha256[:16]}…")
        st.download_button("Download", data, file_name=name, mime="application/zip")
    key = call("the signing key", api.public_key)
    if key:
        st.markdown("Verify offline, pinning this signing key:")
        st.code(
            f"verity audit verify-pack evidence.zip --public-key {key['public_key']}",
            language="bash",
        )
