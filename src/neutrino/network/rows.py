"""Stored rows every resource shares: new ids, lookups that answer Neutron's 404, revisions."""

import uuid

from sqlalchemy import Table, select, update

from . import errors


def new_id() -> str:
    return str(uuid.uuid4())


def get_row(conn, table: Table, resource_id: str, kind: str, lock: bool = False):
    query = select(table).where(table.c.id == resource_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise errors.not_found(kind, resource_id)
    return row


def save(tx, table: Table, row, values: dict, resource: str) -> None:
    """Update a row's columns, bump its revision and record the change."""
    rev = row.revision_number + 1
    tx.execute(
        update(table)
        .where(table.c.id == row.id)
        .values(**values, revision_number=rev, updated_at=tx.now)
    )
    tx.changed(resource, row.id, "update", row.project_id, rev)
