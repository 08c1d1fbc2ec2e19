"""Waiting for a freshly started API process to answer ``/readyz``."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import httpx


def wait_until_ready(url: str, process: subprocess.Popen[Any], timeout: float = 60) -> None:
    """Return once ``url/readyz`` answers 200; raise RuntimeError if the process exits
    or the timeout passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the API process exited during start-up")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API did not become ready at {url} within {timeout:.0f} s")
