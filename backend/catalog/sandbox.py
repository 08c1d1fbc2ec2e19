"""Untrusted model artifacts are loaded and trial-run in a separate process, with a
memory limit (``RLIMIT_DATA``: heap and anonymous mappings), a CPU-time limit and a
wall-clock deadline. The API process never unpacks an artifact itself: a bomb, a
model that allocates without bound or one that loops costs a child process, which is
killed, and the upload gets a clear 422.

The child is a fresh interpreter (``python -m backend.catalog.sandbox``) that sets its
limits before it imports torch or reads a byte of the artifact, says it is ready, and
answers one JSON line; the deadline runs from the moment it is ready (an upload costs
about a second more for torch's import, and no process lingers between uploads).

Before it runs, the archive's central directory is read here: its declared unpacked
size must fit the upload limit (TorchScript and torch.export archives store their
entries uncompressed, so a real one always fits).
"""

from __future__ import annotations

import io
import json
import logging
import resource
import select
import signal
import subprocess
import sys
import zipfile

from backend.errors import InvalidInput, PayloadTooLarge

logger = logging.getLogger(__name__)


def check_archive(data: bytes, *, max_unpacked_bytes: int) -> None:
    """The archive's entries, as its central directory declares them, fit the limit."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        return  # not a zip: torch refuses it in the sandbox with its own message
    if declared > max_unpacked_bytes:
        raise PayloadTooLarge(
            f"the artifact unpacks to {declared} bytes; at most {max_unpacked_bytes} are "
            "accepted (VERITY_INGEST__MAX_UPLOAD_BYTES)"
        )


# The child's CPU limit also covers its own start (torch's import) before the wall
# clock deadline, which counts from the moment the artifact is handed over, begins.
_STARTUP_SECONDS = 60
READY = b"ready"


def validate_in_sandbox(
    data: bytes,
    *,
    n_features: int,
    max_unpacked_bytes: int,
    memory_bytes: int,
    seconds: float,
) -> list[int]:
    """The artifact loaded and run on a zero batch in a limited child process: its
    output shape, or ``InvalidInput`` / ``PayloadTooLarge`` saying why not."""
    check_archive(data, max_unpacked_bytes=max_unpacked_bytes)
    limits = (n_features, memory_bytes, max(int(seconds), 1) + _STARTUP_SECONDS)
    worker = subprocess.Popen(
        [sys.executable, "-m", "backend.catalog.sandbox", *map(str, limits)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert worker.stdout is not None
    # The deadline is the model's: it starts once the child has its imports done.
    started, _, _ = select.select([worker.stdout], [], [], _STARTUP_SECONDS)
    if not started or worker.stdout.readline().strip() != READY:
        worker.kill()
        worker.communicate()
        raise _refused("the model check process did not start")
    try:
        stdout, stderr = worker.communicate(data, timeout=seconds)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.communicate()
        raise _refused(
            f"loading and trial-running the model took more than {seconds:g} s"
        ) from None
    answer = _answer(stdout)
    if answer is None:
        code = worker.returncode
        if code == -signal.SIGXCPU:
            raise _refused(f"loading and trial-running the model used more than {seconds:g} s")
        if code < 0:
            raise _refused(f"the model check was killed by signal {-code}")
        tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise _refused(f"the model check failed ({code}): {tail[0][:300]}")
    if "invalid" in answer:
        raise InvalidInput(str(answer["invalid"]))
    shape = answer["shape"]
    assert isinstance(shape, list)
    return [int(size) for size in shape]


def _answer(stdout: bytes) -> dict[str, object] | None:
    lines = stdout.strip().splitlines()
    try:
        value = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _refused(reason: str) -> InvalidInput:
    logger.warning("artifact.sandbox_refused reason=%s", reason)
    return InvalidInput(f"the artifact was refused: {reason}")


def _main() -> None:
    """The child: limits first, then torch, then the artifact from standard input."""
    n_features, memory_bytes, cpu_seconds = (int(value) for value in sys.argv[1:4])
    resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    import torch

    from backend.catalog.artifacts import validate_artifact

    torch.set_num_threads(1)
    sys.stdout.buffer.write(READY + b"\n")
    sys.stdout.flush()
    data = sys.stdin.buffer.read()
    if not data:
        return  # a warm worker whose parent went away
    try:
        answer: dict[str, object] = {"shape": validate_artifact(data, n_features=n_features)}
    except InvalidInput as refused:
        text = f"{refused.detail} {refused.__cause__}"
        if "can't allocate memory" in text or "out of memory" in text.lower():
            answer = {
                "invalid": f"the artifact needed more than {memory_bytes >> 20} MiB to load "
                "and run (VERITY_UPLOADS__SANDBOX_MEMORY_BYTES)"
            }
        else:
            answer = {"invalid": refused.detail}
    except MemoryError:
        answer = {"invalid": f"the artifact needed more than {memory_bytes >> 20} MiB"}
    print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    _main()
