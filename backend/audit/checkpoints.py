"""Signed checkpoints of a project's chain: "the head was seq N with hash H at T",
signed with the Ed25519 key that signs evidence packs.

A chain alone cannot show that its tail was cut off: the shorter chain still links.
A checkpoint can: verification requires the chain to still hold every checkpoint's
seq with the same hash. Checkpoints are written on a schedule and published to
witness webhooks; one kept outside the database (or handed to ``verify``) catches a
truncation even by someone who also deleted the checkpoints stored here.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from backend.audit.chain import canonical_json, format_time

CHECKPOINT_TYPE = "verity.audit.checkpoint.v1"


@dataclass(frozen=True)
class Checkpoint:
    project_id: int
    seq: int
    hash: str
    signed_at: datetime
    public_key: str  # base64 of the raw Ed25519 public key
    signature: str  # base64

    def statement(self) -> bytes:
        """The bytes signed: canonical JSON of what the checkpoint asserts."""
        return canonical_json(
            {
                "type": CHECKPOINT_TYPE,
                "project_id": self.project_id,
                "seq": self.seq,
                "hash": self.hash,
                "signed_at": format_time(self.signed_at),
            }
        ).encode()

    def as_json(self) -> dict[str, Any]:
        return {
            "type": CHECKPOINT_TYPE,
            "project_id": self.project_id,
            "seq": self.seq,
            "hash": self.hash,
            "signed_at": format_time(self.signed_at),
            "public_key": self.public_key,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Checkpoint:
        """Raises ``ValueError`` naming what is wrong with a handed-in checkpoint."""
        if value.get("type") != CHECKPOINT_TYPE:
            raise ValueError(f"a checkpoint's type is '{CHECKPOINT_TYPE}'")
        try:
            return cls(
                project_id=int(value["project_id"]),
                seq=int(value["seq"]),
                hash=str(value["hash"]),
                signed_at=datetime.fromisoformat(str(value["signed_at"])),
                public_key=str(value["public_key"]),
                signature=str(value["signature"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a checkpoint: {error}") from None


def sign(
    key: Ed25519PrivateKey, *, project_id: int, seq: int, hash: str, signed_at: datetime
) -> Checkpoint:
    unsigned = Checkpoint(project_id, seq, hash, signed_at, _public(key), "")
    signature = base64.b64encode(key.sign(unsigned.statement())).decode()
    return Checkpoint(project_id, seq, hash, signed_at, unsigned.public_key, signature)


def _public(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def signature_valid(checkpoint: Checkpoint, trusted_keys: Iterable[str]) -> bool:
    """Signed by one of the trusted public keys (base64, raw Ed25519)."""
    if checkpoint.public_key not in set(trusted_keys):
        return False
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(checkpoint.public_key))
        public.verify(base64.b64decode(checkpoint.signature), checkpoint.statement())
    except (InvalidSignature, ValueError):
        return False
    return True
