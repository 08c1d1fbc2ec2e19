"""Pickers, paging and error display shared by the pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pandas as pd
import streamlit as st

from dashboard.api import ApiError, VerityApi
from dashboard.schemas import MonitorRead, WhoAmI

T = TypeVar("T")
PAGE_SIZE = 50


def call(what: str, function: Callable[[], T]) -> T | None:
    """Run an API call under a spinner; show its problem and return None on failure."""
    try:
        with st.spinner(f"Loading {what}…"):
            return function()
    except ApiError as exc:
        if exc.status == 403:
            st.warning(f"Your key's role may not see {what}: {exc.detail}")
        else:
            st.error(f"Could not load {what}. {exc}")
        return None


def pick_model_version(api: VerityApi, key: str) -> tuple[str, str] | None:
    models = call("models", api.models)
    if not models:
        st.info("No model is registered yet.")
        return None
    left, right = st.columns(2)
    model = left.selectbox("Model", [m["name"] for m in models], key=f"{key}-model")
    versions = call("versions", lambda: api.versions(model)) or []
    if not versions:
        right.info("This model has no version yet.")
        return None
    names = [v["version"] for v in versions]
    version = right.selectbox("Version", names, index=len(names) - 1, key=f"{key}-version")
    return model, version


def pick_monitor(
    api: VerityApi, model: str, version: str, kind: str, key: str
) -> MonitorRead | None:
    monitors = [
        m
        for m in (call("monitors", lambda: api.monitors(model, version)) or [])
        if m["kind"] == kind
    ]
    if not monitors:
        st.info(
            f"No {kind} monitor on {model} {version}. Create one with "
            f"POST /v1/models/{model}/versions/{version}/monitors:default."
        )
        return None
    if len(monitors) == 1:
        return monitors[0]
    names = {f"{m['name']} (#{m['id']})": m for m in monitors}
    return names[st.selectbox("Monitor", list(names), key=f"{key}-monitor")]


def paged(frame: pd.DataFrame, key: str, page_size: int = PAGE_SIZE) -> None:
    """A sortable table, one page at a time."""
    if frame.empty:
        st.caption("Nothing to show.")
        return
    pages = max(1, -(-len(frame) // page_size))
    page = 1
    if pages > 1:
        page = int(
            st.number_input(
                f"Page (of {pages})", min_value=1, max_value=pages, value=1, key=f"{key}-page"
            )
        )
    start = (page - 1) * page_size
    st.dataframe(frame.iloc[start : start + page_size], width="stretch", hide_index=True)
    st.caption(f"Rows {start + 1}–{min(start + page_size, len(frame))} of {len(frame)}")


STATUS_COLOURS = {"ok": "green", "warning": "orange", "alert": "red", "error": "violet"}


def status_badge(status: str) -> str:
    """The status as coloured Markdown (tables get ``status_text``)."""
    colour = STATUS_COLOURS.get(status)
    return f":{colour}[{status_text(status)}]" if colour else status_text(status)


def status_text(status: str) -> str:
    return (
        status.replace("_", " ").upper()
        if status in ("alert", "error")
        else status.replace("_", " ")
    )


def when(value: str | None) -> str:
    """An API timestamp as 'YYYY-MM-DD HH:MM' (UTC)."""
    return value[:16].replace("T", " ") if value else ""


def can(me: WhoAmI, permission: str) -> bool:
    return permission in me.get("permissions", [])
