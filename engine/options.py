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
