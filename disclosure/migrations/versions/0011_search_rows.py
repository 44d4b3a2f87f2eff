"""search rows: one search table per record kind (FTS5 on SQLite, tsvector + GIN on PostgreSQL),
replaced by one table in 0012

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-12 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("license", "penalty", "list_entry")


def _ddl(dialect: str) -> list[str]:
    statements = []
    for kind in KINDS:
        name = f"search_{kind}"
        if dialect == "sqlite":
            statements.append(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING fts5(name, text, authority,"
                " codes, department UNINDEXED, shown_name UNINDEXED, shown_body UNINDEXED,"
                " tokenize='unicode61')"
            )
        else:
            statements += [
                f"CREATE TABLE IF NOT EXISTS {name} (record_id INTEGER PRIMARY KEY,"
                " document TSVECTOR NOT NULL, department VARCHAR(18) NOT NULL,"
                " shown_name TEXT NOT NULL, shown_body TEXT NOT NULL)",
                f"CREATE INDEX IF NOT EXISTS ix_{name}_document ON {name} USING gin (document)",
            ]
    return statements


def upgrade() -> None:
    connection = op.get_bind()
    for statement in _ddl(connection.dialect.name):
        op.execute(statement)
    # the rows themselves are written by 0012, which replaces these tables by one (the code
    # that writes rows writes the latest layout only)


def downgrade() -> None:
    for kind in KINDS:
        op.execute(f"DROP TABLE IF EXISTS search_{kind}")
