"""The three Keystone default roles and their implications.

Keystone's defaults: ``admin`` implies ``member``, which implies ``reader``. Tokens carry
the effective (expanded) set, as Keystone's do.
"""

import uuid

ROLES = ("admin", "member", "reader")

IMPLIES = {"admin": ("member",), "member": ("reader",), "reader": ()}

# Stable ids shared by every server copy (uuid5 of the role name, 32 hex like Keystone's).
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://neutrino/identity")


def stable_id(kind: str, name: str) -> str:
    """A 32-hex id derived from a kind ("project", "user", ...) and a name."""
    return uuid.uuid5(ID_NAMESPACE, f"{kind}:{name}").hex


ROLE_IDS = {name: stable_id("role", name) for name in ROLES}


def expand(roles) -> frozenset[str]:
    """The roles plus every role they imply."""
    result: set[str] = set()
    pending = list(roles)
    while pending:
        role = pending.pop()
        if role not in result:
            result.add(role)
            pending.extend(IMPLIES.get(role, ()))
    return frozenset(result)


def ordered(roles) -> list[str]:
    """Role names in a fixed order: the known ones first (admin, member, reader), then others."""
    known = [name for name in ROLES if name in roles]
    return known + sorted(set(roles) - set(ROLES))
