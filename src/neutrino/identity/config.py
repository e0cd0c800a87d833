"""The ``[identity]`` section of the TOML config: strategy, token key, domains, projects, users.

Example::

    [identity]
    auth_strategy = "keystone"          # or "noauth" (development: every caller is admin)
    token_key = "<python -m neutrino.identity.hash --token-key>"
    old_token_keys = []                 # previous keys, still accepted (key rotation)
    token_ttl = 3600                    # seconds
    region = "RegionOne"
    noauth_project = "admin"            # noauth callers' project (default: the first one)

    [[identity.domains]]                # default: one domain, id "default", name "Default"
    id = "default"
    name = "Default"

    [[identity.projects]]               # default: one project named "admin"
    name = "admin"                      # id: optional, default uuid5 of the name (32 hex)

    [[identity.users]]
    name = "admin"
    password = "secret"                 # or password_hash = "scrypt$..." (see passwords.py)
    project = "admin"                   # name or id of the user's (only) project
    roles = ["admin"]                   # admin, member and/or reader
    # id, domain: optional (default: uuid5 of the name, and the "default" domain)

Names of projects and of users are unique across the file (their default ids derive from
them). Every mistake raises ValueError naming the key, the bad value and what is allowed.
"""

import re
from dataclasses import dataclass, field
from typing import TypeVar

from cryptography.fernet import Fernet

from neutrino.identity import passwords
from neutrino.identity.roles import ROLES, stable_id

_T = TypeVar("_T")

STRATEGIES = ("keystone", "noauth")
TOP_KEYS = (
    "auth_strategy",
    "token_key",
    "old_token_keys",
    "token_ttl",
    "region",
    "noauth_project",
    "domains",
    "projects",
    "users",
)
DOMAIN_KEYS = ("id", "name")
PROJECT_KEYS = ("id", "name", "domain")
USER_KEYS = ("id", "name", "password", "password_hash", "project", "roles", "domain")
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
KEY_HELP = "generate one with: python -m neutrino.identity.hash --token-key"


@dataclass(frozen=True)
class Domain:
    """A Keystone domain (only a namespace here)."""

    id: str
    name: str

    def ref(self) -> dict:
        """The ``{"id", "name"}`` reference used in token bodies."""
        return {"id": self.id, "name": self.name}


@dataclass(frozen=True)
class Project:
    """A project (tenant): from the config file, or created through ``POST /v3/projects``."""

    id: str
    name: str
    domain_id: str
    description: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class User:
    """A user with a plain or hashed password and roles on one project."""

    id: str
    name: str
    domain_id: str
    project_id: str
    roles: tuple[str, ...]
    password: str | None = field(default=None, repr=False)
    password_hash: str | None = field(default=None, repr=False)

    def check_password(self, password: str) -> bool:
        """Whether the password is this user's."""
        if self.password_hash is not None:
            return passwords.verify_password(password, self.password_hash)
        return passwords.verify_plain(password, self.password or "")


@dataclass(frozen=True)
class IdentityConfig:
    """The parsed ``[identity]`` section; build it with `from_dict`."""

    auth_strategy: str
    token_key: str = field(repr=False)
    token_ttl: int
    region: str
    domains: tuple[Domain, ...]
    projects: tuple[Project, ...]
    users: tuple[User, ...]
    noauth_project_id: str
    old_token_keys: tuple[str, ...] = field(default=(), repr=False)
    token_key_generated: bool = False

    @classmethod
    def from_dict(cls, d: dict) -> "IdentityConfig":
        """Parse the section; ValueError names the bad key or value and what is allowed."""
        if not isinstance(d, dict):
            raise ValueError(f"identity: expected a table, got {d!r}")
        _check_keys(d, TOP_KEYS, "identity")
        strategy = d.get("auth_strategy", "keystone")
        if strategy not in STRATEGIES:
            raise ValueError(
                f"identity.auth_strategy: {strategy!r} is not allowed; use one of "
                + ", ".join(repr(s) for s in STRATEGIES)
            )
        token_key, generated = _token_key(d.get("token_key"), strategy)
        old_keys = d.get("old_token_keys", [])
        if not isinstance(old_keys, list):
            raise ValueError(f"identity.old_token_keys: expected a list of keys, got {old_keys!r}")
        for i, key in enumerate(old_keys):
            _check_fernet_key(key, f"identity.old_token_keys[{i}]")
        ttl = d.get("token_ttl", 3600)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 1:
            raise ValueError(f"identity.token_ttl: {ttl!r} is not allowed; use whole seconds >= 1")
        region = _name(d, "region", "identity", "RegionOne")
        domains = _domains(d.get("domains", [{"id": "default", "name": "Default"}]))
        projects = _projects(d.get("projects", [{"name": "admin"}]), domains)
        users = _users(d.get("users", []), domains, projects)
        noauth_project = _noauth_project(d.get("noauth_project"), projects)
        return cls(
            auth_strategy=strategy,
            token_key=token_key,
            token_ttl=ttl,
            region=region,
            domains=domains,
            projects=projects,
            users=users,
            noauth_project_id=noauth_project,
            old_token_keys=tuple(old_keys),
            token_key_generated=generated,
        )

    def domain(self, domain_id: str) -> Domain | None:
        """The domain with this id."""
        return next((x for x in self.domains if x.id == domain_id), None)

    def domain_of(self, item: "User | Project") -> Domain:
        """The domain of a user or project (every reference is checked when loaded)."""
        return _known(self.domain(item.domain_id), "domain", item.domain_id)

    def project_of(self, user: User) -> Project:
        """The project of a user of this configuration (checked when loaded)."""
        return _known(self.project(user.project_id), "project", user.project_id)

    @property
    def noauth_project(self) -> Project:
        """The project of the noauth caller (checked when loaded)."""
        return _known(self.project(self.noauth_project_id), "project", self.noauth_project_id)

    def find_domain(self, ref: dict) -> Domain | None:
        """The domain a request names by ``{"id": ...}`` or ``{"name": ...}``."""
        if "id" in ref:
            return self.domain(ref["id"])
        return next((x for x in self.domains if x.name == ref.get("name")), None)

    def project(self, project_id: str) -> Project | None:
        """The project with this id."""
        return next((x for x in self.projects if x.id == project_id), None)

    def project_named(self, name: str, domain_id: str) -> Project | None:
        """The project with this name in this domain."""
        return next((x for x in self.projects if x.name == name and x.domain_id == domain_id), None)

    def user(self, user_id: str) -> User | None:
        """The user with this id."""
        return next((x for x in self.users if x.id == user_id), None)

    def user_named(self, name: str, domain_id: str) -> User | None:
        """The user with this name in this domain."""
        return next((x for x in self.users if x.name == name and x.domain_id == domain_id), None)


def _known(found: _T | None, kind: str, some_id: str) -> _T:
    if found is None:  # every reference is checked by from_dict: only a bug gets here
        raise LookupError(f"identity: no {kind} with id {some_id!r} in the configuration")
    return found


def _check_keys(d: dict, allowed: tuple[str, ...], where: str) -> None:
    for key in d:
        if key not in allowed:
            raise ValueError(f"{where}: unknown key {key!r}; allowed keys: {', '.join(allowed)}")


def _token_key(key, strategy: str) -> tuple[str, bool]:
    if key is None:
        if strategy == "noauth":
            return Fernet.generate_key().decode(), True
        raise ValueError(
            "identity.token_key is required (the same on every server copy) unless "
            f'auth_strategy = "noauth"; {KEY_HELP}, for example: '
            f'token_key = "{Fernet.generate_key().decode()}"'
        )
    _check_fernet_key(key, "identity.token_key")
    return key, False


def _check_fernet_key(key, where: str) -> None:
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise ValueError(
            f"{where}: {key!r} is not a Fernet key (32 bytes in url-safe base64, 44 characters);"
            f" {KEY_HELP}"
        ) from None


def _table_list(value, where: str) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise ValueError(f"{where}: expected a list of tables ([[{where}]]), got {value!r}")
    return value


def _name(d: dict, key: str, where: str, default: str | None = None) -> str:
    value = d.get(key, default)
    if value is None:
        raise ValueError(f"{where}.{key} is required")
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise ValueError(f"{where}.{key}: {value!r} is not allowed; use a non-empty string")
    return value


def _id(d: dict, where: str, kind: str, name: str) -> str:
    value = d.get("id")
    if value is None:
        return stable_id(kind, name)
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise ValueError(
            f"{where}.id: {value!r} is not allowed; use 1-64 letters, digits, '-' or '_'"
        )
    return value


def _unique(items, attribute: str, where: str) -> None:
    seen = set()
    for item in items:
        value = getattr(item, attribute)
        if value in seen:
            raise ValueError(f"{where}: {attribute} {value!r} appears twice; it must be unique")
        seen.add(value)


def _domains(value) -> tuple[Domain, ...]:
    domains = []
    for i, d in enumerate(_table_list(value, "identity.domains")):
        where = f"identity.domains[{i}]"
        _check_keys(d, DOMAIN_KEYS, where)
        name = _name(d, "name", where)
        if "id" not in d:
            raise ValueError(f"{where}.id is required")
        domains.append(Domain(id=_id(d, where, "domain", name), name=name))
    if not domains:
        raise ValueError("identity.domains: at least one domain is required")
    _unique(domains, "name", "identity.domains")
    _unique(domains, "id", "identity.domains")
    return tuple(domains)


def _domain_ref(d: dict, where: str, domains: tuple[Domain, ...]) -> str:
    ref = d.get("domain", "default")
    for domain in domains:
        if ref == domain.id or ref == domain.name:
            return domain.id
    known = ", ".join(repr(x.id) for x in domains)
    raise ValueError(
        f"{where}.domain: {ref!r} is not a configured domain id or name; known: {known}"
    )


def _projects(value, domains: tuple[Domain, ...]) -> tuple[Project, ...]:
    projects = []
    for i, d in enumerate(_table_list(value, "identity.projects")):
        where = f"identity.projects[{i}]"
        _check_keys(d, PROJECT_KEYS, where)
        name = _name(d, "name", where)
        project_id = _id(d, where, "project", name)
        projects.append(Project(id=project_id, name=name, domain_id=_domain_ref(d, where, domains)))
    if not projects:
        raise ValueError("identity.projects: at least one project is required")
    _unique(projects, "name", "identity.projects")
    _unique(projects, "id", "identity.projects")
    return tuple(projects)


def _project_ref(ref, where: str, projects: tuple[Project, ...]) -> str:
    for project in projects:
        if ref == project.name or ref == project.id:
            return project.id
    known = ", ".join(repr(x.name) for x in projects) or "none"
    raise ValueError(f"{where}: {ref!r} is not a configured project name or id; known: {known}")


def _roles(d: dict, where: str) -> tuple[str, ...]:
    roles = d.get("roles")
    if roles is None:
        raise ValueError(f"{where}.roles is required; allowed roles: {', '.join(ROLES)}")
    if not isinstance(roles, list) or not roles:
        raise ValueError(
            f"{where}.roles: {roles!r} is not allowed; use a non-empty list of {', '.join(ROLES)}"
        )
    for role in roles:
        if role not in ROLES:
            raise ValueError(
                f"{where}.roles: {role!r} is not a role; allowed roles: {', '.join(ROLES)}"
            )
    return tuple(dict.fromkeys(roles))


def _user(d: dict, where: str, domains, projects) -> User:
    _check_keys(d, USER_KEYS, where)
    name = _name(d, "name", where)
    password, password_hash = d.get("password"), d.get("password_hash")
    if (password is None) == (password_hash is None):
        raise ValueError(f"{where}: give exactly one of password or password_hash")
    if password is not None and (not isinstance(password, str) or not password):
        raise ValueError(f"{where}.password: use a non-empty string")
    if password_hash is not None:
        if not isinstance(password_hash, str):
            raise ValueError(f"{where}.password_hash: {password_hash!r} is not a string")
        try:
            passwords.check_format(password_hash)
        except ValueError as e:
            raise ValueError(f"{where}.password_hash: {e}") from None
    if "project" not in d:
        raise ValueError(f"{where}.project is required (the name or id of a configured project)")
    return User(
        id=_id(d, where, "user", name),
        name=name,
        domain_id=_domain_ref(d, where, domains),
        project_id=_project_ref(d["project"], f"{where}.project", projects),
        roles=_roles(d, where),
        password=password,
        password_hash=password_hash,
    )


def _users(value, domains, projects) -> tuple[User, ...]:
    users = []
    for i, d in enumerate(_table_list(value, "identity.users")):
        users.append(_user(d, f"identity.users[{i}]", domains, projects))
    _unique(users, "name", "identity.users")
    _unique(users, "id", "identity.users")
    return tuple(users)


def _noauth_project(ref, projects: tuple[Project, ...]) -> str:
    if ref is None:
        return projects[0].id
    return _project_ref(ref, "identity.noauth_project", projects)
