"""Digests of the records the audit chain vouches for, as pure functions.

An ingest batch's audit event carries the Merkle root (RFC 6962 §2.1) over the
canonical form of each row it stored; verification recomputes the root from the rows
as they are stored now, so an edited, deleted or inserted prediction or label names
its batch. An alert's transitions carry the digest of its whole row.

The canonical form is computed from the values the service inserts, and again from
the values read back, on SQLite or PostgreSQL; the two must agree byte for byte:

- times are the UTC text ``YYYY-MM-DD HH:MM:SS.ffffff`` (SQLite's storage form;
  PostgreSQL's ``to_char`` gives the same), so they are never parsed to check;
- JSON values are written by orjson with sorted keys. PostgreSQL's JSONB keeps
  numbers as decimals, so a float JSON writes in exponent form (``1e+16``) comes
  back as the integer 10000000000000000, and ``-0.0`` as ``0.0``; such numbers are
  made canonical (an integer; ``0.0``), and integers past 64 bits, which orjson
  cannot write, become ``{"$int": "<digits>"}``. Only rows whose text shows such a
  number take that slower path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()
_INT64 = 2**63
_SORTED = orjson.OPT_SORT_KEYS
_dumps, _loads, _sha256 = orjson.dumps, orjson.loads, hashlib.sha256


def _needs_canonical(text: bytes) -> bool:
    """Whether orjson's output holds a number JSONB would give back differently: a
    positive exponent, or negative zero as a token of its own (not -0.05)."""
    return b"e+" in text or b"-0.0," in text or b"-0.0]" in text or b"-0.0}" in text


def canonical_number(value: float | int) -> Any:
    if type(value) is float:
        if value == 0.0:
            return 0.0
        if abs(value) < 1e16:
            return value
        value = int(Decimal(repr(value)))
    if -_INT64 <= value < _INT64:
        return value
    return {"$int": str(value)}


def canonical(value: Any) -> Any:
    """``value`` with every number in canonical form; other JSON values unchanged."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is float or kind is int:
        return canonical_number(value)
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, int | float):  # numpy scalars and other number types
        return canonical_number(float(value) if isinstance(value, float) else int(value))
    raise TypeError(f"{kind.__name__} has no canonical form")


def stamp(value: datetime | None) -> str | None:
    """A time as the canonical UTC text, ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return value.isoformat(" ", "microseconds")[:-6]  # less "+00:00"


def digest_bytes(fields: Sequence[Any]) -> bytes:
    try:
        text = orjson.dumps(fields, option=_SORTED)
    except TypeError:  # an integer past 64 bits
        text = b"e+"
    if _needs_canonical(text):
        text = orjson.dumps(canonical(list(fields)), option=_SORTED)
    return text


def leaf(fields: Sequence[Any]) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + digest_bytes(fields)).digest()


def features_json(features: Mapping[str, Any]) -> bytes:
    """The features as canonical JSON text (sorted keys): what ingest stores and what a
    prediction's leaf embeds, serialized once."""
    return _dumps(features, option=_SORTED)


def prediction_fields(
    row: Mapping[str, Any], *, features: bytes | None = None, received: str | None = None
) -> list[Any]:
    """A prediction as the service inserts it (Python values); ``features`` and
    ``received`` may come already serialized (``features_json``, ``stamp``)."""
    return [
        row["event_id"],
        row["model_version_id"],
        stamp(row["occurred_at"]),
        received or stamp(row["received_at"]),
        row["features"] if features is None else orjson.Fragment(features),
        row["prediction"],
        row["score"],
        row["probabilities"],
        row["latency_ms"],
        row["compute_seconds"],
        row["tags"],
    ]


def prediction_leaf(
    row: Mapping[str, Any], *, features: bytes | None = None, received: str | None = None
) -> bytes:
    """The Merkle leaf hash of one prediction (32 bytes). Ingest runs it per row, so
    the common case (features already serialized, no number to canonicalize) is one
    orjson call and one hash."""
    if features is not None:
        text = _dumps(prediction_fields(row, features=features, received=received), option=_SORTED)
        if not _needs_canonical(text):
            return _sha256(LEAF_PREFIX + text).digest()
    return leaf(prediction_fields(row))


def label_fields(row: Mapping[str, Any]) -> list[Any]:
    return [
        row["event_id"],
        row["label"],
        stamp(row["occurred_at"]),
        stamp(row["received_at"]),
        stamp(row["updated_at"]),
    ]


def label_leaf(row: Mapping[str, Any]) -> bytes:
    return leaf(label_fields(row))


def json_value(stored: Any) -> Any:
    """A JSON column's value from its stored form: text to parse, or (SQLite's numeric
    affinity for a scalar) the number itself."""
    return orjson.loads(stored) if isinstance(stored, str | bytes) else stored


def _stored_leaf(fields: list[Any]) -> bytes:
    # digest_bytes and leaf, inlined: this runs once per stored row in verification.
    try:
        text = _dumps(fields, option=_SORTED)
    except TypeError:
        text = b"e+"
    if _needs_canonical(text):
        text = _dumps(canonical(fields), option=_SORTED)
    return _sha256(LEAF_PREFIX + text).digest()


def stored_prediction_leaf(row: Sequence[Any]) -> bytes:
    """The leaf from a row read in its stored form (times as canonical text, JSON as
    stored text; see backend.audit.repository.iter_stored_rows)."""
    features, prediction, probabilities, tags = row[4], row[5], row[7], row[10]
    return _stored_leaf(
        [
            row[0],
            row[1],
            row[2],
            row[3],
            _loads(features) if features.__class__ is str else features,
            _loads(prediction) if prediction.__class__ is str else prediction,
            row[6],
            None if probabilities is None else _loads(probabilities),
            row[8],
            row[9],
            None if tags is None else _loads(tags),
        ]
    )


def stored_label_leaf(row: Sequence[Any]) -> bytes:
    label = row[1]
    return _stored_leaf(
        [row[0], _loads(label) if label.__class__ is str else label, row[2], row[3], row[4]]
    )


def merkle_root(leaves: Sequence[bytes]) -> str:
    """RFC 6962's Merkle tree hash over leaf hashes in the given order: pairs hashed
    level by level, an odd last node promoted, which builds the same tree as the
    RFC's split at the largest power of two."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    sha = hashlib.sha256
    while len(level) > 1:
        paired = [
            sha(NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()


def root_of(keyed_leaves: Iterable[tuple[str, bytes]]) -> tuple[int, str]:
    """(rows, root) of leaves keyed by event id, ordered by event id (code points, the
    same in every database and in Python)."""
    ordered = sorted(keyed_leaves)
    return len(ordered), merkle_root([leaf for _, leaf in ordered])


def alert_fields(alert: Any) -> list[Any]:
    return [
        alert.id,
        alert.monitor_id,
        alert.model_version_id,
        alert.cause,
        alert.severity,
        alert.state,
        alert.message,
        alert.details,
        alert.first_run_id,
        alert.last_run_id,
        alert.run_count,
        stamp(alert.opened_at),
        stamp(alert.updated_at),
        stamp(alert.acknowledged_at),
        alert.acknowledged_by,
        alert.acknowledge_comment,
        stamp(alert.resolved_at),
        alert.resolved_by,
        alert.resolve_comment,
    ]


def alert_sha256(alert: Any) -> str:
    """The digest of an alert row as its last audited transition left it."""
    return hashlib.sha256(digest_bytes(alert_fields(alert))).hexdigest()
