"""Where the projects created through ``POST /v3/projects`` are kept.

`Identity` takes any object with the four methods of `ProjectStore`. The server passes
``neutrino.db.projects.DbProjectStore`` (the database, shared by every server copy);
`MemoryProjectStore` keeps them in this process only and is meant for unit tests.
Config-file projects are never in a store.
"""

import threading
from typing import Protocol

from neutrino.identity.config import Project


class ProjectStore(Protocol):
    """The projects created through the API."""

    def list(self) -> list[Project]:
        """Every stored project, in a stable order (roughly oldest first)."""

    def get(self, project_id: str) -> Project | None:
        """The stored project with this id, or None."""

    def add(self, project: Project) -> bool:
        """Store a new project; False (and nothing stored) if its name is taken in its domain."""

    def remove(self, project_id: str) -> bool:
        """Delete a stored project; whether there was one with this id."""


class MemoryProjectStore:
    """A `ProjectStore` in a dict: lost at exit and not shared between processes (tests only)."""

    def __init__(self) -> None:
        self._projects: dict[str, Project] = {}
        self._lock = threading.Lock()

    def list(self) -> list[Project]:
        with self._lock:
            return list(self._projects.values())

    def get(self, project_id: str) -> Project | None:
        with self._lock:
            return self._projects.get(project_id)

    def add(self, project: Project) -> bool:
        with self._lock:
            for other in self._projects.values():
                if (other.domain_id, other.name) == (project.domain_id, project.name):
                    return False
            self._projects[project.id] = project
            return True

    def remove(self, project_id: str) -> bool:
        with self._lock:
            return self._projects.pop(project_id, None) is not None
