"""Role profiles (tehtäväroolit): a job and the codes it normally needs, each with a reason.

The pääkäyttäjä maintains them (every change audited); a starter set ships in data/role_profiles.yaml. A profile
prefills a request ("Mitä valtuuksia tarvitsen?"), and an HR job title that matches one suggests a request for a
joiner (role_profile_steps.py). Codes outside the chosen profile need an extra justification: the request
diagram's check step (``profiles.check_request``) refuses them without one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from . import audit, queries
from .directory import load_yaml
from .errors import EngineError, NotAllowedError, NotFoundError
from .models import AuthorizationCode, Organisation, Person, RoleProfile, RoleProfileCode

LANGUAGES = ("fi", "sv", "en")
KEY = re.compile(r"^[a-z0-9][a-z0-9_]{1,63}$")
MIN_EXTRA_JUSTIFICATION = 10
MAX_TEXT = 2000


class ProfileInputError(EngineError):
    """A role profile change is not acceptable; ``params["field"]`` names the field."""

    code = "role_profile_invalid"


# -- reading -----------------------------------------------------------------------------------------------


def profiles(session: Session, organisation_id: int, *, include_inactive: bool = False) -> list[RoleProfile]:
    """The organisation's profiles by Finnish name, each with its codes loaded."""
    query = (
        select(RoleProfile)
        .where(RoleProfile.organisation_id == organisation_id)
        .options(selectinload(RoleProfile.codes).selectinload(RoleProfileCode.code))
    )
    if not include_inactive:
        query = query.where(RoleProfile.active.is_(True))
    return sorted(session.scalars(query), key=lambda p: (p.name or {}).get("fi", p.key).casefold())


def profile(session: Session, organisation_id: int, key: str, *, active_only: bool = True) -> RoleProfile:
    """One profile by key in the organisation; NotFoundError for another organisation's or an unknown key."""
    query = select(RoleProfile).where(RoleProfile.organisation_id == organisation_id, RoleProfile.key == str(key))
    found = session.scalar(query.options(selectinload(RoleProfile.codes).selectinload(RoleProfileCode.code)))
    if found is None or (active_only and not found.active):
        raise NotFoundError("role profile not found")
    return found


def active_code_ids(found: RoleProfile) -> list[int]:
    """The profile's codes that can still be requested (a withdrawn or hidden code is left out)."""
    return [c.code_id for c in found.codes if c.code is not None and c.code.status == "active"]


def _normalise(text: str) -> str:
    return " ".join(str(text or "").replace("-", " - ").split()).casefold()


def match_title(candidates: list[RoleProfile], title: str) -> RoleProfile | None:
    """The profile whose title word or phrase starts a word of ``title``; the longest phrase wins."""
    wanted = _normalise(title)
    best, best_len = None, 0
    for candidate in candidates:
        for phrase in candidate.job_titles or []:
            phrase = _normalise(phrase)
            if phrase and len(phrase) > best_len and re.search(rf"(?<!\w){re.escape(phrase)}", wanted):
                best, best_len = candidate, len(phrase)
    return best


def profile_for_person(session: Session, person: Person) -> RoleProfile | None:
    """The active profile the person's job title (in any language) matches, if any."""
    candidates = profiles(session, person.organisation_id)
    for title in (person.title or {}).values():
        found = match_title(candidates, title)
        if found is not None:
            return found
    return None


def text(values: dict | None, lang: str) -> str:
    values = values or {}
    return values.get(lang) or values.get("fi") or next(iter(values.values()), "")


def justification_draft(found: RoleProfile, lang: str, code_ids: list[int] | None = None) -> str:
    """A draft justification: the job and, for each code, why it is needed (the director reads this)."""
    wanted = set(code_ids) if code_ids is not None else None
    heading = {"fi": "Tehtävärooli", "sv": "Arbetsroll", "en": "Role profile"}.get(lang, "Tehtävärooli")
    lines = [f"{heading}: {text(found.name, lang)}."]
    for entry in found.codes:
        if entry.code is not None and (wanted is None or entry.code_id in wanted):
            lines.append(f"– {text(entry.code.name, lang)}: {text(entry.reason, lang)}")
    return "\n".join(lines)[:MAX_TEXT]


@dataclass(frozen=True)
class Outside:
    """The codes of a request outside its chosen profile (empty when no profile was chosen)."""

    profile: RoleProfile | None
    code_ids: list[int]


def outside_profile(session: Session, organisation_id: int, key: str | None, code_ids: list) -> Outside:
    """Which requested codes the chosen profile does not cover; NotFoundError for an unknown profile."""
    if not key:
        return Outside(None, [])
    found = profile(session, organisation_id, key)
    covered = {c.code_id for c in found.codes}
    return Outside(found, [int(c) for c in code_ids if int(c) not in covered])


# -- loading the starter set ---------------------------------------------------------------------------


def load_profiles(session: Session, organisation: Organisation, path: Path) -> int:
    """Insert the file's profiles the organisation does not have yet (by key); never rewrite one it has,
    so the pääkäyttäjä's changes survive. Codes the organisation lacks are skipped. Returns how many were added."""
    if not Path(path).exists():
        return 0
    doc = load_yaml(path) or {}
    existing = set(session.scalars(select(RoleProfile.key).where(RoleProfile.organisation_id == organisation.id)))
    codes = {
        c.key: c.id
        for c in session.scalars(select(AuthorizationCode).where(AuthorizationCode.organisation_id == organisation.id))
    }
    added = 0
    for spec in doc.get("profiles", []):
        if spec["key"] in existing:
            continue
        row = RoleProfile(
            organisation_id=organisation.id,
            key=spec["key"],
            name=dict(spec["name"]),
            description=dict(spec.get("description") or {}),
            job_titles=[str(t) for t in spec.get("job_titles") or []],
            active=True,
        )
        row.codes = [
            RoleProfileCode(code_id=codes[c["code"]], reason=dict(c.get("reason") or {}))
            for c in spec.get("codes", [])
            if c["code"] in codes
        ]
        session.add(row)
        added += 1
    session.flush()
    return added


# -- the pääkäyttäjä's commands ------------------------------------------------------------------------------


def _administrator(session: Session, actor_id: int):
    actor = queries.user(session, actor_id)
    if actor is None or not actor.has("administrator"):
        raise NotAllowedError("only a pääkäyttäjä may change role profiles")
    return actor


def _texts(values: dict | None, field: str, *, required: bool) -> dict:
    clean = {lang: " ".join(str((values or {}).get(lang) or "").split())[:MAX_TEXT] for lang in LANGUAGES}
    if required and not clean["fi"]:
        raise ProfileInputError(f"{field} in Finnish is required", field=f"{field}_fi")
    return {lang: value for lang, value in clean.items() if value}


def save_profile(
    session: Session,
    actor_id: int,
    *,
    key: str,
    name: dict,
    description: dict | None = None,
    job_titles: list[str] | None = None,
    active: bool = True,
    create: bool = False,
    now: datetime,
) -> RoleProfile:
    """Create a profile (``create``: its key must be new) or update the one with this key (NotFoundError when
    there is none); audited as role_profile.created / .updated with what was there before."""
    actor = _administrator(session, actor_id)
    key = str(key or "").strip().lower()
    if not KEY.match(key):
        raise ProfileInputError("the key is 2–64 letters a–z, digits or _", field="key")
    values = {
        "name": _texts(name, "name", required=True),
        "description": _texts(description, "description", required=False),
        "job_titles": sorted({" ".join(t.split()).casefold() for t in job_titles or [] if t.strip()})[:50],
        "active": bool(active),
    }
    row = session.scalar(
        select(RoleProfile).where(RoleProfile.organisation_id == actor.organisation_id, RoleProfile.key == key)
    )
    if create and row is not None:
        raise ProfileInputError("a role profile with this key exists already", field="key_taken")
    if not create and row is None:
        raise NotFoundError("role profile not found")
    action = "role_profile.updated" if row is not None else "role_profile.created"
    if row is None:
        row = RoleProfile(organisation_id=actor.organisation_id, key=key)
        session.add(row)
    before = {k: getattr(row, k) for k in values} if action.endswith("updated") else {}
    for attr, value in values.items():
        setattr(row, attr, value)
    row.updated_at = now
    session.flush()
    details = {"key": key, **values}
    if before:
        details["before"] = before
    audit.record(session, actor.organisation_id, action, actor_id=actor.id, details=details, at=now)
    return row


def set_codes(
    session: Session, actor_id: int, key: str, entries: list[tuple[int, dict]], *, now: datetime
) -> RoleProfile:
    """Replace the profile's codes with ``entries`` [(code id, reason {fi, sv, en})]; each needs a Finnish reason
    and must be a code of the organisation (audited as role_profile.codes_set, with what was there before)."""
    actor = _administrator(session, actor_id)
    row = profile(session, actor.organisation_id, key, active_only=False)
    ids = [int(code_id) for code_id, _reason in entries]
    if len(set(ids)) != len(ids):
        raise ProfileInputError("each code only once", field="codes")
    known = set(
        session.scalars(
            select(AuthorizationCode.id).where(
                AuthorizationCode.organisation_id == actor.organisation_id, AuthorizationCode.id.in_(ids or [0])
            )
        )
    )
    if set(ids) - known:
        raise ProfileInputError("unknown code", field="codes")
    reasons = {code_id: _texts(reason, f"reason_{code_id}", required=True) for code_id, reason in entries}
    before = {c.code_id: c.reason for c in row.codes}
    row.codes = [c for c in row.codes if c.code_id in reasons]
    for entry in row.codes:
        entry.reason = reasons[entry.code_id]
    row.codes += [RoleProfileCode(code_id=i, reason=reasons[i]) for i in ids if i not in before]
    row.updated_at = now
    session.flush()
    audit.record(
        session,
        actor.organisation_id,
        "role_profile.codes_set",
        actor_id=actor.id,
        details={
            "key": row.key,
            "codes": {str(i): reasons[i] for i in ids},
            "before": {str(k): v for k, v in before.items()},
        },
        at=now,
    )
    return row


def addable_codes(session: Session, found: RoleProfile) -> list[AuthorizationCode]:
    """Active codes of the profile's organisation that it does not list yet, by Finnish name."""
    listed = {e.code_id for e in found.codes}
    rows = session.scalars(
        select(AuthorizationCode).where(
            AuthorizationCode.organisation_id == found.organisation_id, AuthorizationCode.status == "active"
        )
    )
    return sorted((c for c in rows if c.id not in listed), key=lambda c: (c.name or {}).get("fi", c.key).casefold())


def request_values(found: RoleProfile, lang: str, start: date, until: date) -> dict:
    """The new-request form's values for a profile: its codes, a justification draft and the dates."""
    code_ids = active_code_ids(found)
    return {
        "role_profile": found.key,
        "codes": code_ids,
        "justification": justification_draft(found, lang, code_ids),
        "valid_from": start.isoformat(),
        "valid_until": until.isoformat(),
    }


def with_profile_choices(session: Session, organisation_id: int, schema: dict) -> dict:
    """A copy of the request form whose ``role_profile`` field lists the organisation's active profiles (shown as
    a choice on the page; the diagram's check step validates the key)."""
    if "role_profile" not in schema.get("properties", {}):
        return schema
    choices = [
        {"const": p.key, "title": p.name.get("fi", p.key), "x-title": {k: v for k, v in p.name.items() if k != "fi"}}
        for p in profiles(session, organisation_id)
    ]
    if not choices:
        return schema
    properties = {**schema["properties"], "role_profile": {**schema["properties"]["role_profile"], "oneOf": choices}}
    return {**schema, "properties": properties}
