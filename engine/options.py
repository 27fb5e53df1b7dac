"""Option lists for forms, filled from the organisation's data."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuthorizationCode


def option_sources(session: Session, organisation_id: int) -> dict:
    def authorization_codes() -> list[dict]:
        codes = session.scalars(
            select(AuthorizationCode)
            .where(AuthorizationCode.organisation_id == organisation_id, AuthorizationCode.status == "active")
            .order_by(AuthorizationCode.agency, AuthorizationCode.key)
        )
        return [
            {
                "const": code.id,
                "title": code.name.get("fi", code.key),
                "x-title": {k: v for k, v in code.name.items() if k != "fi"},
                "x-group": code.agency,
                "x-description": code.description,
            }
            for code in codes
        ]

    return {"authorization_codes": authorization_codes}


def invalid_values(session: Session, organisation_id: int):
    """A checker for forms.validate: which submitted option values this organisation does not offer."""

    def check(source: str, values: list) -> set:
        if source != "authorization_codes":
            return set(values)
        ids = {v for v in values if isinstance(v, int) and not isinstance(v, bool)}
        found = (
            set(
                session.scalars(
                    select(AuthorizationCode.id).where(
                        AuthorizationCode.organisation_id == organisation_id,
                        AuthorizationCode.status == "active",
                        AuthorizationCode.id.in_(ids),
                    )
                )
            )
            if ids
            else set()
        )
        return set(values) - found

    return check
