"""Deprecated: the SDK is the ``verity-sdk`` distribution, imported as ``verity_sdk``.

This alias keeps ``from backend.sdk import VerityClient`` (and its submodules) working
for one release, with a DeprecationWarning.
"""

from __future__ import annotations

import importlib
import sys
import warnings

import verity_sdk
from verity_sdk import (
    AsyncVerityClient,
    Backoff,
    ClientStats,
    VerityClient,
    __version__,
    last_event_id,
)

warnings.warn(
    "backend.sdk is deprecated: pip install verity-sdk and import verity_sdk",
    DeprecationWarning,
    stacklevel=2,
)

for _name in ("aio", "client", "context", "core", "pipeline", "spool", "transport", "version"):
    sys.modules[f"{__name__}.{_name}"] = importlib.import_module(f"verity_sdk.{_name}")
# hooks imports its frameworks lazily; aliased like the rest.
sys.modules[f"{__name__}.hooks"] = importlib.import_module("verity_sdk.hooks")

__all__ = [
    "AsyncVerityClient",
    "Backoff",
    "ClientStats",
    "VerityClient",
    "__version__",
    "last_event_id",
    "verity_sdk",
]
