"""Each shipment's API document kept beside its row, so `GET /api/shipments/{id}` reads one
column instead of three tables.

Once `keep_current` has armed its listeners (`app.store.db.create_db_engine` does), a session
that changes a shipment, one of its milestones or one of its containers rebuilds, as it commits,
the documents of the shipments it touched, from the rows as they are then and with the read that
builds a document live (`reads.get_shipment`). A stored document is therefore never older than
its rows, whichever path through a session wrote them. flexhook writes these tables through the
ORM only; a process of a version before 0006 would not, so migrate with none left. Shipments
written before documents were kept get theirs from `flexhook db upgrade` (`fill_missing`); until
then their reads build one live.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select, update

from app.store import reads
from app.store.models import Container, Milestone, Shipment

# Session.info key: the ids of the shipments the transaction has touched so far.
_TOUCHED = "flexhook_touched_shipments"


def _shipment_ids(row: object) -> set[str]:
    """The shipments whose document `row`, being written, changes (both, for a container that
    moves from one shipment to another)."""
    if isinstance(row, Shipment):
        return {row.id}
    if isinstance(row, (Milestone, Container)):
        ids = {row.shipment_id} if row.shipment_id else set()
        ids.update(old for old in sa.inspect(row).attrs.shipment_id.history.deleted if old)
        return ids
    return set()


def _note_touched(session: Session, _context: Any, _instances: Any) -> None:
    touched: set[str] = session.info.setdefault(_TOUCHED, set())
    for row in (*session.new, *session.dirty, *session.deleted):
        touched |= _shipment_ids(row)


def _rebuild_touched(session: Session) -> None:
    session.flush()  # what is still pending counts too
    touched: set[str] = session.info.pop(_TOUCHED, set())
    if not touched:
        return
    rebuild(session.connection(), shipment_ids=sorted(touched))


# Built once: every rebuild runs the same statements with other values.
_LOCK = select(Shipment.id).where(col(Shipment.id) == sa.bindparam("shipment_id")).with_for_update()
_WRITE = (
    update(Shipment)
    .where(col(Shipment.id) == sa.bindparam("shipment_id"))
    .values(document=sa.bindparam("document"))
)


def rebuild(connection: sa.Connection, *, shipment_ids: Iterable[str]) -> None:
    """Write the documents of `shipment_ids` from their rows, in the caller's transaction.

    Each shipment's row is locked first (PostgreSQL; SQLite serializes writers anyway): two
    transactions that change one shipment's milestones or containers then rebuild one after the
    other, the second reading what the first committed, so neither writes a document without
    the other's change."""
    for shipment_id in shipment_ids:
        connection.execute(_LOCK, {"shipment_id": shipment_id})
        document = reads.get_shipment(connection, shipment_id=shipment_id)
        if document is not None:
            connection.execute(
                _WRITE, {"shipment_id": shipment_id, "document": reads.encode(document)}
            )


def fill_missing(engine: sa.Engine, *, batch: int = 500) -> int:
    """Write a document for every shipment that has none (rows from before documents were
    kept), `batch` shipments per transaction; how many were written."""
    written = 0
    missing = select(Shipment.id).where(col(Shipment.document).is_(None)).limit(batch)
    while True:
        with engine.begin() as connection:
            ids = list(connection.execute(missing).scalars())
            rebuild(connection, shipment_ids=ids)
        written += len(ids)
        if len(ids) < batch:
            return written


def _forget_touched(session: Session, transaction: Any) -> None:
    # Only the outermost transaction: a savepoint rolled back leaves what the transaction around
    # it flushed before (and that still gets committed) to be rebuilt.
    if transaction.parent is None:
        session.info.pop(_TOUCHED, None)


_LISTENERS: tuple[tuple[str, Any], ...] = (
    ("before_flush", _note_touched),
    ("before_commit", _rebuild_touched),
    ("after_transaction_end", _forget_touched),
)


def keep_current() -> None:
    """Arm the session listeners that rewrite touched shipments' documents as sessions commit
    (`create_db_engine` does, once per process; arming again changes nothing)."""
    for name, listener in _LISTENERS:
        if not sa.event.contains(Session, name, listener):
            sa.event.listen(Session, name, listener)
