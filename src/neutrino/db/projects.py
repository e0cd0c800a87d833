"""The identity's created projects in the database, shared by every server copy.

`DbProjectStore` is the `neutrino.identity.ProjectStore` the server gives its `Identity`:
projects made with ``POST /v3/projects`` go to the ``projects`` table, so they outlive a
restart and every copy of the server sees them. A name is unique in its domain; when two
writers race, the unique key makes the loser's transaction run again, and it then finds
the name taken. Projects are not network resources, so no change is recorded for agents.
"""

from sqlalchemy import delete, insert, select

from neutrino.identity.config import Project

from . import schema
from .database import Database, Tx

TABLE = schema.projects


class DbProjectStore:
    """Created projects, kept in the ``projects`` table of a `Database`."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def list(self) -> list[Project]:
        """Every stored project, by creation time (to the second), then id."""
        query = select(TABLE).order_by(TABLE.c.created_at, TABLE.c.id)
        return self.database.read(lambda conn: [_project(row) for row in conn.execute(query)])

    def get(self, project_id: str) -> Project | None:
        """The stored project with this id, or None."""
        query = select(TABLE).where(TABLE.c.id == project_id)
        row = self.database.read(lambda conn: conn.execute(query).first())
        return None if row is None else _project(row)

    def add(self, project: Project) -> bool:
        """Insert the project; False (nothing written) if its name is taken in its domain."""

        def write(tx: Tx) -> bool:
            taken = tx.execute(
                select(TABLE.c.id).where(
                    TABLE.c.domain_id == project.domain_id, TABLE.c.name == project.name
                )
            ).first()
            if taken is not None:
                return False
            tx.execute(
                insert(TABLE).values(
                    id=project.id,
                    name=project.name,
                    domain_id=project.domain_id,
                    description=project.description,
                    enabled=project.enabled,
                    created_at=tx.now,
                )
            )
            return True

        return self.database.write(write)

    def remove(self, project_id: str) -> bool:
        """Delete the stored project; whether there was one with this id."""
        statement = delete(TABLE).where(TABLE.c.id == project_id)
        return self.database.write(lambda tx: tx.execute(statement).rowcount > 0)


def _project(row) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        domain_id=row.domain_id,
        description=row.description,
        enabled=row.enabled,
    )
