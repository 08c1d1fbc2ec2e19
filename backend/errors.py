"""Expected failures as typed exceptions, rendered as RFC 9457 problem JSON.

VerityError
 ├── Unauthorized (401)
 ├── Forbidden (403)
 ├── NotFound (404)
 ├── RequestTimeout (408)
 ├── Conflict (409)
 ├── PayloadTooLarge (413)
 ├── UnsupportedMediaType (415)
 └── InvalidInput (422)
"""

from __future__ import annotations

from typing import Any, ClassVar


class VerityError(Exception):
    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers
        self.extensions = extensions


class Unauthorized(VerityError):
    status = 401
    slug = "unauthorized"
    title = "Missing or invalid API key"


class Forbidden(VerityError):
    status = 403
    slug = "forbidden"
    title = "Not allowed for this key"


class NotFound(VerityError):
    status = 404
    slug = "not-found"
    title = "Not found"


class RequestTimeout(VerityError):
    status = 408
    slug = "request-timeout"
    title = "Request body too slow"


class Conflict(VerityError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class PayloadTooLarge(VerityError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(VerityError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class InvalidInput(VerityError):
    status = 422
    slug = "invalid-input"
    title = "Invalid input"
