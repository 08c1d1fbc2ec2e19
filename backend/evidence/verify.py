"""Offline verification of an evidence pack: no database, no network, no Verity
server. A pack is a ZIP holding ``manifest.json`` (the SHA-256 of every other file),
``manifest.sig`` (an Ed25519 signature over the manifest's bytes) and the files.

It passes only when the signature verifies with the public key the verifier trusts,
every listed file is present with its digest, no file is unlisted, and the audit
events it carries link into an unbroken hash chain ending at the signed checkpoint.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend.audit.chain import link_hash

# Fixed metadata and no compression: a pack's bytes are a function of its files alone,
# so a verifier rebuilds them and any changed byte, even in a header, is caught.
ZIP_TIME = (2000, 1, 1, 0, 0, 0)

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
AUDIT_CSV = "audit_events.csv"


@dataclass
class PackReport:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)

    def fail(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """A raw 32-byte key in base64, or a PEM ``PUBLIC KEY``."""
    from cryptography.hazmat.primitives import serialization

    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(stripped.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the PEM key is not an Ed25519 public key")
        return key
    raw = base64.b64decode(stripped, validate=True)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def canonical_zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, body in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            archive.writestr(info, body)
    return buffer.getvalue()


def verify_pack(data: bytes, trusted_key: Ed25519PublicKey | None) -> PackReport:
    """``trusted_key`` None checks the signature against the key inside the pack,
    which proves integrity but not who signed: callers must say so."""
    report = PackReport()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        order = archive.namelist()
        names = set(order)
        contents = [(name, archive.read(name)) for name in order]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        report.fail(f"not a readable ZIP file: {exc}")
        return report
    if canonical_zip(contents) != data:
        report.fail("the ZIP's structure was altered (headers, order or trailing bytes)")
    if MANIFEST not in names or SIGNATURE not in names:
        report.fail(f"{MANIFEST} and {SIGNATURE} are required")
        return report
    manifest_bytes = archive.read(MANIFEST)
    try:
        manifest = json.loads(manifest_bytes)
        report.manifest = manifest
        signature = base64.b64decode(archive.read(SIGNATURE).strip(), validate=True)
        embedded = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(manifest["signing_key"], validate=True)
        )
    except (ValueError, KeyError, TypeError) as exc:
        report.fail(f"unreadable manifest or signature: {exc}")
        return report
    key = trusted_key or embedded
    try:
        key.verify(signature, manifest_bytes)
    except InvalidSignature:
        report.fail("the manifest's signature does not verify with the trusted key")
    files: dict[str, str] = manifest.get("files", {})
    for name, digest in sorted(files.items()):
        if name not in names:
            report.fail(f"{name}: listed in the manifest, missing from the pack")
            continue
        actual = hashlib.sha256(archive.read(name)).hexdigest()
        if actual != digest:
            report.fail(f"{name}: SHA-256 {actual[:16]}… is not the manifest's {digest[:16]}…")
    for name in sorted(names - set(files) - {MANIFEST, SIGNATURE}):
        report.fail(f"{name}: in the pack but not in the manifest")
    if AUDIT_CSV in names and AUDIT_CSV in files:
        _verify_chain_segment(archive.read(AUDIT_CSV), manifest.get("checkpoint", {}), report)
    return report


def _verify_chain_segment(data: bytes, checkpoint: dict[str, Any], report: PackReport) -> None:
    """Each audit event's hash recomputed from its header and predecessor; the last
    one must be the signed checkpoint."""
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    previous: dict[str, str] | None = None
    for row in rows:
        seq = int(row["seq"])
        if previous is not None and (
            int(previous["seq"]) + 1 != seq or row["prev_hash"] != previous["hash"]
        ):
            report.fail(f"audit event {seq}: does not follow event {previous['seq']}")
        header = {
            "project_id": int(row["project_id"]),
            "seq": seq,
            "actor": row["actor"],
            "action": row["action"],
            "subject": row["subject"],
            "occurred_at": row["occurred_at"],
            "payload_sha256": row["payload_sha256"],
        }
        if link_hash(row["prev_hash"], header) != row["hash"]:
            report.fail(f"audit event {seq}: its hash does not match its contents")
        previous = row
    if previous is not None and checkpoint:
        last = (int(previous["seq"]), previous["hash"])
        if last != (checkpoint.get("seq"), checkpoint.get("hash")):
            report.fail("the audit events do not end at the signed checkpoint")
