"""The Ed25519 key that signs evidence packs and audit checkpoints: from
``VERITY_EVIDENCE_SIGNING_KEY`` (a PEM private key) when set, else generated once into
the data directory, readable by its owner only. Its public half is what a verifier
pins."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.config import Settings

KEY_FILE = "evidence_ed25519.pem"


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    if settings.evidence_signing_key:
        loaded = serialization.load_pem_private_key(
            settings.evidence_signing_key.encode(), password=None
        )
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError("VERITY_EVIDENCE_SIGNING_KEY is not an Ed25519 private key")
        return loaded
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # O_EXCL: two processes starting at once keep the first key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    return loaded


def public_key_base64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def trusted_public_keys(settings: Settings) -> list[str]:
    """The keys a checkpoint may be signed with: the current one, and earlier ones
    kept across a rotation (VERITY_AUDIT__TRUSTED_PUBLIC_KEYS)."""
    return [public_key_base64(signing_key(settings)), *settings.audit.trusted_public_keys]


def public_key_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
