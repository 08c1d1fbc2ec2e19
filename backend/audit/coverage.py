"""What the chain vouches for, collected while the chain is walked, and checked
against the records stored now: every ingest batch's rows against its Merkle root,
every check run and alert against its digest, both ways (an audited record that is
gone fails, and so does a stored one that was never audited), every missing payload
against a retention purge that covers it, and the chain against its checkpoints.

Pure: the rows come in as iterables, so this runs the same on any database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from backend.audit.chain import ChainLink
from backend.audit.checkpoints import Checkpoint
from backend.audit.records import root_of, stored_label_leaf, stored_prediction_leaf

# Events whose payloads anchor records still stored: retention keeps their payloads.
ANCHORING_ACTIONS = frozenset(
    {
        "predictions.ingest",
        "labels.ingest",
        "records.anchor",
        "check_run.record",
        "alert.open",
        "alert.acknowledge",
        "alert.resolve",
        "retention.purge",
    }
)


BATCH_ACTIONS = frozenset({"predictions.ingest", "labels.ingest", "records.anchor"})


@dataclass(frozen=True)
class Anchor:
    seq: int
    rows: int
    root: str


@dataclass
class Ledger:
    """What the payloads of the chain's events claim, the latest claim winning."""

    batches: dict[str, dict[int, Anchor]] = field(
        default_factory=lambda: {"predictions": {}, "labels": {}}
    )
    runs: dict[int, tuple[int, str]] = field(default_factory=dict)
    alerts: dict[int, tuple[int, str]] = field(default_factory=dict)
    missing_payloads: list[tuple[int, datetime]] = field(default_factory=list)
    purged_payloads: list[tuple[int, int]] = field(default_factory=list)
    # Purges written before they recorded sequence numbers: (their seq, cut-off).
    purged_before: list[tuple[int, datetime]] = field(default_factory=list)
    # The hashes of the events that checkpoints name.
    wanted_hashes: frozenset[int] = frozenset()
    hashes: dict[int, str] = field(default_factory=dict)

    def record(self, link: ChainLink, body: str | None) -> None:
        if link.seq in self.wanted_hashes:
            self.hashes[link.seq] = link.hash
        if body is None:
            self.missing_payloads.append((link.seq, link.occurred_at))
            return
        action = link.action
        if action not in ANCHORING_ACTIONS:
            return
        payload = orjson.loads(body)
        if "batch" in payload and action in BATCH_ACTIONS:
            batch = payload["batch"]
            kind = payload.get("kind") or action.split(".")[0]
            self.batches[kind][int(batch["id"])] = Anchor(link.seq, batch["rows"], batch["root"])
        for kind, anchors in (payload.get("reanchored") or {}).items():
            for batch_id, anchor in anchors.items():
                self.batches[kind][int(batch_id)] = Anchor(link.seq, anchor["rows"], anchor["root"])
        if action == "check_run.record":
            self.runs[int(payload["check_run_id"])] = (link.seq, payload["record_sha256"])
        elif action.startswith("alert.") and "record_sha256" in payload:
            self.alerts[int(payload["alert_id"])] = (link.seq, payload["record_sha256"])
        for alert_id, digest in (payload.get("alert_records") or {}).items():
            self.alerts[int(alert_id)] = (link.seq, digest)
        for first, last in payload.get("audit_payloads") or []:
            self.purged_payloads.append((int(first), int(last)))
        if action == "retention.purge" and "audit_payloads_before" in payload:
            cutoff = datetime.fromisoformat(payload["audit_payloads_before"])
            self.purged_before.append((link.seq, cutoff))

    def tee(
        self, links: Iterable[tuple[ChainLink, str | None]]
    ) -> Iterator[tuple[ChainLink, str | None]]:
        for link, body in links:
            self.record(link, body)
            yield link, body


@dataclass(frozen=True)
class Finding:
    """The first thing that does not verify: why, and the event it concerns."""

    reason: str
    seq: int | None


LEAVES: dict[str, Callable[[Sequence[Any]], bytes]] = {
    "predictions": stored_prediction_leaf,
    "labels": stored_label_leaf,
}
NOUN = {"predictions": "prediction", "labels": "label"}


def check_batches(
    kind: str, ledger: Ledger, rows: Iterable[Sequence[Any]]
) -> tuple[int, Finding | None]:
    """``rows`` in their stored form, event id first and ingest batch last, ordered by
    batch; (rows checked, first finding)."""
    anchors = ledger.batches[kind]
    leaf = LEAVES[kind]
    checked = 0
    seen: set[int] = set()
    current: int | None = None
    pending: list[tuple[str, bytes]] = []

    def close(batch_id: int | None) -> Finding | None:
        if batch_id is None:
            return None
        seen.add(batch_id)
        return _compare(kind, batch_id, anchors.get(batch_id), root_of(pending))

    for row in rows:
        batch_id = row[-1]
        if batch_id is None:
            return checked, Finding(
                f"{NOUN[kind]} '{row[0]}' belongs to no audited ingest batch: it was "
                "inserted outside Verity's ingest",
                None,
            )
        if batch_id != current:
            if (finding := close(current)) is not None:
                return checked, finding
            current, pending = batch_id, []
        pending.append((row[0], leaf(row)))
        checked += 1
    if (finding := close(current)) is not None:
        return checked, finding
    for batch_id in sorted(set(anchors) - seen):
        anchor = anchors[batch_id]
        if anchor.rows:
            return checked, Finding(
                f"the {anchor.rows} {kind} of ingest batch {batch_id} (audited at seq "
                f"{anchor.seq}) are gone: deleted outside retention",
                anchor.seq,
            )
    return checked, None


def _compare(
    kind: str, batch_id: int, anchor: Anchor | None, actual: tuple[int, str]
) -> Finding | None:
    rows, root = actual
    if anchor is None:
        return Finding(
            f"{rows} {kind} carry ingest batch {batch_id}, which no audit event records",
            None,
        )
    if root == anchor.root:
        return None
    if rows < anchor.rows:
        change = f"{anchor.rows - rows} of its {anchor.rows} rows were deleted"
    elif rows > anchor.rows:
        change = f"{rows - anchor.rows} rows were inserted into it"
    else:
        change = "a row was edited"
    return Finding(
        f"{kind} of ingest batch {batch_id} no longer match the Merkle root audited at seq "
        f"{anchor.seq}: {change}",
        anchor.seq,
    )


def check_digests(
    noun: str, claimed: Mapping[int, tuple[int, str]], stored: Iterable[tuple[int, str]]
) -> tuple[int, Finding | None]:
    """Stored (id, digest) pairs against the audited ones, both ways."""
    checked = 0
    seen = set()
    for record_id, digest in stored:
        seen.add(record_id)
        checked += 1
        if record_id not in claimed:
            return checked, Finding(f"{noun} {record_id} has no audit record", None)
        seq, audited = claimed[record_id]
        if digest != audited:
            return checked, Finding(
                f"{noun} {record_id} no longer matches the record audited at seq {seq}", seq
            )
    for record_id in sorted(set(claimed) - seen):
        seq, _ = claimed[record_id]
        return checked, Finding(
            f"{noun} {record_id}, audited at seq {seq}, is no longer stored", seq
        )
    return checked, None


def check_payloads(ledger: Ledger) -> tuple[int, Finding | None]:
    """Every missing payload lies in a range a retention purge event recorded (or,
    for purges from before ranges were recorded, is older than a later purge's
    cut-off)."""
    ranges = sorted(ledger.purged_payloads)
    for seq, occurred_at in ledger.missing_payloads:
        in_range = any(first <= seq <= last for first, last in ranges)
        by_cutoff = any(
            purge_seq > seq and occurred_at < cutoff for purge_seq, cutoff in ledger.purged_before
        )
        if not (in_range or by_cutoff):
            return len(ledger.missing_payloads), Finding(
                f"the payload of event {seq} is missing, and no retention purge removed it", seq
            )
    return len(ledger.missing_payloads), None


def check_checkpoints(
    checkpoints: Iterable[Checkpoint], hashes: Mapping[int, str], head_seq: int
) -> tuple[int | None, Finding | None]:
    """The chain still holds each checkpoint's seq with its hash; the newest seq."""
    newest = None
    for checkpoint in sorted(checkpoints, key=lambda c: c.seq):
        if checkpoint.seq > head_seq:
            return newest, Finding(
                f"the chain ends at seq {head_seq}, but a checkpoint signed at "
                f"{checkpoint.signed_at.isoformat()} saw seq {checkpoint.seq}: events were "
                "removed from its end",
                head_seq + 1,
            )
        if hashes.get(checkpoint.seq) != checkpoint.hash:
            return newest, Finding(
                f"event {checkpoint.seq} differs from the signed checkpoint of it: the chain "
                "was rewritten",
                checkpoint.seq,
            )
        newest = checkpoint.seq
    return newest, None
