"""the publicity end index holds the decision date

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 19:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('penalty', schema=None) as batch_op:
        batch_op.drop_index('ix_penalty_publicity_end')
        batch_op.create_index(
            'ix_penalty_publicity_end', ['publicity_end_on', 'decision_on'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('penalty', schema=None) as batch_op:
        batch_op.drop_index('ix_penalty_publicity_end')
        batch_op.create_index('ix_penalty_publicity_end', ['publicity_end_on'], unique=False)
