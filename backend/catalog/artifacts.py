"""Model artifacts: TorchScript archives (``torch.jit.save``) and ``torch.export``
programs (``torch.export.save``, recommended for new models; TorchScript is deprecated
in torch 2.13). Neither is ever unpickled: TorchScript is read by ``torch.jit.load``'s
own restricted unpickler, a ``torch.export`` archive is checked first
(``backend.catalog.export_artifacts``)."""

from __future__ import annotations

import io
from typing import Any

from backend.catalog import export_artifacts
from backend.errors import InvalidInput

TORCHSCRIPT = "torchscript"


def artifact_format(data: bytes) -> str:
    return export_artifacts.FORMAT if export_artifacts.is_export_archive(data) else TORCHSCRIPT


def load_model(data: bytes, device: str = "cpu") -> Any:
    """The artifact as a callable model on ``device``, in inference mode."""
    import torch

    if artifact_format(data) == export_artifacts.FORMAT:
        # An exported program has no training mode to leave: it was traced in eval.
        return export_artifacts.load(data, device)
    return torch.jit.load(io.BytesIO(data), map_location=device).eval()


def validate_artifact(data: bytes, *, n_features: int) -> list[int]:
    """Load ``data`` and run it on zero batches of the schema's width (two batch
    sizes, so a program exported with a fixed batch size is refused here, not at its
    first check). Returns the output shape for a batch of 2."""
    import torch  # deferred: torch takes seconds to import and only uploads need it

    if not data:
        raise InvalidInput("the artifact is empty")
    exported = artifact_format(data) == export_artifacts.FORMAT
    try:
        module = load_model(data)
    except InvalidInput:
        raise
    except Exception as exc:  # torch raises RuntimeError and others for foreign files
        raise InvalidInput(
            "the artifact is neither a torch.export program (torch.export.save) nor a "
            f"TorchScript archive (torch.jit.save): {_first_line(exc)}"
        ) from exc
    shapes = []
    for batch in (2, 3):
        try:
            with torch.no_grad():
                output = module(torch.zeros((batch, n_features), dtype=torch.float32))
        except Exception as exc:
            hint = (
                "; export it with a dynamic batch dimension, e.g. dynamic_shapes="
                '({0: torch.export.Dim("batch")},)'
                if exported
                else ""
            )
            raise InvalidInput(
                f"the model does not accept a float32 tensor of shape (batch, {n_features}), "
                f"one column per model-input feature in schema order (batch {batch}): "
                f"{_first_line(exc)}{hint}"
            ) from exc
        if not isinstance(output, torch.Tensor) or output.shape[0] != batch:
            raise InvalidInput("the model must return one tensor with one row per input row")
        shapes.append(list(output.shape))
    return shapes[0]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
