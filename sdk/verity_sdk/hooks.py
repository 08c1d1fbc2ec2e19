"""Hooks that log without changing the model server's code paths: a decorator for any
predict function, a FastAPI dependency, and a ``torch.nn.Module`` forward hook.

None of them imports FastAPI or torch at module import; each hook swallows and
counts its own failures, so a logging problem never fails a prediction.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from verity_sdk.context import last_event_id

if TYPE_CHECKING:
    from verity_sdk.client import VerityClient

logger = logging.getLogger("verity.sdk")

Outputs = dict[str, Any]


def default_features(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Mapping[str, Any]:
    """The features are the first positional argument when it is a mapping, else the
    keyword arguments."""
    if args and isinstance(args[0], Mapping):
        return args[0]
    return kwargs


def default_outputs(result: Any) -> Outputs:
    """A mapping result may carry ``prediction``, ``score`` and ``probabilities``;
    anything else is the prediction itself."""
    if isinstance(result, Mapping) and "prediction" in result:
        return {k: result[k] for k in ("prediction", "score", "probabilities") if k in result}
    return {"prediction": result}


def monitor(
    client: VerityClient,
    function: Callable[..., Any] | None = None,
    *,
    features: Callable[[tuple[Any, ...], dict[str, Any]], Mapping[str, Any]] = default_features,
    outputs: Callable[[Any], Outputs] = default_outputs,
    fallback: Callable[..., Any] | None = None,
) -> Any:
    """``@client.monitor`` or ``@client.monitor(features=..., outputs=...,
    fallback=...)``: each call is logged with its inputs, outputs, latency and who
    served it (``served_by``: primary or fallback, and ``served_reason``). With a
    fallback (here or on the client), calls go to it while the control plane trips or
    stops the version, or the local breaker is open. The event id is in
    ``verity_sdk.last_event_id`` afterwards, for a later ``log_label``."""

    def decorate(predict: Callable[..., Any]) -> Callable[..., Any]:
        router = client.router if fallback is None else client.router_with(fallback)

        @functools.wraps(predict)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            result, served_by, why = router.call(predict, args, kwargs)
            latency_ms = (time.perf_counter() - started) * 1000.0
            try:
                tags = {"served_by": served_by}
                if why:
                    tags["served_reason"] = why
                event_id = client.log(
                    features(args, kwargs), latency_ms=latency_ms, tags=tags, **outputs(result)
                )
                last_event_id.set(event_id)
            except Exception as exc:  # never into the predict path
                client._pipeline.note_error(f"monitor: {exc!r}")
            return result

        return wrapper

    return decorate(function) if function is not None else decorate


def fastapi_logger(client: VerityClient) -> Callable[..., Any]:
    """A FastAPI dependency: ``log = Depends(fastapi_logger(client))`` gives each
    request a ``RequestLogger`` whose latency runs from the request's start, and
    whose event id is returned in the ``Verity-Event-Id`` response header."""
    from fastapi import Response

    def dependency(response: Any) -> RequestLogger:
        return RequestLogger(client, response)

    # FastAPI reads the parameter's type from the signature; this module's annotations
    # are strings, and Response is imported here only, lazily.
    dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("response", inspect.Parameter.KEYWORD_ONLY, annotation=Response)],
        return_annotation=RequestLogger,
    )
    return dependency


class RequestLogger:
    def __init__(self, client: VerityClient, response: Any) -> None:
        self.client = client
        self.response = response
        self.started = time.perf_counter()
        self.event_ids: list[str] = []

    def log(self, features: Mapping[str, Any], prediction: Any, **extra: Any) -> str:
        extra.setdefault("latency_ms", (time.perf_counter() - self.started) * 1000.0)
        event_id = self.client.log(features, prediction, **extra)
        self.event_ids.append(event_id)
        try:
            self.response.headers["Verity-Event-Id"] = ",".join(self.event_ids)
        except Exception as exc:
            self.client._pipeline.note_error(f"fastapi header: {exc!r}")
        last_event_id.set(event_id)
        return event_id


def watch(
    client: VerityClient,
    module: Any,
    *,
    feature_names: Sequence[str],
    threshold: float | None = None,
    class_labels: Sequence[Any] | None = None,
) -> Any:
    """Log each row of each batch ``module`` sees: its input row as features, its
    output row as the prediction. Outputs: one value per row is a regression value,
    or with ``threshold`` a binary score (prediction 1 when score >= threshold); a
    row of several values is class probabilities (prediction: the arg-max, named by
    ``class_labels`` when given). Returns the hook handles; ``.remove()`` each to stop.
    """
    names = list(feature_names)
    # Per thread: a module may serve several threads at once.
    clock = threading.local()

    def before(_module: Any, _inputs: Any) -> None:
        clock.started = time.perf_counter()

    def after(_module: Any, inputs: Any, output: Any) -> None:
        try:
            began = getattr(clock, "started", None)
            batch_ms = None if began is None else (time.perf_counter() - began) * 1000.0
            rows = inputs[0].detach().to("cpu").reshape(inputs[0].shape[0], -1).tolist()
            values = output.detach().to("cpu")
            values = values.reshape(values.shape[0], -1).tolist()
            if rows and len(rows[0]) != len(names):
                raise ValueError(f"{len(rows[0])} input columns but {len(names)} feature names")
            if len(values) != len(rows):
                raise ValueError(f"{len(rows)} input rows but {len(values)} output rows")
            for row, out in zip(rows, values):  # equal lengths: one output per row
                client.log(
                    dict(zip(names, row)),
                    latency_ms=batch_ms,
                    **_row_outputs(out, threshold, class_labels),
                )
        except Exception as exc:
            client._pipeline.note_error(f"watch: {exc!r}")

    return (module.register_forward_pre_hook(before), module.register_forward_hook(after))


def _row_outputs(
    out: list[float], threshold: float | None, class_labels: Sequence[Any] | None
) -> Outputs:
    if len(out) == 1:
        value = out[0]
        if threshold is None:
            return {"prediction": value}
        return {"prediction": int(value >= threshold), "score": value}
    best = max(range(len(out)), key=out.__getitem__)
    labels = list(class_labels) if class_labels is not None else list(range(len(out)))
    return {"prediction": labels[best], "probabilities": out}
