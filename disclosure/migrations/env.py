"""Alembic environment: migrates the engine `disclosure.db.upgrade` passes in."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from sqlmodel import SQLModel

from disclosure import models

target_metadata = SQLModel.metadata
assert models.Event.__tablename__ in target_metadata.tables


def run_migrations_online() -> None:
    engine = context.config.attributes.get("engine")
    if engine is None:
        engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("gongshi migrates a live database only: run `gongshi init`")
run_migrations_online()
