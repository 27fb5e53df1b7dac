"""Writing the audit trail. Events are only ever inserted, never updated or deleted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from .models import AuditEvent
from .models.base import utcnow


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
    """Append one event inside the caller's transaction (a plain INSERT: nothing ever updates it)."""
    session.execute(
        insert(AuditEvent),
        [
            {
                "organisation_id": organisation_id,
                "action": action,
                "actor_id": actor_id,
                "authorization_id": authorization_id,
                "instance_id": instance_id,
                "task_id": task_id,
                "details": details or {},
                "at": at or utcnow(),
            }
        ],
    )


def record_many(session: Session, organisation_id: int, events: list[dict], *, at: datetime | None = None) -> None:
    """Append many events in one executemany (an import writes one per row).

    Each event is a dict with ``action`` and optionally ``actor_id``, ``authorization_id``,
    ``instance_id``, ``task_id``, ``details`` and ``at``.
    """
    if not events:
        return
    when = at or utcnow()
    session.execute(
        insert(AuditEvent),
        [
            {
                "organisation_id": organisation_id,
                "action": event["action"],
                "actor_id": event.get("actor_id"),
                "authorization_id": event.get("authorization_id"),
                "instance_id": event.get("instance_id"),
                "task_id": event.get("task_id"),
                "details": event.get("details") or {},
                "at": event.get("at") or when,
            }
            for event in events
        ],
    )
