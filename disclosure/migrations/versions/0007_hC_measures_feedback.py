"""the measures list (措施清单): each list's joint measures get a code, a legal basis, an
effective date and the (九) flag; implementing departments' reports (触发反馈)

Revision ID: 0007_hC
Revises: 0006
Create Date: 2026-12-07 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import disclosure.models
from alembic import op

revision: str = '0007_hC'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('joint_measure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.add_column(sa.Column('legal_basis', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('effective_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('reaches_legal_representative', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_unique_constraint('uq_joint_measure_code', ['code'])
    # the existing measures: the code their list gives them, and their list's legal basis
    op.execute(
        "UPDATE joint_measure SET "
        "code = (SELECT l.code FROM credit_list l WHERE l.id = joint_measure.list_id) "
        "|| '-' || CAST(id AS VARCHAR(20)), "
        "legal_basis = (SELECT l.legal_basis FROM credit_list l WHERE l.id = joint_measure.list_id) "
        "WHERE list_id IS NOT NULL"
    )
    # the implementer role is a longer word than the column was made for
    with op.batch_alter_table('token', schema=None) as batch_op:
        batch_op.alter_column('role', existing_type=sa.VARCHAR(length=18), type_=sa.Enum('department', 'operator', 'implementer', name='role', native_enum=False, length=19), existing_nullable=False)
    op.create_table('measure_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('measure_code', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=True),
    sa.Column('applied_on', sa.Date(), nullable=False),
    sa.Column('outcome', sa.Enum('applied', 'not_applied', name='feedbackoutcome', native_enum=False, create_constraint=False, length=19), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('triggers', sa.JSON(), nullable=False),
    sa.Column('reported_at', disclosure.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reversed_on', sa.Date(), nullable=True),
    sa.Column('reversal_note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['subject_id'], ['subject.id'], ),
    sa.ForeignKeyConstraint(['token_id'], ['token.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['department.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('measure_report', schema=None) as batch_op:
        batch_op.create_index('ix_measure_report_applied', ['applied_on'], unique=False)
        batch_op.create_index('ix_measure_report_unit', ['unit_id', 'applied_on'], unique=False)
        batch_op.create_index('ix_measure_report_subject', ['subject_id'], unique=False)


def downgrade() -> None:
    op.drop_table('measure_report')
    with op.batch_alter_table('token', schema=None) as batch_op:
        batch_op.alter_column('role', existing_type=sa.VARCHAR(length=19), type_=sa.Enum('department', 'operator', name='role', native_enum=False, length=18), existing_nullable=False)
    with op.batch_alter_table('joint_measure', schema=None) as batch_op:
        batch_op.drop_constraint('uq_joint_measure_code', type_='unique')
        batch_op.drop_column('reaches_legal_representative')
        batch_op.drop_column('effective_on')
        batch_op.drop_column('legal_basis')
        batch_op.drop_column('code')
