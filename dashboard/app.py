"""The Verity compliance dashboard: ``streamlit run dashboard/app.py``.

Signs in with an API key and reads everything through the HTTP API
(``VERITY_API_URL``, default http://127.0.0.1:8000); what a page allows follows
the key's role.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import streamlit as st

# `streamlit run dashboard/app.py` puts dashboard/ on the path, not the repository.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.api import ApiError, VerityApi
from dashboard.schemas import WhoAmI
from dashboard.views import (
    alerts,
    audit,
    cost,
    drift,
    evidence,
    explanations,
    fairness,
    governance,
    incidents,
    overview,
    performance,
    review,
)

PAGES: dict[str, Callable[[VerityApi, WhoAmI], None]] = {
    "Overview": overview.render,
    "Drift": drift.render,
    "Performance": performance.render,
    "Fairness": fairness.render,
    "Explanations": explanations.render,
    "Cost": cost.render,
    "Governance": governance.render,
    "Review queue": review.render,
    "Incidents": incidents.render,
    "Alerts": alerts.render,
    "Audit trail": audit.render,
    "Evidence export": evidence.render,
}


def sign_in() -> None:
    st.title("Verity")
    st.caption("ML observability and governance: drift, fairness, explanations, cost, audit.")
    with st.form("sign-in"):
        url = st.text_input(
            "API URL", os.environ.get("VERITY_API_URL", "http://127.0.0.1:8000"), key="url"
        )
        key = st.text_input("API key", type="password", key="key")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        api = VerityApi(url, key.strip())
        try:
            me = api.whoami()
        except ApiError as exc:
            st.error(f"Sign-in failed: {exc}")
            return
        st.session_state["api"] = api
        st.session_state["me"] = me
        st.rerun()


def main() -> None:
    st.set_page_config(page_title="Verity", layout="wide")
    if "api" not in st.session_state:
        sign_in()
        return
    api: VerityApi = st.session_state["api"]
    me: WhoAmI = st.session_state["me"]
    with st.sidebar:
        st.title("Verity")
        page = st.radio("Page", list(PAGES), key="page", label_visibility="collapsed")
        st.divider()
        st.caption(f"Signed in as **{me['label']}** ({me['role']}), project {me['project_id']}")
        st.caption(api.url)
        if st.button("Sign out", key="sign-out"):
            for name in list(st.session_state):
                del st.session_state[name]
            st.rerun()
    PAGES[page](api, me)


# Streamlit runs this file as __main__; importing it (for PAGES) renders nothing.
if __name__ == "__main__":
    main()
