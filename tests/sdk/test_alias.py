"""``backend.sdk`` stays one release as a deprecated alias of ``verity_sdk``: old
imports, submodules included, keep working, with a DeprecationWarning."""

from __future__ import annotations

import subprocess
import sys


def run(code: str, *warning_options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *warning_options, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_old_import_warns_and_is_the_new_package() -> None:
    warned = run("import backend.sdk", "-W", "error::DeprecationWarning")
    assert warned.returncode != 0
    assert "backend.sdk is deprecated: pip install verity-sdk" in warned.stderr
    same = run(
        "import verity_sdk, verity_sdk.hooks, verity_sdk.transport\n"
        "from backend.sdk import VerityClient\n"
        "from backend.sdk.hooks import fastapi_logger\n"
        "import backend.sdk.transport as old\n"
        "assert VerityClient is verity_sdk.VerityClient\n"
        "assert fastapi_logger is verity_sdk.hooks.fastapi_logger\n"
        "assert old is verity_sdk.transport\n",
        "-W",
        "ignore::DeprecationWarning",
    )
    assert same.returncode == 0, same.stderr
