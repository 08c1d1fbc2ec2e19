"""An on-disk spool of batches not yet acknowledged, so that an outage of the
control plane or a restart of the model server loses nothing.

One file per batch, written whole (temp file, fsync, rename) before the batch is
sent and removed once the server has answered for it. A restarted client sends what
it finds, oldest first, under each batch's original ``Idempotency-Key``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import cast

from verity_sdk.transport import BODY_KEYS, Batch, Kind

SUFFIX = ".batch.json"


class SpoolFull(Exception):
    pass


class Spool:
    def __init__(self, directory: str | os.PathLike[str], max_bytes: int) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._bytes = sum(p.stat().st_size for p in self._files())

    def _files(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    def __len__(self) -> int:
        return len(self._files())

    def path(self, batch: Batch) -> Path:
        return self.directory / f"{batch.id}{SUFFIX}"

    def holds(self, batch: Batch) -> bool:
        return self.path(batch).exists()

    def write(self, batch: Batch) -> None:
        data = json.dumps(
            {"id": batch.id, "kind": batch.kind, BODY_KEYS[batch.kind]: batch.records},
            default=str,
        ).encode()
        if self._bytes + len(data) > self.max_bytes:
            raise SpoolFull(f"spool at {self.directory} would pass {self.max_bytes} bytes")
        final = self.path(batch)
        temporary = final.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        self._bytes += len(data)

    def remove(self, batch: Batch) -> None:
        path = self.path(batch)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return
        self._bytes -= size

    def pending(self) -> list[Batch]:
        """Batches left by this client or an earlier process, oldest first. Batch ids
        begin with their creation time, so names sort in creation order."""
        batches = []
        for path in self._files():
            try:
                document = json.loads(path.read_bytes())
                kind = cast(Kind, document["kind"])
                batches.append(Batch(kind, document[BODY_KEYS[kind]], id=document["id"]))
            except (OSError, ValueError, KeyError, TypeError):
                # A file that cannot be read is set aside, never silently deleted.
                path.rename(path.with_suffix(f".unreadable-{int(time.time())}"))
        return batches
