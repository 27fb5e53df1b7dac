"""The organisation directory: loading it, and resolving lanes to the people who may act."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import EngineError
from .models import Organisation, Person, PersonRole, ProcessInstance, Unit

LANE_ROLES = ("employee", "supervisor", "director", "administrator", "reviewer", "process_owner")
ASSIGNED_ROLES = ("administrator", "process_owner")


def load_yaml(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def upsert_organisation(session: Session, doc: dict) -> Organisation:
    """Create or update an organisation from a directory document (idempotent)."""
    spec = doc["organisation"]
    org = session.scalar(select(Organisation).where(Organisation.key == spec["key"]))
    if org is None:
        org = Organisation(key=spec["key"])
        session.add(org)
    org.name = spec["name"]
    org.business_id = spec["business_id"]
    org.languages = list(spec.get("languages", ["fi"]))
    org.settings = {**(org.settings or {}), **spec.get("settings", {})}
    session.flush()

    units = {u.key: u for u in session.scalars(select(Unit).where(Unit.organisation_id == org.id))}
    for u in doc.get("units", []):
        unit = units.get(u["key"]) or Unit(organisation_id=org.id, key=u["key"])
        unit.name = u["name"]
        units[u["key"]] = unit
        session.add(unit)
    session.flush()
    for u in doc.get("units", []):
        units[u["key"]].parent_id = units[u["parent"]].id if u.get("parent") else None

    people = {p.email: p for p in session.scalars(select(Person).where(Person.organisation_id == org.id))}
    for p in doc.get("people", []):
        email = p["email"].strip().lower()
        person = people.get(email) or Person(organisation_id=org.id, email=email)
        person.name = p["name"]
        person.unit_id = units[p["unit"]].id
        person.language = p.get("language", "fi")
        person.title = p.get("title") or {}
        person.demo_note = p.get("demo_note") or {}
        person.active = True
        wanted = set(p.get("roles") or [])
        if wanted - set(ASSIGNED_ROLES):
            raise EngineError(f"{email}: unknown roles {sorted(wanted - set(ASSIGNED_ROLES))}")
        person.roles = [r for r in person.roles if r.role in wanted]
        person.roles += [PersonRole(role=r) for r in sorted(wanted - person.role_names)]
        people[email] = person
        session.add(person)
    session.flush()
    for p in doc.get("people", []):
        sup = p.get("supervisor")
        people[p["email"].strip().lower()].supervisor_id = people[sup.lower()].id if sup else None
    for u in doc.get("units", []):
        units[u["key"]].director_id = people[u["director"].lower()].id if u.get("director") else None
        units[u["key"]].deputy_id = people[u["deputy"].lower()].id if u.get("deputy") else None
    session.flush()
    from .registry import sync_holders  # the registry lists carry the holder's name and unit

    sync_holders(session, org.id)
    return org


def administrators(session: Session, organisation_id: int) -> list[int]:
    query = (
        select(Person.id)
        .join(PersonRole)
        .where(Person.organisation_id == organisation_id, Person.active.is_(True), PersonRole.role == "administrator")
        .order_by(Person.id)
    )
    return list(session.scalars(query))


def directors_for(session: Session, person: Person, excluded: frozenset[int] = frozenset()) -> list[int]:
    """The director (and deputy) of the person's unit, walking up to a parent unit where the unit
    has none, or where the only candidates are the requesters (no one approves their own request)."""
    unit = session.get(Unit, person.unit_id) if person.unit_id else None
    seen = set()
    excluded = excluded | {person.id}
    while unit is not None and unit.id not in seen:
        seen.add(unit.id)
        candidates = [pid for pid in (unit.director_id, unit.deputy_id) if pid and pid not in excluded]
        if candidates:
            return candidates
        unit = session.get(Unit, unit.parent_id) if unit.parent_id else None
    return []


def potential_owners(session: Session, role: str, instance: ProcessInstance, data: dict | None = None) -> list[int]:
    """Who may complete a task in a lane of ``role`` for this instance.

    ``reviewer`` lanes belong to the people named in the task's data (``reviewer_ids``), as resolved when the
    process was started (a review round is opened for one reviewer); they must be active people of the
    organisation."""
    if role == "reviewer":
        wanted = [int(i) for i in (data or {}).get("reviewer_ids", []) if isinstance(i, int | str) and str(i).isdigit()]
        if not wanted:
            return []
        found = set(
            session.scalars(
                select(Person.id).where(
                    Person.id.in_(wanted), Person.organisation_id == instance.organisation_id, Person.active.is_(True)
                )
            )
        )
        return [i for i in wanted if i in found]
    if role == "process_owner":
        return process_owners(session, instance)
    holder = session.get(Person, instance.subject_person_id) if instance.subject_person_id else None
    if holder is None:
        return administrators(session, instance.organisation_id) if role == "administrator" else []
    if role == "employee":
        owners = [holder.id]
        if instance.started_by_id and instance.started_by_id != holder.id:
            owners.append(instance.started_by_id)
        return owners
    if role == "supervisor":
        return [holder.supervisor_id] if holder.supervisor_id and holder.supervisor_id != holder.id else []
    if role == "director":  # neither the holder nor whoever asked on their behalf approves
        return directors_for(session, holder, frozenset({instance.started_by_id or holder.id}))
    if role == "administrator":
        return [pid for pid in administrators(session, instance.organisation_id) if pid != holder.id]
    raise EngineError(f"lane role {role!r} is unknown")


def process_owners(session: Session, instance: ProcessInstance) -> list[int]:
    """The organisation's active people with the assigned role process_owner, and the pääkäyttäjä who started the
    process (so that whoever proposed a code can carry it on). Without either, the pääkäyttäjät."""
    with_role = select(PersonRole.person_id).where(PersonRole.role == "process_owner")
    owners = list(
        session.scalars(
            select(Person.id)
            .where(Person.organisation_id == instance.organisation_id, Person.active.is_(True))
            .where(Person.id.in_(with_role))
            .order_by(Person.id)
        )
    )
    admins = administrators(session, instance.organisation_id)
    if instance.started_by_id in admins and instance.started_by_id not in owners:
        owners.append(instance.started_by_id)
    return owners or admins


def directed_unit_ids(session: Session, person: Person) -> set[int]:
    """Units the person directs (or deputises), with all their sub-units."""
    units = list(session.scalars(select(Unit).where(Unit.organisation_id == person.organisation_id)))
    roots = {u.id for u in units if person.id in (u.director_id, u.deputy_id)}
    result, frontier = set(roots), set(roots)
    while frontier:
        frontier = {u.id for u in units if u.parent_id in frontier} - result
        result |= frontier
    return result
