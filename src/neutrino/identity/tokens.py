"""Signed, expiring tokens: a compact JSON payload encrypted with Fernet.

No token is stored anywhere: any server copy holding the key (``identity.token_key``)
can validate a token. Two expiry checks apply: the payload's own ``expires_at`` and
Fernet's timestamp (never older than the configured TTL). ``old_token_keys`` still decrypt.
"""

import base64
import json
import os
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from neutrino.identity.errors import Unauthorized

VERSION = 1
MICROSECONDS = 1_000_000


@dataclass(frozen=True)
class TokenPayload:
    """What a token says. Times are integer microseconds since the Unix epoch."""

    user_id: str
    project_id: str
    roles: tuple[str, ...]
    methods: tuple[str, ...]
    issued_at: int
    expires_at: int
    audit_ids: tuple[str, ...]


def new_audit_id() -> str:
    """A random audit id as Keystone makes them: 16 bytes, url-safe base64, no padding."""
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


class TokenCodec:
    """Encrypts payloads with the first key; decrypts with any of them."""

    def __init__(self, keys: list[str], ttl: int) -> None:
        self.fernet = MultiFernet([Fernet(key) for key in keys])
        self.ttl = ttl

    def encode(self, payload: TokenPayload, now: float) -> str:
        """The token string for a payload, stamped at `now` (seconds)."""
        data = {
            "v": VERSION,
            "u": payload.user_id,
            "p": payload.project_id,
            "r": list(payload.roles),
            "m": list(payload.methods),
            "i": payload.issued_at,
            "e": payload.expires_at,
            "a": list(payload.audit_ids),
        }
        text = json.dumps(data, separators=(",", ":"))
        return self.fernet.encrypt_at_time(text.encode(), int(now)).decode()

    def decode(self, token: str, now: float) -> TokenPayload:
        """The payload of a valid, unexpired token; Unauthorized otherwise."""
        try:
            # One second of slack: the Fernet timestamp is truncated to whole seconds.
            text = self.fernet.decrypt_at_time(token.encode(), self.ttl + 1, int(now))
        except (InvalidToken, UnicodeError, TypeError):
            raise Unauthorized("The token is invalid or has expired.") from None
        payload = _parse(text)
        if payload.expires_at <= int(now * MICROSECONDS):
            raise Unauthorized("The token has expired.")
        return payload


def _parse(text: bytes) -> TokenPayload:
    try:
        data = json.loads(text)
        if data["v"] != VERSION:
            raise ValueError(data["v"])
        return TokenPayload(
            user_id=str(data["u"]),
            project_id=str(data["p"]),
            roles=tuple(data["r"]),
            methods=tuple(data["m"]),
            issued_at=int(data["i"]),
            expires_at=int(data["e"]),
            audit_ids=tuple(data["a"]),
        )
    except (ValueError, KeyError, TypeError):
        raise Unauthorized("The token is invalid.") from None
