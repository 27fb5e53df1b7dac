"""The audit events about one person or one authorization, for an auditor's CSV (``valtuus audit export``, the
person page's download).

About a person: events on the authorizations they hold, events of the processes about them (their requests,
revocations of their authorizations, role profile changes) and the directory's events naming them
(``person.*`` with ``details.person_id``). What the person did to others is not "about" them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from .errors import NotFoundError
from .models import AuditEvent, Authorization, Person, ProcessInstance


@dataclass(frozen=True)
class ExportedEvent:
    event: AuditEvent
    actor: Person | None


def person_events(session: Session, organisation_id: int, person_id: int) -> list[ExportedEvent]:
    """Every event about the person, in chain order. NotFoundError for a person of another organisation."""
    person = session.get(Person, person_id)
    if person is None or person.organisation_id != organisation_id:
        raise NotFoundError("person not found")
    held = select(Authorization.id).where(
        Authorization.organisation_id == organisation_id, Authorization.holder_id == person_id
    )
    about = select(ProcessInstance.id).where(
        ProcessInstance.organisation_id == organisation_id, ProcessInstance.subject_person_id == person_id
    )
    named = AuditEvent.action.startswith("person.") & (AuditEvent.details["person_id"].as_integer() == person_id)
    return _events(
        session, organisation_id, or_(AuditEvent.authorization_id.in_(held), AuditEvent.instance_id.in_(about), named)
    )


def authorization_events(session: Session, organisation_id: int, authorization_id: int) -> list[ExportedEvent]:
    """Every event on the authorization, in chain order. NotFoundError for another organisation's."""
    row = session.get(Authorization, authorization_id)
    if row is None or row.organisation_id != organisation_id:
        raise NotFoundError("authorization not found")
    return _events(session, organisation_id, AuditEvent.authorization_id == authorization_id)


def _events(session: Session, organisation_id: int, condition) -> list[ExportedEvent]:
    actor = aliased(Person)
    rows = session.execute(
        select(AuditEvent, actor)
        .outerjoin(actor, actor.id == AuditEvent.actor_id)
        .where(AuditEvent.organisation_id == organisation_id, condition)
        .order_by(AuditEvent.seq, AuditEvent.id)
    ).all()
    return [ExportedEvent(event, person) for event, person in rows]
