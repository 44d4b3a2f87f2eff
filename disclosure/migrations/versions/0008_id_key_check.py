"""the database keeps a check of its identity-number key, so that a node given another key says
so, and `gongshi init --rotate-id-key` can key its digests again

Revision ID: 0008
Revises: 0007_hC
Create Date: 2026-12-07 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

from disclosure import idkey

revision: str = '0008'
down_revision: str | None = '0007_hC'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'id_key_check',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    # the key that migrates a database is the key of its digests (0006 keyed them with it)
    idkey.verify(op.get_bind(), context.config.attributes.get('id_key'))


def downgrade() -> None:
    op.drop_table('id_key_check')
