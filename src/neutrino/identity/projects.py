"""Domains and projects as ``/v3/domains`` and ``/v3/projects`` show them.

Domains come from the config file only. Projects are the config file's (read-only through
the API) plus those created with ``POST /v3/projects``, which live in a `ProjectStore`.
Bodies, filters and errors follow Keystone's; callers are checked by `Identity`, not here.
"""

import uuid

from neutrino.identity.config import Domain, IdentityConfig, Project
from neutrino.identity.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    NotImplementedByNeutrino,
)
from neutrino.identity.project_store import ProjectStore

NAME_MAX = 64  # Keystone's limit for project names
DESCRIPTION_MAX = 255  # the database column
FALSE_WORDS = ("0", "f", "false", "n", "no", "off")  # as Keystone reads boolean filters
PROJECT_FILTERS = ("name", "domain_id", "enabled", "is_domain", "parent_id")
DOMAIN_FILTERS = ("name", "enabled")


class Directory:
    """The domains and projects one identity knows, and their Keystone views."""

    def __init__(self, config: IdentityConfig, store: ProjectStore, public_url: str) -> None:
        self.config = config
        self.store = store
        self.public_url = public_url

    def domain(self, domain_id: str) -> Domain:
        """The configured domain with this id; NotFound otherwise."""
        domain = self.config.domain(domain_id)
        if domain is None:
            raise NotFound(f"Could not find domain: {domain_id}.")
        return domain

    def domain_views(self, query: dict) -> list[dict]:
        """``GET /v3/domains``: every domain matching the query's filters."""
        return _filtered([self.domain_view(d) for d in self.config.domains], query, DOMAIN_FILTERS)

    def domain_view(self, domain: Domain) -> dict:
        """A domain as Keystone shows it."""
        return {
            "id": domain.id,
            "name": domain.name,
            "description": "",
            "enabled": True,
            "tags": [],
            "options": {},
            "links": {"self": f"{self.public_url}/v3/domains/{domain.id}"},
        }

    def project(self, project_id: str) -> Project | None:
        """The project with this id, from the config file or the store."""
        return self.config.project(project_id) or self.store.get(project_id)

    def project_views(self, query: dict) -> list[dict]:
        """``GET /v3/projects``: config projects then stored ones, filtered by the query."""
        projects = [*self.config.projects, *self.store.list()]
        return _filtered([self.project_view(p) for p in projects], query, PROJECT_FILTERS)

    def project_view(self, project: Project) -> dict:
        """A project as Keystone shows it (no hierarchy: its parent is its domain)."""
        return {
            "id": project.id,
            "name": project.name,
            "domain_id": project.domain_id,
            "description": project.description,
            "enabled": project.enabled,
            "parent_id": project.domain_id,
            "is_domain": False,
            "tags": [],
            "options": {},
            "links": {"self": f"{self.public_url}/v3/projects/{project.id}"},
        }

    def create(self, body, default_domain_id: str) -> Project:
        """Store the project of a ``POST /v3/projects`` body; Conflict if its name is taken."""
        project = parse_project(body, self.config, default_domain_id)
        if self.config.project_named(project.name, project.domain_id) is not None:
            raise _name_taken(project)
        if not self.store.add(project):
            raise _name_taken(project)
        return project

    def delete(self, project_id: str) -> None:
        """Delete a stored project; config-file projects cannot be deleted."""
        if self.config.project(project_id) is not None:
            raise Forbidden(
                f"Project {project_id} comes from the [identity] section of the config file and "
                "cannot be deleted through the API; remove it from the config file instead."
            )
        if not self.store.remove(project_id):
            raise NotFound(f"Could not find project: {project_id}.")


def parse_project(body, config: IdentityConfig, default_domain_id: str) -> Project:
    """The new project a ``{"project": {...}}`` body asks for, with a fresh id."""
    ref = body.get("project") if isinstance(body, dict) else None
    if not isinstance(ref, dict):
        raise BadRequest("Expecting to find project in request body: {'project': {...}}.")
    name = ref.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
        raise BadRequest(
            f"Invalid input for field 'name': {name!r}; use a string of 1 to {NAME_MAX} "
            "characters that is not only spaces."
        )
    description = ref.get("description")
    if description is None:
        description = ""
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
        raise BadRequest(
            f"Invalid input for field 'description': use a string of at most {DESCRIPTION_MAX}"
            " characters."
        )
    domain_id = ref.get("domain_id")
    if domain_id is None:
        domain_id = default_domain_id
    if not isinstance(domain_id, str) or config.domain(domain_id) is None:
        raise BadRequest(f"Could not find domain: {domain_id}; domains come from the config file.")
    enabled = _boolean(ref, "enabled", True)
    if _boolean(ref, "is_domain", False):
        raise NotImplementedByNeutrino(
            "Projects acting as domains are not offered: domains come from the [identity] "
            "section of the config file."
        )
    if ref.get("parent_id") not in (None, domain_id):
        raise NotImplementedByNeutrino(
            "Project hierarchies are not offered: parent_id must be left out or be the domain id."
        )
    if ref.get("tags"):
        raise NotImplementedByNeutrino("Project tags are not offered by neutrino's identity.")
    return Project(
        id=uuid.uuid4().hex,
        name=name,
        domain_id=domain_id,
        description=description,
        enabled=enabled,
    )


def _boolean(ref: dict, key: str, default: bool) -> bool:
    value = ref.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(f"Invalid input for field '{key}': {value!r} is not a boolean.")
    return value


def _name_taken(project: Project) -> Conflict:
    return Conflict(
        "Conflict occurred attempting to store project - Duplicate entry found with name "
        f"{project.name} at domain ID {project.domain_id}."
    )


def _filtered(views: list[dict], query: dict, allowed: tuple[str, ...]) -> list[dict]:
    """The views whose attributes equal the query's filters (booleans read as Keystone does)."""
    for key in allowed:
        if key not in query:
            continue
        wanted = query[key]
        if key in ("enabled", "is_domain"):
            wanted = wanted.strip().lower() not in FALSE_WORDS
        views = [v for v in views if v[key] == wanted]
    return views
