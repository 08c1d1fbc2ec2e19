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
from verity_sdk.serving import BreakerConfig  # verity

CLASSES = ["deny", "approve"]


class Applicant(BaseModel):
    age: float
    income: float
    debt: float
    region: str


def simple_decision(applicant: Applicant) -> tuple[str, float]:
    """The fallback: a rule a credit officer can read, used while Verity trips or
    stops the model, or the model keeps failing."""
    ratio = applicant.debt / max(applicant.income, 1.0)
    return ("approve", 0.6) if ratio < 0.2 else ("deny", 0.4)


verity = VerityClient(  # verity
    os.environ.get("VERITY_URL", "http://127.0.0.1:8000"),
    os.environ.get("VERITY_API_KEY", ""),
    model=os.environ.get("VERITY_MODEL", "loans"),
    version=os.environ.get("VERITY_VERSION", "v1"),
    spool_dir=os.environ.get("VERITY_SPOOL_DIR"),  # survives outages and restarts
    backoff=Backoff(cap=float(os.environ.get("VERITY_BACKOFF_CAP", "30"))),
    fallback=simple_decision,  # verity: the kill switch and the breaker answer with it
    serving_poll_interval=float(os.environ.get("VERITY_SERVING_POLL", "5")),
    breaker=BreakerConfig(  # verity
        min_calls=int(os.environ.get("VERITY_BREAKER_MIN_CALLS", "10")),
        cooldown=float(os.environ.get("VERITY_BREAKER_COOLDOWN", "30")),
    ),
)
# Failures to inject (tests, drills): the model raises while this is set.
FAULTS = {"model_raises": False}


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


class Feedback(BaseModel):
    event_id: str
    label: str


@app.post("/predict")
def predict(
    applicant: Applicant,
    log: RequestLogger = Depends(fastapi_logger(verity)),  # verity
) -> dict[str, Any]:
    # verity: the model, or the fallback while Verity says so (or the breaker is open)
    (decision, p_approve), served_by, why = verity.router.call(model_decision, (applicant,), {})
    tags = {"served_by": served_by, **({"served_reason": why} if why else {})}
    event_id = log.log(  # verity
        applicant.model_dump(), decision, score=p_approve, tags=tags
    )
    return {"decision": decision, "p_approve": p_approve, "event_id": event_id,
            "served_by": served_by}  # fmt: skip


def model_decision(applicant: Applicant) -> tuple[str, float]:
    if FAULTS["model_raises"]:
        raise RuntimeError("injected model failure")
    x = torch.tensor([[applicant.age, applicant.income, applicant.debt]]) / SCALE
    with torch.no_grad():
        probabilities = model(x)[0].tolist()
    return CLASSES[int(probabilities[1] >= 0.5)], probabilities[1]


@app.post("/faults")
def set_faults(faults: dict[str, bool]) -> dict[str, bool]:
    """Inject failures (for drills and tests only; not in a real server)."""
    FAULTS.update({k: bool(v) for k, v in faults.items() if k in FAULTS})
    return FAULTS


@app.get("/verity/stats")
def verity_stats() -> dict[str, Any]:
    """What the SDK counted: sent, retried, dropped (for the server's own monitoring),
    and who served: primary, fallback, breaker and poll counts."""
    return {  # verity
        **dataclasses.asdict(verity.stats),
        "serving": {**dataclasses.asdict(verity.serving_counts), "state": verity.serving_state,
                    "breaker": verity.breaker_state},
    }  # fmt: skip


@app.post("/feedback")
def feedback(item: Feedback) -> dict[str, str]:
    verity.log_label(item.event_id, item.label)  # verity
    return {"status": "queued"}
