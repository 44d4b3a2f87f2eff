"""each record keeps its party's name as the decision gave it

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 08:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('license', 'penalty', 'list_entry')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('party_name', sa.String(length=200), nullable=True))
        # the name each record showed until now: its subject's current one
        op.execute(
            f'UPDATE {table} SET party_name = '
            f'(SELECT subject.name FROM subject WHERE subject.id = {table}.subject_id)'
        )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('party_name')
