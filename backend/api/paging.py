"""One paging convention for every list: keyset, newest first, ``limit`` and an opaque
``cursor`` in, ``items`` and ``next_cursor`` out.

A cursor names the list it came from and the key of the last item returned, so a
cursor of one list is refused by another. The parameters each list had before (
``after_id``, ``before_id``, ``after_seq``, ``before_seq``) still work for one release:
they are marked deprecated in OpenAPI, and an answer to a request that used one carries
a ``Deprecation`` header (RFC 9745).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import Query, Response

from backend.errors import InvalidInput

# When the old paging parameters were deprecated: the Deprecation header's date.
DEPRECATED_AT = datetime(2026, 12, 4, tzinfo=UTC)

QueryCursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        description="The next_cursor of the previous page; omit for the first page.",
    ),
]


def encode_cursor(kind: str, *key: Any) -> str:
    text = orjson.dumps([kind, *key])
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, *types: type) -> tuple[Any, ...]:
    """The key a cursor of list ``kind`` holds, each part checked against ``types``."""
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        decoded = None
    valid = (
        isinstance(decoded, list)
        and len(decoded) == len(types) + 1
        and decoded[0] == kind
        and all(
            isinstance(part, expected) and not isinstance(part, bool)
            for part, expected in zip(decoded[1:], types, strict=True)
        )
    )
    if not valid:
        raise InvalidInput(
            f"the cursor is not one this list ({kind}) returned",
            errors=[{"field": "cursor", "message": "malformed or from another list"}],
        )
    return tuple(decoded[1:])


def deprecated_parameter(response: Response) -> None:
    """Marks an answer to a request that used a deprecated parameter."""
    response.headers["Deprecation"] = f"@{int(DEPRECATED_AT.timestamp())}"


def keyset_start(
    kind: str, cursor: str | None, legacy: int | None, legacy_name: str, response: Response
) -> int | None:
    """The id (or seq) below which the page starts: from the cursor, or from the
    deprecated parameter, never both."""
    if cursor is not None and legacy is not None:
        raise InvalidInput(
            f"give cursor or {legacy_name}, not both",
            errors=[{"field": legacy_name, "message": "deprecated; use cursor alone"}],
        )
    if legacy is not None:
        deprecated_parameter(response)
        return legacy
    if cursor is None:
        return None
    (key,) = decode_cursor(kind, cursor, int)
    return int(key)


def next_cursor(kind: str, keys: list[int], more: bool) -> str | None:
    return encode_cursor(kind, keys[-1]) if more and keys else None
