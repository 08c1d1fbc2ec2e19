"""TorchScript artifacts: loaded only with ``torch.jit.load``, never unpickled."""

from __future__ import annotations

import io
from typing import Any

from backend.errors import InvalidInput


def validate_torchscript(data: bytes, *, n_features: int) -> list[int]:
    """Load ``data`` as TorchScript and run it on a zero batch of the schema's width.

    Returns the output shape. ``torch.jit.load`` reads TorchScript archives with its
    own restricted unpickler; a ``torch.save`` pickle or any other file is refused.
    """
    import torch  # deferred: torch takes seconds to import and only uploads need it

    if not data:
        raise InvalidInput("the artifact is empty")
    try:
        module: Any = torch.jit.load(io.BytesIO(data), map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError and others for foreign files
        raise InvalidInput(
            "the artifact is not a TorchScript archive (save it with torch.jit.save "
            f"of a scripted or traced module): {_first_line(exc)}"
        ) from exc
    module.eval()
    try:
        with torch.no_grad():
            output = module(torch.zeros((2, n_features), dtype=torch.float32))
    except Exception as exc:
        raise InvalidInput(
            f"the model does not accept a float32 tensor of shape (batch, {n_features}), "
            f"one column per model-input feature in schema order: {_first_line(exc)}"
        ) from exc
    if not isinstance(output, torch.Tensor) or output.shape[0] != 2:
        raise InvalidInput("the model must return one tensor with one row per input row")
    return list(output.shape)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
