"""Password hashes for the config file: scrypt or PBKDF2-SHA256 from hashlib.

Formats (base64 is standard base64 with padding):

* ``scrypt$<n>$<r>$<p>$<salt base64>$<key base64>`` (what `hash_password` makes)
* ``pbkdf2_sha256$<iterations>$<salt base64>$<key base64>``

Make one with ``python -m neutrino.identity.hash PASSWORD``.
"""

import base64
import binascii
import hashlib
import hmac
import os

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
KEY_LENGTH = 32
FORMATS = "scrypt$N$R$P$SALT$KEY or pbkdf2_sha256$ITERATIONS$SALT$KEY (base64 salt and key)"


def hash_password(password: str, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A scrypt hash of the password, with a fresh random salt."""
    salt = os.urandom(16)
    key = _scrypt(password, salt, n, r, p, KEY_LENGTH)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def check_format(encoded: str) -> None:
    """Raise ValueError (naming the accepted formats) if the hash cannot be parsed."""
    _parse(encoded)


def verify_password(password: str, encoded: str) -> bool:
    """Whether the password matches the hash (constant-time comparison)."""
    scheme, params, salt, key = _parse(encoded)
    if scheme == "scrypt":
        n, r, p = params
        candidate = _scrypt(password, salt, n, r, p, len(key))
    else:
        (iterations,) = params
        candidate = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), salt, iterations, dklen=len(key)
        )
    return hmac.compare_digest(candidate, key)


def verify_plain(password: str, expected: str) -> bool:
    """Compare a password with a plain one from the config, in constant time."""
    return hmac.compare_digest(password.encode(), expected.encode())


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    maxmem = 128 * r * (n + p + 2) + 1024 * 1024
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=length)


def _parse(encoded: str) -> tuple[str, tuple[int, ...], bytes, bytes]:
    parts = encoded.split("$")
    scheme = parts[0]
    if scheme == "scrypt" and len(parts) == 6:
        params = _ints(parts[1:4])
        n, r, p = params
        if n < 2 or n & (n - 1) or r < 1 or p < 1:
            raise ValueError(f"bad scrypt parameters n={n} r={r} p={p}; n must be a power of 2")
    elif scheme == "pbkdf2_sha256" and len(parts) == 4:
        params = _ints(parts[1:2])
        if params[0] < 1:
            raise ValueError("pbkdf2_sha256 iterations must be positive")
    else:
        raise ValueError(f"unknown password hash format; expected {FORMATS}")
    salt, key = _unb64(parts[-2]), _unb64(parts[-1])
    if not key:
        raise ValueError("password hash has an empty key")
    return scheme, params, salt, key


def _ints(texts: list[str]) -> tuple[int, ...]:
    try:
        return tuple(int(text) for text in texts)
    except ValueError:
        raise ValueError(f"password hash parameters must be integers; expected {FORMATS}") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError(f"password hash salt or key is not base64; expected {FORMATS}") from None
