"""router_agent_bindings.ha_state: the VRRP state an agent reports for an HA router

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 23:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("router_agent_bindings") as batch_op:
        batch_op.add_column(sa.Column("ha_state", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("router_agent_bindings") as batch_op:
        batch_op.drop_column("ha_state")
