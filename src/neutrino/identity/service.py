"""The built-in identity: issues and validates tokens for the users of the config file.

`Identity` is what the server holds: `routes()` for the ``/v3`` HTTP API, and
`context_for_token` / `authenticate` to turn a request's ``X-Auth-Token`` into a `Context`.
Users and roles live in the config and tokens carry the rest; projects created through the
API live in the `project_store` (the database in the server), so every server copy agrees.
"""

import logging
import time
from datetime import UTC, datetime, timedelta

from neutrino.identity import roles as role_names
from neutrino.identity.auth_request import PasswordAuth, ProjectScope, parse_auth
from neutrino.identity.catalog import build_catalog
from neutrino.identity.config import IdentityConfig, Project, User
from neutrino.identity.context import Context
from neutrino.identity.errors import Forbidden, NotFound, Unauthorized
from neutrino.identity.project_store import MemoryProjectStore, ProjectStore
from neutrino.identity.projects import Directory
from neutrino.identity.tokens import MICROSECONDS, TokenCodec, TokenPayload, new_audit_id

LOG = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Identity:
    """Tokens, callers, domains and projects for one server.

    `project_store` keeps the projects created through the API; the default,
    `MemoryProjectStore`, forgets them at exit and is for tests. `clock` (seconds, like
    time.time) is for tests too.
    """

    def __init__(
        self,
        config: IdentityConfig,
        public_url: str,
        clock=time.time,
        project_store: ProjectStore | None = None,
    ) -> None:
        self.config = config
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        keys = [config.token_key, *config.old_token_keys]
        self.codec = TokenCodec(keys, config.token_ttl)
        self.catalog = build_catalog(self.public_url, config.region)
        store = project_store if project_store is not None else MemoryProjectStore()
        self.directory = Directory(config, store, self.public_url)

    @property
    def noauth(self) -> bool:
        """Whether the server runs with ``auth_strategy = "noauth"``."""
        return self.config.auth_strategy == "noauth"

    def routes(self) -> list:
        """The Starlette routes of the ``/v3`` API (none of them needs a token to be reached)."""
        from neutrino.identity.api import build_routes

        return build_routes(self)

    def authenticate(self, token: str | None) -> Context:
        """The caller of a network API request: noauth admin, or the token's user."""
        if self.noauth:
            project = self.config.noauth_project
            return Context.noauth(project.id, project.name)
        if not token:
            raise Unauthorized()
        return self.context_for_token(token)

    def context_for_token(self, token: str) -> Context:
        """The caller a token stands for; Unauthorized if invalid, expired or out of date."""
        payload, user, project, roles = self._resolve(token)
        return Context(
            user_id=user.id,
            user_name=user.name,
            project_id=project.id,
            project_name=project.name,
            roles=roles,
            domain_id=project.domain_id,
        )

    def project_exists(self, project_id: str) -> bool:
        """Whether a project with this id is in the config or was created through the API."""
        return self.directory.project(project_id) is not None

    def list_domains(self, token: str | None, query: dict) -> list[dict]:
        """``GET /v3/domains`` (admin only)."""
        self._admin(token, "list_domains")
        return self.directory.domain_views(query)

    def get_domain(self, token: str | None, domain_id: str) -> dict:
        """``GET /v3/domains/{id}``: admins, and callers whose project is in the domain."""
        caller = self.authenticate(token)
        if not caller.is_admin and caller.domain_id != domain_id:
            raise _forbidden("get_domain")
        return self.directory.domain_view(self.directory.domain(domain_id))

    def list_projects(self, token: str | None, query: dict) -> list[dict]:
        """``GET /v3/projects`` (admin only): config projects and created ones."""
        self._admin(token, "list_projects")
        return self.directory.project_views(query)

    def get_project(self, token: str | None, project_id: str) -> dict:
        """``GET /v3/projects/{id}``: admins, and callers scoped to that project."""
        caller = self.authenticate(token)
        if not caller.is_admin and caller.project_id != project_id:
            raise _forbidden("get_project")
        project = self.directory.project(project_id)
        if project is None:
            raise NotFound(f"Could not find project: {project_id}.")
        return self.directory.project_view(project)

    def create_project(self, token: str | None, body) -> dict:
        """``POST /v3/projects`` (admin only); the domain defaults to the caller's."""
        caller = self._admin(token, "create_project")
        project = self.directory.create(body, caller.domain_id)
        LOG.info("identity: %s created project %s (%s)", caller.user_name, project.id, project.name)
        return self.directory.project_view(project)

    def delete_project(self, token: str | None, project_id: str) -> None:
        """``DELETE /v3/projects/{id}`` (admin only); config-file projects are refused."""
        caller = self._admin(token, "delete_project")
        self.directory.delete(project_id)
        LOG.info("identity: %s deleted project %s", caller.user_name, project_id)

    def issue_token(self, body, catalog: bool = True) -> tuple[str, dict]:
        """Authenticate a ``POST /v3/auth/tokens`` body; the new token and its body."""
        request = parse_auth(body)
        now = self.clock()
        now_us = int(now * MICROSECONDS)
        methods: tuple[str, ...]
        audit_ids: tuple[str, ...]
        if isinstance(request, PasswordAuth):
            user = self._password_user(request)
            methods = ("password",)
            audit_ids = (new_audit_id(),)
            expires_at = now_us + self.config.token_ttl * MICROSECONDS
        else:
            parent, user, _, _ = self._resolve(request.token)
            methods = tuple(dict.fromkeys(("token", *parent.methods)))
            audit_ids = (new_audit_id(), parent.audit_ids[-1])
            expires_at = parent.expires_at
        project = self._scope_project(request.scope, user)
        roles = self._roles_on(user, project)
        if not roles:
            raise Unauthorized(f"User {user.id} has no access to project {project.id}.")
        payload = TokenPayload(
            user_id=user.id,
            project_id=project.id,
            roles=tuple(role_names.ordered(roles)),
            methods=methods,
            issued_at=now_us,
            expires_at=expires_at,
            audit_ids=audit_ids,
        )
        token = self.codec.encode(payload, now)
        return token, self._token_body(payload, user, project, roles, catalog)

    def validate_token(self, caller_token: str | None, subject_token: str | None, catalog=True):
        """``GET /v3/auth/tokens``: the subject token's body; 401/403/404 as Keystone."""
        caller = self.context_for_token(caller_token or "")
        if not subject_token:
            raise NotFound("Could not find token: no X-Subject-Token header.")
        try:
            payload, user, project, roles = self._resolve(subject_token)
        except Unauthorized as e:
            raise NotFound(f"Could not find token: {e.message}") from None
        if not caller.is_admin and caller.user_id != user.id:
            raise _forbidden("validate_token")
        return self._token_body(payload, user, project, roles, catalog)

    def caller_projects(self, token: str | None) -> list[dict]:
        """``GET /v3/auth/projects``: the projects the caller may scope to."""
        caller = self.context_for_token(token or "")
        user = self.config.user(caller.user_id)
        if user is None:
            raise Unauthorized("The token's user no longer exists.")
        return [self.directory.project_view(self.config.project_of(user))]

    def _admin(self, token: str | None, action: str) -> Context:
        caller = self.authenticate(token)
        if not caller.is_admin:
            raise _forbidden(action)
        return caller

    def _password_user(self, request: PasswordAuth) -> User:
        ref = request.user
        if "id" in ref:
            user = self.config.user(ref["id"])
        else:
            domain = self.config.find_domain(ref["domain"])
            user = None if domain is None else self.config.user_named(ref["name"], domain.id)
        if user is None or not user.check_password(request.password):
            LOG.info("identity: failed password authentication for user %r", ref)
            raise Unauthorized()
        return user

    def _scope_project(self, scope: ProjectScope | None, user: User) -> Project:
        if scope is None:
            return self.config.project_of(user)
        project: Project | None = None
        if scope.id is not None:
            project = self.config.project(scope.id)
        elif scope.name is not None and scope.domain is not None:  # as parse_auth makes it
            domain = self.config.find_domain(scope.domain)
            if domain is not None:
                project = self.config.project_named(scope.name, domain.id)
        if project is None:
            raise Unauthorized(f"User {user.id} has no access to the requested project.")
        return project

    def _roles_on(self, user: User, project: Project) -> frozenset[str]:
        if user.project_id != project.id:
            return frozenset()
        return role_names.expand(user.roles)

    def _resolve(self, token: str) -> tuple[TokenPayload, User, Project, frozenset[str]]:
        """Decode a token and check it against the config as it is now."""
        payload = self.codec.decode(token, self.clock())
        user = self.config.user(payload.user_id)
        project = self.config.project(payload.project_id)
        if user is None or project is None:
            raise Unauthorized("The token's user or project no longer exists.")
        roles = role_names.expand(payload.roles) & self._roles_on(user, project)
        if not roles:
            raise Unauthorized("The token's user no longer has a role on its project.")
        return payload, user, project, roles

    def _token_body(self, payload, user: User, project: Project, roles, catalog: bool) -> dict:
        token = {
            "methods": list(payload.methods),
            "user": {
                "id": user.id,
                "name": user.name,
                "domain": self.config.domain_of(user).ref(),
                "password_expires_at": None,
            },
            "project": {
                "id": project.id,
                "name": project.name,
                "domain": self.config.domain_of(project).ref(),
            },
            "roles": [
                {"id": role_names.ROLE_IDS[name], "name": name}
                for name in role_names.ordered(roles)
            ],
            "expires_at": _timestamp(payload.expires_at),
            "issued_at": _timestamp(payload.issued_at),
            "audit_ids": list(payload.audit_ids),
            "is_domain": False,
        }
        if catalog:
            token["catalog"] = self.catalog
        return {"token": token}


def _forbidden(action: str) -> Forbidden:
    return Forbidden(f"You are not authorized to perform the requested action: identity:{action}.")


def _timestamp(microseconds: int) -> str:
    """ISO 8601 with microseconds and Z, as Keystone writes expires_at."""
    moment = EPOCH + timedelta(microseconds=microseconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
