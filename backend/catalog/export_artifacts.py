"""``torch.export`` programs (``.pt2``, saved with ``torch.export.save``): checked
before ``torch.export.load`` ever sees them.

``torch.export.load`` is not safe on untrusted input by itself (its docstring says it
"uses pickle under the hood"). Reading torch 2.13's ``pt2_archive/_package.py`` and
``_export/serde/serialize.py``, code can run at load in four places, and each is
closed here before loading:

- weights or constants marked ``use_pickle`` (tensor subclasses) are read with
  ``torch.load(weights_only=False)``: refused, any entry so marked;
- constants stored as custom objects (``torch._C._pickle_load_obj``) or opaque objects
  (``pickle.loads``): refused, by their file-name prefix in the constants config;
- the sample inputs are read with ``torch.load(weights_only=True)`` and, if that fails,
  again with ``weights_only=False``: here they are read with ``weights_only=True``
  first, and an archive whose sample inputs need more is refused;
- the pre-2.8 archive layout, read by another path: refused (only ``archive_format``
  ``pt2`` is accepted).

The graph itself is JSON; its call targets are resolved by name on ``torch``,
``operator`` and ``math``, and run when the model runs. Only ATen operators (not those
that touch files), ``operator`` and ``math`` functions, symbolic-shape helpers and
higher-order control flow are accepted. Weights are raw tensor bytes.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

from backend.errors import InvalidInput

FORMAT = "torch.export"
ALLOWED_TARGETS = (
    "torch.ops.aten.",
    "torch.ops.higher_order.",
    "_operator.",
    "math.",
    "torch.sym_",
)
# ATen operators that read or write files: never in a model's forward pass.
REFUSED_TARGET_WORDS = ("file", "save", "load")


def is_export_archive(data: bytes) -> bool:
    """Whether ``data`` is a ``torch.export.save`` archive (TorchScript archives are
    zip files too, without ``archive_format``)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n for n in archive.namelist() if n.endswith("/archive_format")]
            return any(archive.read(n).strip() == b"pt2" for n in names[:1])
    except (zipfile.BadZipFile, KeyError):
        return False


def inspect(data: bytes) -> None:
    """Refuses (``InvalidInput``, saying why) an archive whose loading could run code."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InvalidInput("the artifact is not a torch.export archive (not a zip)") from exc
    with archive:
        names = archive.namelist()
        root = names[0].split("/", 1)[0] if names else ""
        fmt = f"{root}/archive_format"
        if fmt not in names or archive.read(fmt).strip() != b"pt2":
            raise InvalidInput(
                "the artifact is not a torch.export archive of the current format "
                "(save it with torch.export.save from torch 2.8 or later)"
            )
        for name in names:
            if name.endswith("_config.json") and "/data/" in name:
                _check_payload_config(name, _json(archive, name))
        models = [n for n in names if n.startswith(f"{root}/models/") and n.endswith(".json")]
        if not models:
            raise InvalidInput("the torch.export archive holds no program")
        for name in models:
            for target in _targets(_json(archive, name)):
                _check_target(target)
        for name in names:
            if name.startswith(f"{root}/data/sample_inputs/"):
                _check_sample_inputs(name, archive.read(name))


def load(data: bytes, device: str = "cpu") -> Any:
    """The program as a callable module on ``device``, after ``inspect``."""
    import torch

    inspect(data)
    program = torch.export.load(io.BytesIO(data))
    return program.module().to(device)


def _json(archive: zipfile.ZipFile, name: str) -> Any:
    try:
        return json.loads(archive.read(name))
    except ValueError as exc:
        raise InvalidInput(f"the torch.export archive's {name} is not JSON") from exc


def _check_payload_config(name: str, config: Any) -> None:
    entries = config.get("config", {}) if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise InvalidInput(f"the torch.export archive's {name} is malformed")
    for fqn, entry in entries.items():
        if not isinstance(entry, dict) or entry.get("use_pickle") is not False:
            raise InvalidInput(
                f"the torch.export archive stores '{fqn}' as a pickle, which could run "
                "code when loaded; export plain tensors (no tensor subclasses or objects)"
            )
        path = str(entry.get("path_name", ""))
        if not (path.startswith("weight_") or path.startswith("tensor_")):
            raise InvalidInput(
                f"the torch.export archive stores '{fqn}' as an object ({path}), which "
                "could run code when loaded; only tensors are accepted"
            )


def _targets(value: Any) -> Iterator[str]:
    """Every node target of every graph and subgraph in a serialized program."""
    if isinstance(value, dict):
        target = value.get("target")
        if isinstance(target, str) and "inputs" in value:
            yield target
        for child in value.values():
            yield from _targets(child)
    elif isinstance(value, list):
        for child in value:
            yield from _targets(child)


def _check_target(target: str) -> None:
    allowed = target.startswith(ALLOWED_TARGETS)
    if target.startswith("torch.ops.aten."):
        operator = target.removeprefix("torch.ops.aten.").lower()
        allowed = not any(word in operator for word in REFUSED_TARGET_WORDS)
    if not allowed:
        raise InvalidInput(
            f"the torch.export program calls '{target[:200]}'; only ATen operators and "
            "plain arithmetic are accepted in a model's graph"
        )


def _check_sample_inputs(name: str, payload: bytes) -> None:
    import torch

    if not payload:
        return
    try:
        torch.load(io.BytesIO(payload), weights_only=True)
    except Exception as exc:
        raise InvalidInput(
            f"the torch.export archive's sample inputs ({name}) are not plain tensors: "
            "torch would unpickle them with weights_only=False"
        ) from exc
