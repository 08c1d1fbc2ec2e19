"""Save a torch model as a Verity artifact, both ways, and upload it.

    python examples/export_model.py --out model.pt2            # torch.export (recommended)
    python examples/export_model.py --out model.pt --torchscript
    curl -X PUT -H "Authorization: Bearer $KEY" -H 'Content-Type: application/octet-stream' \
        --data-binary @model.pt2 $URL/v1/models/loans/versions/v1/artifact

The model takes a float32 tensor of shape (batch, n), one column per model-input
feature in schema order, and returns one row per input row. TorchScript is deprecated
in torch 2.13; export new models with ``torch.export``, with a dynamic batch dimension
(Verity runs the model on batches of any size). Verity refuses an artifact whose loading
could run code: for ``torch.export``, weights and constants must be plain tensors.
"""

from __future__ import annotations

import argparse

import torch


def build_model(n_inputs: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(n_inputs, 8),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 2),
        torch.nn.Softmax(dim=1),
    ).eval()


def save_export(model: torch.nn.Module, n_inputs: int, path: str) -> None:
    program = torch.export.export(
        model,
        (torch.zeros(2, n_inputs),),
        dynamic_shapes=({0: torch.export.Dim("batch")},),  # any batch size
    )
    torch.export.save(program, path)


def save_torchscript(model: torch.nn.Module, path: str) -> None:
    torch.jit.save(torch.jit.script(model), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--inputs", type=int, default=3)
    parser.add_argument("--torchscript", action="store_true", help="the deprecated format")
    args = parser.parse_args()
    model = build_model(args.inputs)
    if args.torchscript:
        save_torchscript(model, args.out)
    else:
        save_export(model, args.inputs, args.out)
    print(args.out)


if __name__ == "__main__":
    main()
