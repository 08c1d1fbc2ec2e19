"""A small model server (FastAPI + a torch model) that logs every prediction to
Verity, to copy from. The lines Verity adds are marked ``# verity``.

    VERITY_URL=http://127.0.0.1:8000 VERITY_API_KEY=vt_... \
        uvicorn examples.model_server:app --port 9000

    curl -s localhost:9000/predict -H 'Content-Type: application/json' \
        -d '{"age": 41, "income": 52000, "debt": 3000, "region": "north"}'
    curl -s localhost:9000/feedback -H 'Content-Type: application/json' \
        -d '{"event_id": "<Verity-Event-Id header from /predict>", "label": "approve"}'

The model and its version must be registered in Verity first (``verity demo`` does
this for the demo's "loans" model): features age, income, debt (numeric) and region
(categorical, not a model input), classes deny/approve.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import torch
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from verity_sdk import Backoff, VerityClient  # verity
from verity_sdk.hooks import RequestLogger, fastapi_logger  # verity

CLASSES = ["deny", "approve"]

verity = VerityClient(  # verity
    os.environ.get("VERITY_URL", "http://127.0.0.1:8000"),
    os.environ.get("VERITY_API_KEY", ""),
    model=os.environ.get("VERITY_MODEL", "loans"),
    version=os.environ.get("VERITY_VERSION", "v1"),
    spool_dir=os.environ.get("VERITY_SPOOL_DIR"),  # survives outages and restarts
    backoff=Backoff(cap=float(os.environ.get("VERITY_BACKOFF_CAP", "30"))),
)


def build_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2), torch.nn.Softmax(dim=1)
    ).eval()


model = build_model()
SCALE = torch.tensor([100.0, 100_000.0, 10_000.0])


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    verity.close(timeout=float(os.environ.get("VERITY_CLOSE_TIMEOUT", "10")))  # verity


app = FastAPI(title="loans model server", lifespan=lifespan)


class Applicant(BaseModel):
    age: float
    income: float
    debt: float
    region: str


class Feedback(BaseModel):
    event_id: str
    label: str


@app.post("/predict")
def predict(
    applicant: Applicant,
    log: RequestLogger = Depends(fastapi_logger(verity)),  # verity
) -> dict[str, Any]:
    x = torch.tensor([[applicant.age, applicant.income, applicant.debt]]) / SCALE
    with torch.no_grad():
        probabilities = model(x)[0].tolist()
    decision = CLASSES[int(probabilities[1] >= 0.5)]
    event_id = log.log(  # verity
        applicant.model_dump(), decision, score=probabilities[1], probabilities=probabilities
    )
    return {"decision": decision, "p_approve": probabilities[1], "event_id": event_id}


@app.get("/verity/stats")
def verity_stats() -> dict[str, Any]:
    """What the SDK counted: sent, retried, dropped (for the server's own monitoring)."""
    return dataclasses.asdict(verity.stats)  # verity


@app.post("/feedback")
def feedback(item: Feedback) -> dict[str, str]:
    verity.log_label(item.event_id, item.label)  # verity
    return {"status": "queued"}
