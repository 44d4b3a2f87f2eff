"""a record that ended keeps the public reason its department gave (说明理由), and a withdrawal
after an upheld objection says so

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('license', 'penalty', 'list_entry')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('end_explanation', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        # the reason of the record's withdrawal, and which end it was, from the withdrawal kept
        withdrawal = (
            "FROM withdrawal w WHERE w.record_kind = '{kind}' AND w.record_id = {table}.id "
            "AND w.withdrawn_on = {table}.ended_on ORDER BY w.id DESC LIMIT 1"
        ).format(kind=table, table=table)
        op.execute(
            f"UPDATE {table} SET end_explanation = (SELECT w.reason {withdrawal}) "
            f"WHERE end_reason = 'withdrawn'"
        )
        op.execute(
            f"UPDATE {table} SET end_reason = 'objection_upheld' WHERE end_reason = 'withdrawn' "
            f"AND (SELECT w.kind {withdrawal}) = 'objection_upheld'"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(
            f"UPDATE {table} SET end_reason = 'withdrawn' WHERE end_reason = 'objection_upheld' "
            f"AND EXISTS (SELECT 1 FROM withdrawal w WHERE w.record_id = {table}.id "
            f"AND w.record_kind = '{table}' AND w.kind = 'objection_upheld')"
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('end_explanation')
