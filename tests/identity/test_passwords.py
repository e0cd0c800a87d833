"""Password hashes (scrypt, PBKDF2) and the command-line helper."""

import base64
import hashlib

import pytest
from cryptography.fernet import Fernet

from neutrino.identity import hash as hash_cli
from neutrino.identity.passwords import check_format, hash_password, verify_password


def test_scrypt_round_trip():
    encoded = hash_password("s3cret", n=2**4)
    assert encoded.startswith("scrypt$16$8$1$")
    assert verify_password("s3cret", encoded)
    assert not verify_password("s3cret ", encoded)


def test_default_parameters():
    assert hash_password("x").startswith("scrypt$16384$8$1$")


def test_salts_differ():
    assert hash_password("x", n=2**4) != hash_password("x", n=2**4)


def test_pbkdf2():
    salt = b"0123456789abcdef"
    key = hashlib.pbkdf2_hmac("sha256", b"pw", salt, 1000)
    encoded = (
        f"pbkdf2_sha256$1000${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"
    )
    assert verify_password("pw", encoded)
    assert not verify_password("pW", encoded)


@pytest.mark.parametrize(
    "encoded, message",
    [
        ("sha1$abc", "unknown password hash format"),
        ("scrypt$a$8$1$AAAA$AAAA", "must be integers"),
        ("scrypt$15$8$1$AAAA$AAAA", "n must be a power of 2"),
        ("scrypt$16$8$1$!!$AAAA", "not base64"),
        ("pbkdf2_sha256$0$AAAA$AAAA", "iterations must be positive"),
        ("pbkdf2_sha256$10$AAAA$", "empty key"),
    ],
)
def test_bad_formats(encoded, message):
    with pytest.raises(ValueError, match=message):
        check_format(encoded)


def test_cli_hashes_a_password(capsys):
    assert hash_cli.main(["pw"]) == 0
    assert verify_password("pw", capsys.readouterr().out.strip())


def test_cli_makes_a_token_key(capsys):
    assert hash_cli.main(["--token-key"]) == 0
    Fernet(capsys.readouterr().out.strip())


def test_cli_usage(capsys):
    assert hash_cli.main([]) == 2
    assert "usage" in capsys.readouterr().err
