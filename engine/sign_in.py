"""Who an OpenID Connect sign-in is: a person already in the directory, never a new account.

The first sign-in links the person by e-mail, and only by an e-mail the provider vouches for (``email_verified``, or
a provider the installation trusts for e-mail, as Entra ID's ``preferred_username`` is its own domain's address).
It stores the provider's stable subject; from then on only the subject counts, so a changed or reused e-mail address
does not move the account to someone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit
from .models import Organisation, Person


@dataclass(frozen=True)
class Identity:
    """What the provider said about the person, read from the validated ID token."""

    subject: str
    email: str | None
    email_verified: bool


def person_for(session: Session, identity: Identity, organisation_key: str | None = None) -> int | None:
    """The id of the active person this identity signs in as (linking on the first sign-in), or None."""
    people = select(Person).where(Person.active.is_(True))
    if organisation_key:
        people = people.join(Organisation, Organisation.id == Person.organisation_id).where(
            Organisation.key == organisation_key
        )
    linked = session.scalars(people.where(Person.oidc_subject == identity.subject)).all()
    if linked:
        return linked[0].id if len(linked) == 1 else None  # one subject in two organisations: ask, don't guess
    if not identity.email or not identity.email_verified:
        return None
    unlinked = people.where(func.lower(Person.email) == identity.email.lower(), Person.oidc_subject.is_(None))
    found = session.scalars(unlinked.with_for_update(of=Person)).all()  # two first sign-ins at once: one links
    if len(found) != 1:
        return None
    person = found[0]
    person.oidc_subject = identity.subject
    audit.record(
        session,
        person.organisation_id,
        "person.sign_in_linked",
        actor_id=person.id,
        details={"person_id": person.id, "subject": identity.subject},
    )
    return person.id
