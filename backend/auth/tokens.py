"""API key tokens: ``vt_<prefix>_<secret>``. Only an HMAC of the secret is stored."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_TOKEN = re.compile(r"^vt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class Token:
    prefix: str
    secret: str

    def __str__(self) -> str:
        return f"vt_{self.prefix}_{self.secret}"


def new_token() -> Token:
    return Token(prefix=secrets.token_hex(6), secret=secrets.token_urlsafe(32))


def parse_token(raw: str) -> Token | None:
    match = _TOKEN.match(raw.strip())
    return Token(prefix=match.group(1), secret=match.group(2)) if match else None


def secret_hmac(server_secret: str, token_secret: str) -> str:
    return hmac.new(server_secret.encode(), token_secret.encode(), hashlib.sha256).hexdigest()


def secret_matches(server_secret: str, token_secret: str, stored_hmac: str) -> bool:
    return hmac.compare_digest(secret_hmac(server_secret, token_secret), stored_hmac)
