"""The audit hash chain, as pure functions: anyone can verify a chain offline.

    hash_n = SHA-256(DOMAIN_TAG || prev_hash_n || canonical_json(header_n))

The header holds project, seq, actor, action, subject, time and the payload's SHA-256,
so the payload itself can be deleted by retention without breaking the chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

DOMAIN_TAG = b"verity.audit.v1\x00"
GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8: the same value always gives the same bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def sha256_hex(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def format_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class ChainLink:
    project_id: int
    seq: int
    actor: str
    action: str
    subject: str
    occurred_at: datetime
    payload_sha256: str
    prev_hash: str
    hash: str

    def header(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "seq": self.seq,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "occurred_at": format_time(self.occurred_at),
            "payload_sha256": self.payload_sha256,
        }


def link_hash(prev_hash: str, header: dict[str, Any]) -> str:
    digest = hashlib.sha256(DOMAIN_TAG)
    digest.update(bytes.fromhex(prev_hash))
    digest.update(canonical_json(header).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    reason: str | None = None
    payloads_checked: int = 0
    # Payloads gone, each inside a range a retention purge event recorded.
    payloads_missing: int = 0
    # Records checked against the digests the chain carries.
    predictions_checked: int = 0
    labels_checked: int = 0
    runs_checked: int = 0
    alerts_checked: int = 0
    # The newest signed checkpoint the chain was checked against.
    checkpoint_seq: int | None = None


class _Walk:
    def __init__(self) -> None:
        self.expected_seq = 1
        self.prev_hash = GENESIS_HASH
        self.events = 0
        self.checked = 0
        self.missing = 0

    def fail(self, seq: int, reason: str) -> VerifyResult:
        return VerifyResult(
            ok=False,
            events=self.events,
            head_seq=self.expected_seq - 1,
            head_hash=self.prev_hash,
            first_bad_seq=seq,
            reason=reason,
            payloads_checked=self.checked,
            payloads_missing=self.missing,
        )


def verify_chain(links: Iterable[tuple[ChainLink, str | None]]) -> VerifyResult:
    """Walk ``(link, payload_body)`` pairs in ascending seq order.

    Catches edited headers or payloads, deleted, reordered and inserted rows; names
    the first sequence number that does not verify. A payload of ``None`` was
    deleted by retention and is counted, not failed.
    """
    walk = _Walk()
    for link, body in links:
        if link.seq < walk.expected_seq:
            return walk.fail(link.seq, f"sequence number {link.seq} appears more than once")
        if link.seq > walk.expected_seq:
            return walk.fail(walk.expected_seq, f"event {walk.expected_seq} is missing")
        if link.prev_hash != walk.prev_hash:
            return walk.fail(link.seq, "prev_hash does not match the previous event's hash")
        if link_hash(link.prev_hash, link.header()) != link.hash:
            return walk.fail(link.seq, "hash does not match the event's contents")
        if body is None:
            walk.missing += 1
        elif sha256_hex(body) != link.payload_sha256:
            return walk.fail(link.seq, "payload does not match its payload_sha256")
        else:
            walk.checked += 1
        walk.events += 1
        walk.expected_seq += 1
        walk.prev_hash = link.hash
    return VerifyResult(
        ok=True,
        events=walk.events,
        head_seq=walk.expected_seq - 1,
        head_hash=walk.prev_hash,
        payloads_checked=walk.checked,
        payloads_missing=walk.missing,
    )
