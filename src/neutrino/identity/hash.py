"""Command line helper for the ``[identity]`` config section.

``python -m neutrino.identity.hash PASSWORD`` prints a ``password_hash`` value (scrypt);
``python -m neutrino.identity.hash --token-key`` prints a fresh ``token_key`` (Fernet key).
"""

import sys

from cryptography.fernet import Fernet

from neutrino.identity.passwords import hash_password

USAGE = "usage: python -m neutrino.identity.hash PASSWORD | --token-key"


def main(argv: list[str]) -> int:
    """Print the hash of the one argument, or a new token key; 2 on bad usage."""
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] == "--token-key":
        print(Fernet.generate_key().decode())
    else:
        print(hash_password(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
