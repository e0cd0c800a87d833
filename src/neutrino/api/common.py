"""Pieces every resource uses: timestamps, standard attributes, lookups, revisions."""

from datetime import datetime

from sqlalchemy import Table, select

from ..network import errors
from ..network.rows import get_row, new_id, save


def ts(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def standard(row) -> dict:
    """description, revision_number, timestamps, owner and tags of a stored row."""
    return {
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "description": row.description,
        "revision_number": row.revision_number,
        "created_at": ts(row.created_at),
        "updated_at": ts(row.updated_at),
        "tags": [],
    }


def new_standard(tx, values: dict, ctx) -> dict:
    """Columns of a new row: id, owner, description, revision 1, timestamps."""
    return {
        "id": new_id(),
        "project_id": values["project_id"] if "project_id" in values else ctx.project_id,
        "description": values.get("description", ""),
        "revision_number": 1,
        "created_at": tx.now,
        "updated_at": tx.now,
    }


def owned_row(conn, ctx, table: Table, resource_id: str, kind: str):
    """A row the caller's project owns (admins: any); another project's answers 404."""
    row = get_row(conn, table, resource_id, kind)
    if not owns(ctx, row.project_id):
        raise errors.not_found(kind, resource_id)
    return row


def filtered(query, table: Table, columns: dict[str, list]):
    """The query with the list filters that map to columns (repeated values: any of them)."""
    for col, values in columns.items():
        query = query.where(table.c[col].in_(values))
    return query


def owned_rows(conn, ctx, table: Table, columns: dict[str, list]) -> list:
    """The rows a caller may list: its project's (admins: all), filtered."""
    query = select(table)
    if not ctx.is_admin:
        query = query.where(table.c.project_id == ctx.project_id)
    return conn.execute(filtered(query, table, columns)).all()


def bump(tx, table: Table, resource_id: str, resource: str) -> None:
    """A child changed (a subnet of a network, an interface of a router): new revision."""
    row = tx.execute(
        select(table.c.id, table.c.project_id, table.c.revision_number).where(
            table.c.id == resource_id
        )
    ).first()
    if row is not None:
        save(tx, table, row, {}, resource)


def require_writer(ctx, action: str) -> None:
    if not ctx.can_write:
        raise errors.forbidden(action)


def require_owner(ctx, project_id: str, action: str) -> None:
    """Changing a resource others may see (shared networks and their subnets): the
    owner's project (or an admin), and not as a reader; 403 otherwise."""
    if not owns(ctx, project_id):
        raise errors.forbidden(action)
    require_writer(ctx, action)


def owns(ctx, project_id: str) -> bool:
    return ctx.is_admin or project_id == ctx.project_id
