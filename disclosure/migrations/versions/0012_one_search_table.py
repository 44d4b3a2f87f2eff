"""one search table for every kind of record (FTS5 on SQLite, tsvector + GIN on PostgreSQL),
and the marker of whether the writers keep its rows (not until `gongshi index --rebuild` with
GONGSHI_SEARCH=database fills them)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-14 09:00:00
"""

from collections.abc import Sequence

from alembic import op
from sqlmodel import Session

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("license", "penalty", "list_entry")


def _ddl(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [
            "CREATE VIRTUAL TABLE IF NOT EXISTS search_row USING fts5(name, text, authority,"
            " codes, department UNINDEXED, shown_name UNINDEXED, shown_body UNINDEXED,"
            " tokenize='unicode61')",
            "CREATE TABLE IF NOT EXISTS search_row_state (kept BOOLEAN NOT NULL)",
        ]
    return [
        "CREATE TABLE IF NOT EXISTS search_row (key BIGINT PRIMARY KEY,"
        " document TSVECTOR NOT NULL, department VARCHAR(18) NOT NULL,"
        " shown_name TEXT NOT NULL, shown_body TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS ix_search_row_document ON search_row USING gin (document)",
        "CREATE TABLE IF NOT EXISTS search_row_state (kept BOOLEAN NOT NULL)",
    ]


def upgrade() -> None:
    connection = op.get_bind()
    for kind in KINDS:
        op.execute(f"DROP TABLE IF EXISTS search_{kind}")
    for statement in _ddl(connection.dialect.name):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS search_row_state")
    op.execute("DROP TABLE IF EXISTS search_row")
