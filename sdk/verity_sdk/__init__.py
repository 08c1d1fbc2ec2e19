"""The Verity client for model servers (``pip install verity-sdk``). It depends on
httpx alone: a model server that logs to Verity keeps its own torch, web framework and
Python (3.9 or later). The torch forward hook and the FastAPI dependency import their
framework only when used.

    from verity_sdk import VerityClient

    client = VerityClient("http://verity:8000", api_key, model="loans", version="v3")
    event_id = client.log({"income": 52_000, "age": 41}, prediction=1, score=0.83)
    client.log_label(event_id, 0)   # whenever the truth is known
    client.close()                  # flush; spool or count the rest
"""

from verity_sdk.aio import AsyncVerityClient
from verity_sdk.client import VerityClient
from verity_sdk.context import last_event_id
from verity_sdk.pipeline import ClientStats
from verity_sdk.transport import Backoff
from verity_sdk.version import __version__

__all__ = [
    "AsyncVerityClient",
    "Backoff",
    "ClientStats",
    "VerityClient",
    "__version__",
    "last_event_id",
]
