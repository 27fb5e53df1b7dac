"""Loading the shipped code catalog and the demo organisation (idempotent)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .directory import load_yaml, upsert_organisation
from .models import AuthorizationCategory, AuthorizationCode, Organisation


def load_codes(session: Session, organisation: Organisation, path: Path) -> int:
    """Insert codes the organisation does not have yet; never rewrite a code already in use."""
    doc = load_yaml(path)
    categories = {
        c.key: c
        for c in session.scalars(
            select(AuthorizationCategory).where(AuthorizationCategory.organisation_id == organisation.id)
        )
    }
    for cat in doc.get("categories", []):
        if cat["key"] not in categories:
            categories[cat["key"]] = AuthorizationCategory(
                organisation_id=organisation.id, key=cat["key"], name=cat["name"]
            )
            session.add(categories[cat["key"]])
    session.flush()
    existing = set(
        session.scalars(select(AuthorizationCode.key).where(AuthorizationCode.organisation_id == organisation.id))
    )
    added = 0
    for code in doc.get("codes", []):
        if code["key"] in existing:
            continue
        session.add(
            AuthorizationCode(
                organisation_id=organisation.id,
                key=code["key"],
                category_id=categories[code["category"]].id,
                agency=code.get("agency", ""),
                name=code["name"],
                description=code.get("description") or {},
                mandate_type=code.get("mandate_type", "transaction"),
                status="active",
                verified=bool(code.get("verified")),
            )
        )
        added += 1
    session.flush()
    return added


def load_demo(session: Session, organisation_file: Path, codes_file: Path) -> Organisation:
    org = upsert_organisation(session, load_yaml(organisation_file))
    load_codes(session, org, codes_file)
    return org
