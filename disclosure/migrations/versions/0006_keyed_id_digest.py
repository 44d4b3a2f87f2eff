"""identity-number digests are keyed with the deployment's secret (HMAC-SHA256)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 08:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from disclosure import privacy

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_subject = sa.table('subject', sa.column('id', sa.Integer), sa.column('id_number_digest', sa.String))


def _digests() -> list[tuple[int, str]]:
    rows = op.get_bind().execute(
        sa.select(_subject.c.id, _subject.c.id_number_digest).where(
            _subject.c.id_number_digest.is_not(None)
        )
    )
    return [(row_id, digest) for row_id, digest in rows]


def upgrade() -> None:
    # the numbers are not stored: each unkeyed digest is keyed as it is (IdKey.apply)
    connection = op.get_bind()
    rows = _digests()
    if not rows:
        return
    key = context.config.attributes.get('id_key')
    if key is None:
        raise privacy.MissingKeyError()
    connection.execute(
        _subject.update()
        .where(_subject.c.id == sa.bindparam('row_id'))
        .values(id_number_digest=sa.bindparam('digest')),
        [{'row_id': row_id, 'digest': key.apply(digest)} for row_id, digest in rows],
    )


def downgrade() -> None:
    # without the numbers a keyed digest cannot be unkeyed, and leaving it keyed would key it
    # twice on the next upgrade: only a database without natural persons' digests goes back
    if _digests():
        raise RuntimeError('keyed identity digests cannot be unkeyed: restore a backup instead')
