"""The database adapter: one engine per process, built from a URL by the entry points."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from anyio import to_thread
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from app.store import documents
from app.store import exception_models as exception_models  # registers the inbox's tables
from app.store import models as models  # registers the tables on SQLModel.metadata

T = TypeVar("T")

# Execution option of sessions that only read (`in_session(..., commit=False)`).
READ_ONLY = "flexhook_read_only"
# Connections an SQLite engine keeps open (see `create_db_engine`).
SQLITE_POOL_SIZE = 40


# Seconds an SQLite writer waits for the write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_SECONDS = 30
# Marks a connection whose transaction holds the engine's in-process writer lock.
_HOLDS_WRITERS = "flexhook_holds_writers"


def create_db_engine(url: str) -> Engine:
    """An engine for `url`. SQLite files get WAL, a busy timeout and write-locking transactions.
    Sessions keep each shipment's API document current from then on (`documents.keep_current`).
    Error texts never quote the bound parameters (a payload's values): `hide_parameters`."""
    documents.keep_current()
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    engine = _sqlite_engine(url)
    _serialize_writers(engine)
    return engine


def is_data_error(exc: BaseException) -> bool:
    """Whether a database error is about the data, so retrying cannot heal it: a value the
    column refuses (`DataError`), or a broken constraint other than a unique key (a unique key
    is the known race of two writers inserting one row: the retry finds the row)."""
    if isinstance(exc, sa.exc.DataError):
        return True
    if not isinstance(exc, sa.exc.IntegrityError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)  # psycopg
    if sqlstate is not None:
        return str(sqlstate) != "23505"  # unique_violation
    return "UNIQUE constraint failed" not in str(exc.orig)


def _sqlite_engine(url: str) -> Engine:
    """An SQLite engine whose connections run in WAL mode and let SQLAlchemy begin
    transactions."""
    database = sa.engine.make_url(url).database
    pool: dict[str, int] = {}
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        # A new SQLite connection costs its PRAGMAs and a parse of the schema on first use: keep
        # one open for each of anyio's 40 worker threads rather than opening and closing the
        # overflow on every busy request (the overflow serves the spool writer's thread).
        pool = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": 10}
    engine = create_engine(
        url,
        hide_parameters=True,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        **pool,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def _serialize_writers(engine: Engine) -> None:
    """Writers of this process take an in-process lock before SQLite's write lock."""
    # SQLite's own wait for its write lock sleeps in growing steps (up to 100 ms a try), so
    # under contention the lock often lies free while every waiter sleeps. Writers of this
    # process therefore queue on a lock of their own first, given back right after their
    # COMMIT or ROLLBACK, and are woken then; only writers of other processes meet SQLite's
    # wait (measured with `make bench`: the p90 wait of the worker's transactions went
    # 431 -> 257 ms, events/s 52 -> 56). A plain lock, not a reentrant one: a connection
    # handed back to the pool unfinished (its checkin may run on another thread) gives it back.
    writers = threading.Lock()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # Writers take the write lock up front: read-modify-write of one shipment by two workers
        # then serializes instead of failing on a lock upgrade. Readers never queue for it.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
            return
        # After the busy timeout, go on without it and let SQLite's own wait time out as usual.
        if writers.acquire(timeout=SQLITE_BUSY_TIMEOUT_SECONDS):
            connection.info[_HOLDS_WRITERS] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release_for(connection.info)
            raise

    @sa.event.listens_for(engine, "commit")
    def _on_commit(connection: sa.Connection) -> None:
        _end(connection, "COMMIT")

    @sa.event.listens_for(engine, "rollback")
    def _on_rollback(connection: sa.Connection) -> None:
        _end(connection, "ROLLBACK")

    def _end(connection: sa.Connection, statement: str) -> None:
        # SQLAlchemy tells of the end before it ends the transaction: end it here, so that the
        # lock is given back once SQLite's is (SQLAlchemy's own COMMIT then finds none open).
        if connection.invalidated:
            return  # its pool record is checked in next, which gives the lock back
        if not connection.info.get(_HOLDS_WRITERS):
            return
        try:
            connection.exec_driver_sql(statement)
        finally:
            _release_for(connection.info)

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        _release_for(record.info)

    def _release_for(info: dict[Any, Any]) -> None:
        if info.pop(_HOLDS_WRITERS, False):
            writers.release()


class SchemaOutOfDate(Exception):
    """The database is not at the schema this flexhook needs; the message says what to run."""


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", "app.store:migrations")
    return config


def upgrade(engine: Engine) -> None:
    """Apply every pending migration (Alembic, `app/store/migrations`)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    documents.fill_missing(engine)  # shipments from before 0006 kept no document


def check_schema(engine: Engine) -> None:
    """Raise `SchemaOutOfDate` unless the database is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"the database schema is at {current or 'nothing'} but flexhook needs {head}: "
            "run `flexhook db upgrade`"
        )


async def in_session(
    engine: Engine, fn: Callable[..., T], /, *, commit: bool = False, **kwargs: Any
) -> T:
    """`fn(session, **kwargs)` on a worker thread, off the event loop; committed if `commit`,
    else in a read-only transaction that waits for no writer (SQLite)."""

    def run() -> T:
        with Session(engine) as session:
            if not commit:  # on the connection, not a per-call `engine.execution_options` copy
                session.connection(execution_options={READ_ONLY: True})
            result = fn(session, **kwargs)
            if commit:
                session.commit()
            return result

    return await to_thread.run_sync(run)


async def read_by_key(engine: Engine, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """`fn(connection, **kwargs)` in a read-only transaction, for a read of a few rows by key.

    On SQLite it runs on the calling thread, the event loop included: such a read is a few
    index lookups (tens of microseconds) that in WAL mode never wait for a writer, while a hop
    to a worker thread and back costs the web process more than the read (measured with
    `make bench`: GET /api/shipments/{id} served 1,240 requests/s through one thread, 2,104/s
    on the loop). Any other database answers over the network: its reads go to a thread.
    """

    def run() -> T:
        with (
            engine.connect().execution_options(**{READ_ONLY: True}) as connection,
            connection.begin(),
        ):
            return fn(connection, **kwargs)

    if engine.dialect.name == "sqlite":
        return run()
    return await to_thread.run_sync(run)
