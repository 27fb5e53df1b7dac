"""Append-only audit trail: who did what, when, on which authorization, instance or task.

Each organisation's events form a hash chain (engine/audit.py): ``seq`` numbers them 1, 2, 3 … and ``hash`` covers
the event's content and the previous event's hash, so a changed, removed or added row shows in ``valtuus audit
verify``. The chain fields are set when the writing transaction commits, under a lock on the chain head.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JsonType, UtcDateTime, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_organisation_seq", "organisation_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # None: the system
    action: Mapped[str] = mapped_column(String(64))
    authorization_id: Mapped[int | None] = mapped_column(ForeignKey("authorizations.id"), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    details: Mapped[dict] = mapped_column(JsonType, default=dict)
    # None only inside the writing transaction; a committed row without them was not written by engine/audit.py
    seq: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """The end of an organisation's chain. Its row lock makes appending one at a time; it also tells verify how
    long the chain should be, so events removed from the end are noticed."""

    __tablename__ = "audit_chain_heads"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
