"""Loading the shipped code catalog (engine/data/authorization_codes.yaml) into an organisation, idempotently.

New categories and codes are added. A code that any authorization uses is never rewritten (the guide: its
identifier, name and description are fixed once in use); an unused code takes the file's texts, so corrections
to the file reach installations that have not used the code yet. Its status is the organisation's own after the
first load (a withdrawal is never undone by loading again). Loading the same file twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .directory import load_yaml
from .models import Authorization, AuthorizationCategory, AuthorizationCode, Organisation
from .models.base import utcnow
from .models.registry import CodeStatus

# the fields the file sets (besides the identifier); status and the replacement links are handled apart
TEXT_FIELDS = (
    "category_id",
    "agency",
    "name",
    "description",
    "mandate_type",
    "verified",
    "description_verified",
    "services",
    "warning",
    "confusable_with",
)
POLICY_OF_STATUS = {CodeStatus.HIDDEN.value: "hidden", CodeStatus.WITHDRAWN.value: "removed"}


@dataclass
class LoadResult:
    added: int = 0
    updated: int = 0
    categories_added: int = 0
    categories_updated: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.categories_added or self.categories_updated)


def load_catalog(
    session: Session, organisation: Organisation, path: Path | dict, *, now: datetime | None = None
) -> LoadResult:
    """Bring the file's categories and codes into the organisation (see the module's rules)."""
    doc = path if isinstance(path, dict) else load_yaml(path)
    now = now or utcnow()
    result = LoadResult()
    categories = _load_categories(session, organisation.id, doc.get("categories") or [], result)
    codes = {
        c.key: c
        for c in session.scalars(select(AuthorizationCode).where(AuthorizationCode.organisation_id == organisation.id))
    }
    used = set(
        session.scalars(
            select(Authorization.code_id).where(Authorization.organisation_id == organisation.id).distinct()
        )
    )
    for entry in doc.get("codes") or []:
        values = _values(entry, categories)
        row = codes.get(entry["key"])
        if row is None:
            status = entry.get("status") or CodeStatus.ACTIVE.value
            row = codes[entry["key"]] = AuthorizationCode(
                organisation_id=organisation.id,
                key=entry["key"],
                status=status,
                withdrawal_policy=POLICY_OF_STATUS.get(status),
                updated_at=now,
                **values,
            )
            session.add(row)
            result.added += 1
        elif row.id not in used and _differs(row, values):
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
            result.updated += 1
    session.flush()
    result.updated += _link_replacements(doc.get("codes") or [], codes, used, now)
    session.flush()
    if result.changed:
        audit.record(
            session,
            organisation.id,
            "catalog.loaded",
            details={
                "added": result.added,
                "updated": result.updated,
                "categories_added": result.categories_added,
                "categories_updated": result.categories_updated,
            },
            at=now,
        )
    return result


def _load_categories(session: Session, organisation_id: int, entries: list, result: LoadResult) -> dict:
    categories = {
        c.key: c
        for c in session.scalars(
            select(AuthorizationCategory).where(AuthorizationCategory.organisation_id == organisation_id)
        )
    }
    for entry in entries:
        values = {"name": entry["name"], "description": entry.get("description") or {}}
        row = categories.get(entry["key"])
        if row is None:
            row = categories[entry["key"]] = AuthorizationCategory(
                organisation_id=organisation_id, key=entry["key"], **values
            )
            session.add(row)
            result.categories_added += 1
        elif _differs(row, values):
            row.name, row.description = values["name"], values["description"]
            result.categories_updated += 1
    session.flush()
    return categories


def _values(entry: dict, categories: dict) -> dict:
    category = categories.get(entry.get("category"))
    return {
        "category_id": category.id if category else None,
        "agency": entry.get("agency") or "",
        "name": entry["name"],
        "description": entry.get("description") or {},
        "mandate_type": entry.get("mandate_type") or "transaction",
        "verified": bool(entry.get("verified")),
        "description_verified": bool(entry.get("description_verified")),
        "services": [str(s) for s in entry.get("services") or []],
        "warning": entry.get("warning") or {},
        "confusable_with": [str(k) for k in entry.get("confusable_with") or []],
    }


def _differs(row, values: dict) -> bool:
    return any(getattr(row, name) != value for name, value in values.items())


def _link_replacements(entries: list, codes: dict, used: set, now: datetime) -> int:
    """``replaces: old_key`` in the file: the new code points at the old one and the old one at the new one
    (links are not locked fields, but a link already made in the organisation is kept)."""
    changed = 0
    for entry in entries:
        new, old = codes.get(entry["key"]), codes.get(entry.get("replaces") or "")
        if new is None or old is None or new is old:
            continue
        if new.replaces_id is None and new.id not in used:
            new.replaces_id, new.updated_at = old.id, now
            changed += 1
        if old.replaced_by_id is None:
            old.replaced_by_id, old.updated_at = new.id, now
            changed += 1
    return changed
