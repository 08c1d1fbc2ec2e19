"""The Verity client for model servers. It imports httpx and pydantic only: a model
server that logs to Verity does not pull in the control plane's FastAPI or
SQLAlchemy.

    from backend.sdk import VerityClient

    client = VerityClient("http://verity:8000", api_key, model="loans", version="v3")
    event_id = client.log({"income": 52_000, "age": 41}, prediction=1, score=0.83)
    client.log_label(event_id, 0)   # whenever the truth is known
    client.close()                  # flush; spool or count the rest
"""

from backend.sdk.aio import AsyncVerityClient
from backend.sdk.client import VerityClient
from backend.sdk.context import last_event_id
from backend.sdk.pipeline import ClientStats
from backend.sdk.transport import Backoff

__all__ = ["AsyncVerityClient", "Backoff", "ClientStats", "VerityClient", "last_event_id"]
