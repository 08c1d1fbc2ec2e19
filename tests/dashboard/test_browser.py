"""The dashboard in headless Chromium: sign in, open every page, keep a screenshot of
each under screenshots/ (git-ignored) for a human to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from backend.api.roles import Role
from dashboard.app import PAGES
from tests.dashboard.conftest import Loaded
from tests.support.ports import free_port

pytestmark = pytest.mark.slow  # minutes, not seconds: -m 'not slow' leaves it out

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def wait_idle(page: Page) -> None:
    """Streamlit shows a running indicator while the script runs."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    page.wait_for_timeout(500)


def test_every_page_in_a_real_browser(loaded: Loaded, database_url: str) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
            "--server.headless", "true", "--server.port", str(port),
            "--browser.gatherUsageStats", "false",
        ],
        env={**os.environ, "VERITY_API_URL": loaded.url},
    )  # fmt: skip
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    folder = SHOTS / backend
    folder.mkdir(parents=True, exist_ok=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page(viewport={"width": 1440, "height": 2200})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_label("API key").fill(loaded.tenant.tokens[Role.COMPLIANCE])
            page.get_by_role("button", name="Sign in").click()
            page.get_by_text("Signed in as").wait_for(timeout=60_000)
            for name in PAGES:
                page.locator("[data-testid='stSidebar']").get_by_text(name, exact=True).click()
                page.get_by_role("heading", name=name, exact=True).wait_for(timeout=60_000)
                wait_idle(page)
                if name == "Explanations":
                    field = page.get_by_label("Event id of a prediction")
                    field.fill(loaded.event_id)
                    field.press("Enter")
                    wait_idle(page)
                assert page.locator("[data-testid='stException']").count() == 0, name
                assert page.locator("[data-testid='stAlertContentError']").count() == 0, name
                slug = name.lower().replace(" ", "-")
                page.screenshot(path=str(folder / f"{slug}.png"), full_page=True)
            browser.close()
        assert not errors, errors
    finally:
        server.terminate()
        server.wait(timeout=30)
    shots = sorted(folder.glob("*.png"))
    assert len(shots) == len(PAGES)
    assert all(s.stat().st_size > 20_000 for s in shots)
