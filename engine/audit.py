"""Writing the audit trail: a tamper-evident hash chain per organisation.

Events are only ever inserted by ``record``/``record_many``, inside the caller's transaction. When that transaction
commits, its events are numbered (``seq``) after the organisation's chain head and each gets
``hash = SHA-256(canonical content + previous hash)``; the head row is locked (``SELECT … FOR UPDATE`` on
PostgreSQL, the write lock on SQLite) so two transactions never extend the chain from the same head. The lock is
taken last, just before COMMIT, after everything else is flushed: commands still run side by side and only their
last few milliseconds queue per organisation. ``engine/audit_verify.py`` walks the chain. Registry events
(``authorization.*``) are also queued for the organisation's outgoing webhooks in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session, SessionTransaction

from . import webhooks
from .models import AuditChainHead, AuditEvent
from .models.base import utcnow

GENESIS = "0" * 64  # the "previous hash" of an organisation's first event
_PENDING = "audit_pending"  # session.info: {organisation_id: [ids of events inserted in this transaction]}

# what the hash covers, in addition to seq and the previous hash
CHAIN_COLUMNS = (
    AuditEvent.id,
    AuditEvent.organisation_id,
    AuditEvent.at,
    AuditEvent.actor_id,
    AuditEvent.action,
    AuditEvent.authorization_id,
    AuditEvent.instance_id,
    AuditEvent.task_id,
    AuditEvent.details,
)

# The statements, built once (Core on the session's connection: the chain costs a few round trips, not ORM work)
_events, _heads = AuditEvent.__table__, AuditChainHead.__table__
_INSERT = _events.insert().returning(_events.c.id)
_LOCK_HEAD = (
    select(_heads.c.last_seq, _heads.c.last_hash).where(_heads.c.organisation_id == bindparam("org")).with_for_update()
)
# this transaction's events with the chain head, its row locked: one round trip. Only this transaction's rows lack
# a place; others' are invisible until they commit (with their place).
_OWN_ROWS_AND_HEAD = (
    select(*(_events.c[column.key] for column in CHAIN_COLUMNS), _heads.c.last_seq, _heads.c.last_hash)
    .join(_heads, _heads.c.organisation_id == _events.c.organisation_id)
    .where(_events.c.organisation_id == bindparam("org"), _events.c.seq.is_(None), _events.c.id >= bindparam("first"))
    .order_by(_events.c.id)
    .with_for_update(of=_heads)
)
_SET_PLACE = (
    _events.update()
    .where(_events.c.id == bindparam("row_id"))
    .values(seq=bindparam("new_seq"), prev_hash=bindparam("new_prev"), hash=bindparam("new_hash"))
)
_MOVE_HEAD = (
    _heads.update()
    .where(_heads.c.organisation_id == bindparam("org"))
    .values(last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
)


def record(
    session: Session,
    organisation_id: int,
    action: str,
    *,
    actor_id: int | None = None,
    authorization_id: int | None = None,
    instance_id: int | None = None,
    task_id: str | None = None,
    details: dict | None = None,
    at: datetime | None = None,
) -> None:
    """Append one event inside the caller's transaction (chained when the transaction commits)."""
    event_ = {
        "action": action,
        "actor_id": actor_id,
        "authorization_id": authorization_id,
        "instance_id": instance_id,
        "task_id": task_id,
        "details": details,
    }
    record_many(session, organisation_id, [event_], at=at)


def record_many(session: Session, organisation_id: int, events: list[dict], *, at: datetime | None = None) -> None:
    """Append many events in one statement (an import writes one per row).

    Each event is a dict with ``action`` and optionally ``actor_id``, ``authorization_id``,
    ``instance_id``, ``task_id``, ``details`` and ``at``.
    """
    if not events:
        return
    when = at or utcnow()
    rows = [
        {
            "organisation_id": organisation_id,
            "action": event_["action"],
            "actor_id": event_.get("actor_id"),
            "authorization_id": event_.get("authorization_id"),
            "instance_id": event_.get("instance_id"),
            "task_id": event_.get("task_id"),
            "details": event_.get("details") or {},
            "at": event_.get("at") or when,
        }
        for event_ in events
    ]
    ids = session.connection().execute(_INSERT, rows).scalars().all()  # Core: no ORM overhead per command
    webhooks.enqueue(session, organisation_id, rows)  # registry events go out to subscribers, same transaction
    session.info.setdefault(_PENDING, {}).setdefault(organisation_id, []).extend(ids)


# -- the chain -------------------------------------------------------------------------------------------------


def canonical_json(value: object) -> str:
    """Sorted keys, no whitespace, UTF-8 as is: the same text for the same content on every database."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(row: Mapping, seq: int, prev_hash: str) -> str:
    """The hash of one event (a mapping with the CHAIN_COLUMNS' keys) at place ``seq`` after ``prev_hash``."""
    at = row["at"]
    if at.tzinfo is None:  # SQLite returns UTC without a zone when read without the model's type
        at = at.replace(tzinfo=UTC)
    content = {
        "organisation": row["organisation_id"],
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": row["actor_id"],
        "action": row["action"],
        "object": {"authorization": row["authorization_id"], "instance": row["instance_id"], "task": row["task_id"]},
        "details": row["details"],
        "prev": prev_hash,
    }
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    pending = session.info.get(_PENDING)
    if not pending or session.get_nested_transaction() is not None:
        return  # a SAVEPOINT's events are chained when the whole transaction commits
    session.flush()  # every other write first, so the chain head is the last lock this transaction takes
    del session.info[_PENDING]
    for organisation_id in sorted(pending):  # one order for every transaction: no deadlock between heads
        _extend_chain(session, organisation_id, pending[organisation_id])


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    # The whole transaction ended (committed, rolled back or closed): nothing left to chain. A SAVEPOINT rolled
    # back keeps the list: its events are gone from the table, and only rows still there are chained.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def _extend_chain(session: Session, organisation_id: int, ids: list[int]) -> None:
    """Give this transaction's events their places after the head and move the head: three round trips, the
    head locked from the first until COMMIT. The hash covers the events as stored (e.g. JSONB's form)."""
    connection = session.connection()
    params = {"org": organisation_id, "first": min(ids)}
    rows = connection.execute(_OWN_ROWS_AND_HEAD, params).mappings().all()
    if not rows and _create_head(session, organisation_id):  # the organisation's first events
        rows = connection.execute(_OWN_ROWS_AND_HEAD, params).mappings().all()
    wanted = set(ids)
    rows = [row for row in rows if row["id"] in wanted]  # a committed row without a place: verify reports it
    if not rows:  # all of them in SAVEPOINTs rolled back
        return
    last_seq, last_hash = rows[0]["last_seq"], rows[0]["last_hash"]
    changes = []
    for row in rows:
        last_seq += 1
        digest = event_hash(row, last_seq, last_hash)
        changes.append({"row_id": row["id"], "new_seq": last_seq, "new_prev": last_hash, "new_hash": digest})
        last_hash = digest
    connection.execute(_SET_PLACE, changes)
    connection.execute(_MOVE_HEAD, {"org": organisation_id, "new_seq": last_seq, "new_hash": last_hash})


def _create_head(session: Session, organisation_id: int) -> bool:
    """Create the chain head at an organisation's first event (two first events at once: one inserts, the other
    waits for it and then reads it). False when it was there already."""
    connection = session.connection()
    if connection.execute(_LOCK_HEAD, {"org": organisation_id}).first() is not None:
        return False
    connection.execute(_insert_head_if_missing(session, organisation_id))
    return True


def _insert_head_if_missing(session: Session, organisation_id: int):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(dialect)
    values = {"organisation_id": organisation_id, "last_seq": 0, "last_hash": GENESIS}
    return dialect_insert(AuditChainHead).values(values).on_conflict_do_nothing(index_elements=["organisation_id"])
