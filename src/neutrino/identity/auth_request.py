"""Parsing the body of ``POST /v3/auth/tokens`` into what the identity needs to know.

Shape problems are BadRequest (400) as in Keystone; methods this identity does not offer
(anything but one of ``password`` or ``token``) are Unauthorized (401), as Keystone answers
for unsupported methods. Scopes other than a project are refused as Unauthorized too: users
here hold roles on projects only.
"""

from dataclasses import dataclass

from neutrino.identity.errors import BadRequest, Unauthorized

METHODS = ("password", "token")


@dataclass(frozen=True)
class ProjectScope:
    """A project named by id, or by name within a domain (``{"id"}`` or ``{"name"}``)."""

    id: str | None = None
    name: str | None = None
    domain: dict | None = None


@dataclass(frozen=True)
class PasswordAuth:
    """An authentication by password: the user's reference (``{"id"}``, or ``{"name"}``
    with a domain) and the password."""

    user: dict
    password: str
    scope: ProjectScope | None = None


@dataclass(frozen=True)
class TokenAuth:
    """An authentication by an existing token."""

    token: str
    scope: ProjectScope | None = None


AuthRequest = PasswordAuth | TokenAuth


def parse_auth(body) -> AuthRequest:
    """The request from a decoded JSON body; BadRequest or Unauthorized when unusable."""
    auth = _object(body, "auth", "request body")
    identity = _object(auth, "identity", "auth")
    methods = identity.get("methods")
    if not isinstance(methods, list) or not methods:
        raise BadRequest("Expecting to find methods (a non-empty list) in identity.")
    if len(methods) != 1 or methods[0] not in METHODS:
        raise Unauthorized(
            "Attempted to authenticate with an unsupported method; "
            "use exactly one of: password, token."
        )
    method = methods[0]
    section = _object(identity, method, "identity")
    scope = _scope(auth.get("scope"))
    if method == "token":
        token = section.get("id")
        if not isinstance(token, str) or not token:
            raise BadRequest("Expecting to find id in token.")
        return TokenAuth(token=token, scope=scope)
    user = _object(section, "user", "password")
    _check_user(user)
    password = user.get("password")
    if not isinstance(password, str):
        raise Unauthorized()
    return PasswordAuth(user=user, password=password, scope=scope)


def _object(parent, key: str, where: str) -> dict:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, dict):
        raise BadRequest(f"Expecting to find {key} in {where}.")
    return value


def _check_user(user: dict) -> None:
    if isinstance(user.get("id"), str):
        return
    if not isinstance(user.get("name"), str):
        raise BadRequest("Expecting to find id or name in user.")
    _check_domain(user.get("domain"), "user")


def _check_domain(domain, where: str) -> None:
    if not isinstance(domain, dict) or not (
        isinstance(domain.get("id"), str) or isinstance(domain.get("name"), str)
    ):
        raise BadRequest(f"Expecting to find domain (with id or name) in {where}.")


def _scope(scope) -> ProjectScope | None:
    if scope is None:
        return None
    if scope == "unscoped":
        raise Unauthorized("Unscoped tokens are not offered; every token is scoped to a project.")
    if not isinstance(scope, dict) or len(scope) != 1:
        raise BadRequest("Expecting exactly one of project, domain or system in scope.")
    if "project" not in scope:
        kind = next(iter(scope))
        raise Unauthorized(f"Only project scope is offered; users have no roles on a {kind}.")
    project = scope["project"]
    if not isinstance(project, dict):
        raise BadRequest("Expecting to find id or name in project.")
    if isinstance(project.get("id"), str):
        return ProjectScope(id=project["id"])
    if not isinstance(project.get("name"), str):
        raise BadRequest("Expecting to find id or name in project.")
    _check_domain(project.get("domain"), "project")
    return ProjectScope(name=project["name"], domain=project["domain"])


def password_auth(
    username: str, password: str, project: str | None = None, domain: str = "default"
) -> dict:
    """The body of `POST /v3/auth/tokens` for a user's password, scoped to a project by name
    (both in the domain with this id); what clients of the built-in identity send."""
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": username, "password": password, "domain": {"id": domain}}
                },
            }
        }
    }
    if project is not None:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"id": domain}}}
    return body
