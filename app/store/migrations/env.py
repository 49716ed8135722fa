"""Alembic environment: flexhook's tables are SQLModel.metadata; the connection is handed in by
`app.store.db.upgrade`, or built from `sqlalchemy.url` when Alembic's own command line runs this."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

from app.store import exception_models, models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata
# Kept by migration 0014's SQL, not by the models: the shipment search's own tables (SQLite's FTS5
# table, its shadow tables and the copy it indexes) and PostgreSQL's pg_trgm indexes.
SEARCH_OBJECTS = ("shipment_name", "ix_shipment_id_trgm", "ix_shipment_name_trgm")


def _modelled(name: str | None, kind: str, _parent: object) -> bool:
    """Whether autogenerate compares the object: all but the search's."""
    return not (name and kind in ("table", "index") and name.startswith(SEARCH_OBJECTS))


def run_migrations(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        # SQLite alters tables by copying them; batch mode makes migrations work there too.
        render_as_batch=True,
        compare_type=True,
        include_name=_modelled,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as fresh:
        run_migrations(fresh)
