"""subject.name_key and name_key_reversed: a subject's name as screening compares it

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from disclosure import names

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = sa.String(200).with_variant(sa.String(200, collation='C'), 'postgresql')
CHUNK = 20_000
SUBJECT = sa.table(
    'subject',
    sa.column('id', sa.Integer),
    sa.column('name', sa.String),
    sa.column('name_key', sa.String),
    sa.column('name_key_reversed', sa.String),
)


def upgrade() -> None:
    # plain ALTER TABLE on every engine: SQLite adds a column in place, no table copy
    op.add_column('subject', sa.Column('name_key', KEY, nullable=True))
    op.add_column('subject', sa.Column('name_key_reversed', KEY, nullable=True))
    _backfill(op.get_bind())
    # after the backfill: building an index once is faster than keeping it row by row
    op.create_index('ix_subject_name_key', 'subject', ['name_key'], unique=False)
    op.create_index('ix_subject_name_key_reversed', 'subject', ['name_key_reversed'], unique=False)


def _backfill(connection: sa.Connection) -> None:
    """The keys of every subject, by chunks of ids (OpenCC folds names in Python, not SQL)."""
    update = (
        SUBJECT.update()
        .where(SUBJECT.c.id == sa.bindparam('subject_id'))
        .values(name_key=sa.bindparam('key'), name_key_reversed=sa.bindparam('reversed'))
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(SUBJECT.c.id, SUBJECT.c.name)
            .where(SUBJECT.c.id > last)
            .order_by(SUBJECT.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        keyed = [(row.id, names.normalise(row.name)) for row in rows]
        connection.execute(
            update,
            [{'subject_id': i, 'key': key, 'reversed': key[::-1]} for i, key in keyed],
        )
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index('ix_subject_name_key_reversed', 'subject')
    op.drop_index('ix_subject_name_key', 'subject')
    op.drop_column('subject', 'name_key_reversed')
    op.drop_column('subject', 'name_key')
