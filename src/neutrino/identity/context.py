"""The caller of an API request: user, project and effective roles."""

from dataclasses import dataclass

from neutrino.identity import roles as role_names


@dataclass(frozen=True)
class Context:
    """Who is calling. `roles` is always the effective set (implied roles included)."""

    user_id: str
    user_name: str
    project_id: str
    project_name: str
    roles: frozenset[str]
    domain_id: str = "default"

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", role_names.expand(self.roles))

    @property
    def is_admin(self) -> bool:
        """The caller holds the admin role."""
        return "admin" in self.roles

    @property
    def can_write(self) -> bool:
        """The caller may change resources: admin or member; reader is read-only."""
        return "member" in self.roles

    @classmethod
    def noauth(cls, project_id: str, project_name: str | None = None) -> "Context":
        """The caller under ``auth_strategy = "noauth"``: admin of the given project."""
        return cls(
            user_id="noauth",
            user_name="admin",
            project_id=project_id,
            project_name=project_name or project_id,
            roles=frozenset({"admin"}),
        )
