"""HR events (joiner, mover, leaver) from the municipality's HR system, each applied once by its id.

- **joiner** (employment starts): creates the person in the unit, or reactivates them. No authorizations; a job
  title matching a role profile asks the supervisor to confirm a suggested request (role_profile_steps.py).
- **mover** (unit changes): the person's unit changes (the registry lists follow) and everything they hold is put
  into review at once, so the new unit's director decides whether it is still needed.
- **leaver** (employment ends): every active authorization they hold goes to revocation, effective on the end
  date; the person becomes inactive after the end date (at once when it has passed, else by the scheduler).

One event is one transaction. An event id delivered again changes nothing and answers the earlier result.
Unknown people (mover, leaver), unknown units and malformed events are rejected with a reason; nothing changes
and nothing is kept, so the corrected event may be sent again with the same id.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from . import audit, review, revocation, role_profile_steps
from .clock import local_date
from .models import Authorization, AuthorizationStatus, HrEvent, Organisation, Person, Unit
from .privacy import contains_identity_code
from .registry import sync_holders
from .tabular import parse_date, read_table

KINDS = ("joiner", "mover", "leaver")
FIELDS = ("event_id", "type", "email", "name", "unit", "title", "date", "supervisor")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
log = logging.getLogger("valtuus.hr_events")


class EventRejected(Exception):
    """A malformed event, or one naming a person or unit that does not exist. ``reason`` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Event:
    event_id: str
    kind: str
    email: str
    day: date
    name: str = ""
    unit: str = ""
    title: str = ""
    supervisor: str = ""


def parse(payload: object) -> Event:
    """Check an event's shape (no database): raises :class:`EventRejected` with the reason."""
    if not isinstance(payload, dict):
        raise EventRejected("an event must be an object with event_id, type, email, …")
    values = {}
    for key in FIELDS:
        value = payload.get(key)
        if value is None:
            value = ""
        if isinstance(value, bool) or not isinstance(value, str | int | float | date):
            raise EventRejected(f"{key} must be text")
        values[key] = value if isinstance(value, date) else str(value).strip()
    event_id, kind, email = values["event_id"], str(values["type"]).lower(), str(values["email"]).lower()
    if not event_id:
        raise EventRejected("event_id is missing")
    if len(event_id) > 100:
        raise EventRejected("event_id is longer than 100 characters")
    if kind not in KINDS:
        raise EventRejected(f"type must be one of {', '.join(KINDS)}")
    if not email:
        raise EventRejected("email is missing")
    if not _EMAIL.match(email) or len(email) > 254:
        raise EventRejected(f"email {email!r} is not an e-mail address")
    if values["date"] in ("", None):
        raise EventRejected("date is missing")
    try:
        day = parse_date(values["date"])
    except (ValueError, TypeError):
        day = None
    if day is None:
        raise EventRejected(f"date {values['date']!r} is not a date (d.m.yyyy or yyyy-mm-dd)")
    if kind == "joiner" and not values["name"]:
        raise EventRejected("a joiner needs the person's name")
    if kind in ("joiner", "mover") and not values["unit"]:
        raise EventRejected(f"a {kind} needs the unit")
    for key, limit in (("name", 200), ("unit", 200), ("title", 200)):
        if len(str(values[key])) > limit:
            raise EventRejected(f"{key} is longer than {limit} characters")
    if any(contains_identity_code(value) for value in values.values()):  # never stored (engine/privacy.py)
        raise EventRejected("an event must not contain a personal identity code (henkilötunnus)")
    supervisor = str(values["supervisor"]).lower()
    if supervisor and not _EMAIL.match(supervisor):
        raise EventRejected(f"supervisor {supervisor!r} is not an e-mail address")
    return Event(event_id, kind, email, day, str(values["name"]), str(values["unit"]), str(values["title"]), supervisor)


# -- applying -----------------------------------------------------------------------------------------


def apply_event(host, organisation_id: int, payload: object, *, source: str = "api", dry_run: bool = False) -> dict:
    """Apply one event in one transaction. Returns the result: ``status`` is "applied", "rejected" (with
    ``reason``; nothing changed) or "failed" (an internal error; nothing changed); a duplicate answers the
    earlier result with ``duplicate: true``. Every call is audited as ``hr_event.received`` (not on a dry run)."""
    now = host.clock()
    event_id = payload.get("event_id") if isinstance(payload, dict) else None
    event_id = str(event_id)[:100] if event_id not in (None, "") else None
    try:
        event = parse(payload)
        if dry_run:
            with host.db.unit_of_work() as session:
                result = _apply(host, session, organisation_id, event, now)
                session.rollback()
            return result
        with host.db.unit_of_work() as session:
            result = _apply(host, session, organisation_id, event, now)
            _received(session, organisation_id, event_id, payload, result, source, now)
        return result
    except EventRejected as err:
        result = {"event_id": event_id, "status": "rejected", "reason": err.reason}
    except IntegrityError:  # the same id delivered twice at the same moment: the other delivery won
        with host.db.reader() as session:
            earlier = _earlier(session, organisation_id, event_id)
        if earlier is None:
            raise
        result = earlier
    except Exception as err:  # noqa: BLE001 – reported to the sender; nothing was changed
        log.exception("HR event %s failed", event_id)
        result = {"event_id": event_id, "status": "failed", "reason": f"{type(err).__name__}: {err}"[:500]}
    if not dry_run:
        with host.db.unit_of_work() as session:
            _received(session, organisation_id, event_id, payload, result, source, now)
    return result


def _received(session, organisation_id, event_id, payload, result, source, now) -> None:
    details = {"event_id": event_id, "source": source, "status": result.get("status"),
               "duplicate": bool(result.get("duplicate")), "person_id": result.get("person_id")}
    if isinstance(payload, dict):
        details["type"] = str(payload.get("type", ""))[:16]
    if result.get("reason"):
        details["reason"] = result["reason"]
    audit.record(session, organisation_id, "hr_event.received", details=details, at=now)


def _earlier(session: Session, organisation_id: int, event_id: str | None) -> dict | None:
    if event_id is None:
        return None
    row = session.scalar(
        select(HrEvent).where(HrEvent.organisation_id == organisation_id, HrEvent.event_id == event_id)
    )
    return {**row.result, "duplicate": True} if row is not None else None


def _apply(host, session: Session, organisation_id: int, event: Event, now: datetime) -> dict:
    earlier = _earlier(session, organisation_id, event.event_id)
    if earlier is not None:
        return earlier
    person = session.scalar(
        select(Person).where(Person.organisation_id == organisation_id, Person.email == event.email)
    )
    today = local_date(now)
    result: dict = {"event_id": event.event_id, "type": event.kind, "status": "applied", "date": str(event.day)}
    if event.kind == "joiner":
        person = _joiner(session, organisation_id, event, person, result, now)
        suggestion = role_profile_steps.suggest_for_joiner(host, session, organisation_id, person, event.title,
                                                           event.day)
        if suggestion is not None:  # the title matches a role profile: the supervisor confirms a request
            result["suggestion"] = suggestion
    elif person is None:
        raise EventRejected(f"no person with the e-mail {event.email} in this organisation")
    elif event.kind == "mover":
        _mover(host, session, organisation_id, event, person, result, now)
    else:
        _leaver(host, session, organisation_id, event, person, today, result, now)
    result["person_id"] = person.id
    session.add(
        HrEvent(
            organisation_id=organisation_id,
            event_id=event.event_id,
            kind=event.kind,
            person_id=person.id,
            payload={k: str(v) for k, v in event.__dict__.items()},
            effective_on=event.day,
            received_at=now,
            result=result,
        )
    )
    session.flush()  # a duplicate delivered at the same moment fails here (unique organisation + event id)
    return result


def _unit(session: Session, organisation_id: int, text: str) -> Unit:
    """A unit by its key, or else by its name in any language (case-insensitive, and only when unambiguous)."""
    units = list(session.scalars(select(Unit).where(Unit.organisation_id == organisation_id)))
    for unit in units:
        if unit.key == text:
            return unit
    wanted = " ".join(text.split()).casefold()
    named = [u for u in units if wanted in {" ".join(str(n).split()).casefold() for n in (u.name or {}).values()}]
    if len(named) == 1:
        return named[0]
    if named:
        raise EventRejected(f"unit {text!r} is ambiguous: give its key")
    raise EventRejected(f"no unit {text!r} in this organisation")


def _supervisor(session: Session, organisation_id: int, event: Event) -> Person | None:
    if not event.supervisor:
        return None
    found = session.scalar(
        select(Person).where(Person.organisation_id == organisation_id, Person.email == event.supervisor)
    )
    if found is None or not found.active:
        raise EventRejected(f"no active person with the e-mail {event.supervisor} (supervisor)")
    return found


def _joiner(session: Session, organisation_id: int, event: Event, person: Person | None, result: dict,
            now: datetime) -> Person:
    unit = _unit(session, organisation_id, event.unit)
    supervisor = _supervisor(session, organisation_id, event)
    languages = session.scalar(select(Organisation.languages).where(Organisation.id == organisation_id)) or ["fi"]
    main_language = languages[0]  # a joiner speaks the organisation's first language until the directory says otherwise
    if person is None:
        person = Person(organisation_id=organisation_id, email=event.email, language=main_language, demo_note={})
        session.add(person)
        result["change"] = "created"
    else:
        result["change"] = "reactivated" if not person.active else "updated"
    person.name = event.name
    person.unit_id = unit.id
    person.active = True
    if event.title:  # HR's title is in the organisation's main language
        person.title = {**(person.title or {}), main_language: event.title}
    if supervisor is not None:
        if supervisor.email == event.email:
            raise EventRejected("a person cannot be their own supervisor")
        person.supervisor_id = supervisor.id
    session.flush()
    sync_holders(session, organisation_id, [person.id])
    result["unit"] = unit.key
    audit.record(session, organisation_id, "person.joined", details={"person_id": person.id, "unit": unit.key,
                                                                    "start": str(event.day)}, at=now)
    return person


def _held(session: Session, person: Person, *statuses: AuthorizationStatus) -> list[int]:
    return list(
        session.scalars(
            select(Authorization.id)
            .where(
                Authorization.organisation_id == person.organisation_id,
                Authorization.holder_id == person.id,
                Authorization.status.in_([s.value for s in statuses]),
            )
            .order_by(Authorization.id)
        )
    )


def _mover(host, session: Session, organisation_id: int, event: Event, person: Person, result: dict,
           now: datetime) -> None:
    if not person.active:
        raise EventRejected(f"{event.email} is not active: send a joiner event first")
    unit = _unit(session, organisation_id, event.unit)
    supervisor = _supervisor(session, organisation_id, event)
    old_unit = session.get(Unit, person.unit_id) if person.unit_id else None
    person.unit_id = unit.id
    if supervisor is not None:
        person.supervisor_id = supervisor.id
    elif person.supervisor_id is not None:
        former = session.get(Person, person.supervisor_id)
        if former is None or former.unit_id != unit.id:  # a supervisor in the old unit no longer supervises them
            person.supervisor_id = None
            result["supervisor_cleared"] = True
    session.flush()
    sync_holders(session, organisation_id, [person.id])
    result["unit"] = unit.key
    result["from_unit"] = old_unit.key if old_unit else None
    held = _held(session, person, AuthorizationStatus.ACTIVE)
    result["reviews"] = (
        review.review_now(host, session, organisation_id, held, reason=f"unit changed on {event.day}") if held else []
    )
    details = {"person_id": person.id, "from": result["from_unit"], "to": unit.key, "on": str(event.day)}
    audit.record(session, organisation_id, "person.moved", details=details, at=now)


def _leaver(host, session: Session, organisation_id: int, event: Event, person: Person, today: date,
            result: dict, now: datetime) -> None:
    revocations = []
    for authorization_id in _held(session, person, AuthorizationStatus.ACTIVE):
        started = revocation.start_revocation(
            host,
            session,
            organisation_id,
            authorization_id,
            reason=f"employment ends {event.day}",
            trigger="leaver",
            effective_on=event.day,
        )
        if started is not None:
            revocations.append(started)
    result["revocations"] = revocations
    if event.day < today:
        person.active = False
        result["deactivated"] = True
    else:
        result["deactivate_after"] = str(event.day)
    audit.record(session, organisation_id, "person.leaving",
                 details={"person_id": person.id, "end": str(event.day), "revocations": revocations}, at=now)


def deactivate_leavers(host, now: datetime | None = None) -> int:
    """People whose employment has ended (a leaver event's date has passed) become inactive – unless a later
    joiner event brought them back."""
    now = now or host.clock()
    today = local_date(now)
    later = aliased(HrEvent)
    rejoined = (
        select(later.id)
        .where(
            later.organisation_id == HrEvent.organisation_id,
            later.person_id == HrEvent.person_id,
            later.kind == "joiner",
            later.id > HrEvent.id,
        )
        .exists()
    )
    with host.db.unit_of_work() as session:
        rows = session.execute(
            select(Person.id, Person.organisation_id)
            .join(HrEvent, and_(HrEvent.person_id == Person.id, HrEvent.organisation_id == Person.organisation_id))
            .where(HrEvent.kind == "leaver", HrEvent.effective_on < today, Person.active.is_(True), ~rejoined)
            .distinct()
        ).all()
        if not rows:
            return 0
        session.execute(
            update(Person)
            .where(Person.id.in_([r.id for r in rows]), Person.active.is_(True))
            .values(active=False)
            .execution_options(synchronize_session=False)
        )
        for person_id, organisation_id in rows:
            audit.record(session, organisation_id, "person.deactivated", details={"person_id": person_id}, at=now)
    return len(rows)


# -- files ----------------------------------------------------------------------------------------------


def read_events(data: bytes, filename: str) -> list[tuple[int, dict]]:
    """The rows of an events file (csv or xlsx), each as (row number, event payload). Raises TableError."""
    table = read_table(data, filename, known_headers=FIELDS)
    rows = []
    for row in table.rows:
        values = {key: row.values.get(key) for key in FIELDS}
        if all(v in (None, "") for v in values.values()):
            continue
        rows.append((row.number, {k: v for k, v in values.items() if v not in (None, "")}))
    return rows


def import_events(host, organisation_id: int, data: bytes, filename: str, *, dry_run: bool = False) -> list:
    """Apply each row of a file as its own event. Returns [(row number, result)]. A dry run checks every row
    against the directory as it would be after the rows before it, and writes nothing."""
    rows = read_events(data, filename)
    if not dry_run:
        return [(number, apply_event(host, organisation_id, payload, source="file")) for number, payload in rows]
    now = host.clock()
    results = []
    with host.db.unit_of_work() as session:
        for number, payload in rows:
            nested = session.begin_nested()
            try:
                result = _apply(host, session, organisation_id, parse(payload), now)
                nested.commit()
            except EventRejected as err:
                nested.rollback()
                result = {"event_id": payload.get("event_id"), "status": "rejected", "reason": err.reason}
            except Exception as err:  # noqa: BLE001
                nested.rollback()
                result = {"event_id": payload.get("event_id"), "status": "failed", "reason": f"{err}"[:500]}
            results.append((number, result))
        session.rollback()
    return results


# -- tokens ---------------------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _matches(digest: str, hashes) -> bool:
    if isinstance(hashes, str):
        hashes = [hashes]
    found = False
    for candidate in hashes or []:
        if isinstance(candidate, str) and hmac.compare_digest(digest, candidate.strip().lower()):
            found = True  # no early return: every candidate is compared
    return found


def organisation_for_token(session: Session, token: str, env_hashes: list[str], organisation_key: str | None = None
                           ) -> int | None:
    """The organisation a bearer token belongs to: one whose settings list its SHA-256 (``hr_token_sha256``),
    or – for a token in VALTUUS_HR_TOKEN_SHA256 – the organisation named by ``organisation_key``, or the only
    one. None when the token is not valid."""
    if not token:
        return None
    digest = token_hash(token)
    organisations = session.execute(select(Organisation.id, Organisation.key, Organisation.settings)).all()
    found = None
    for organisation_id, _key, settings in organisations:
        if _matches(digest, (settings or {}).get("hr_token_sha256")):
            found = found or organisation_id
    if found is not None:
        return found
    if _matches(digest, env_hashes):
        if organisation_key:
            return next((oid for oid, key, _s in organisations if key == organisation_key), None)
        return organisations[0][0] if len(organisations) == 1 else None
    return None
