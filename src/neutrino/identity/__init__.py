"""Built-in Keystone-v3-compatible identity: password auth, Fernet tokens, a catalog.

Users, projects and roles (admin, member, reader) come from the ``[identity]`` section of
the config (see `config`). Tokens are Fernet-encrypted payloads that any server copy with
the same ``token_key`` validates; no token is stored. Admins may also create and delete
projects (``POST``/``DELETE /v3/projects``); those live in a `ProjectStore`. The server
builds ``Identity(config, public_url, project_store=DbProjectStore(db))``, mounts
``identity.routes()`` and turns each request's ``X-Auth-Token`` into a `Context` with
``identity.authenticate(token)`` (or ``context_for_token``).
"""

from neutrino.identity.config import Domain, IdentityConfig, Project, User
from neutrino.identity.context import Context
from neutrino.identity.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    IdentityError,
    NotFound,
    NotImplementedByNeutrino,
    Unauthorized,
)
from neutrino.identity.project_store import MemoryProjectStore, ProjectStore
from neutrino.identity.service import Identity

__all__ = [
    "BadRequest",
    "Conflict",
    "Context",
    "Domain",
    "Forbidden",
    "Identity",
    "IdentityConfig",
    "IdentityError",
    "MemoryProjectStore",
    "NotFound",
    "NotImplementedByNeutrino",
    "Project",
    "ProjectStore",
    "Unauthorized",
    "User",
]
