"""Built-in Keystone-v3-compatible identity: password auth, Fernet tokens, a catalog.

Users, projects and roles (admin, member, reader) come from the ``[identity]`` section of
the config (see `config`). Tokens are Fernet-encrypted payloads that any server copy with
the same ``token_key`` validates; nothing is stored. The server builds ``Identity(config,
public_url)``, mounts ``identity.routes()`` and turns each request's ``X-Auth-Token`` into
a `Context` with ``identity.authenticate(token)`` (or ``context_for_token``).
"""

from neutrino.identity.config import Domain, IdentityConfig, Project, User
from neutrino.identity.context import Context
from neutrino.identity.errors import (
    BadRequest,
    Forbidden,
    IdentityError,
    NotFound,
    NotImplementedByNeutrino,
    Unauthorized,
)
from neutrino.identity.service import Identity

__all__ = [
    "BadRequest",
    "Context",
    "Domain",
    "Forbidden",
    "Identity",
    "IdentityConfig",
    "IdentityError",
    "NotFound",
    "NotImplementedByNeutrino",
    "Project",
    "Unauthorized",
    "User",
]
