"""Revocation (peruminen / mitätöinti): the pääkäyttäjä invalidates a mandate in Suomi.fi and confirms it.

Interface used by reviews, HR events and (later) code withdrawal – implemented with
processes/authorization_revocation/.
"""

from __future__ import annotations

from sqlalchemy.orm import Session


def start_revocation(
    host,
    session: Session,
    organisation_id: int,
    authorization_id: int,
    *,
    reason: str,
    trigger: str,
    requested_by: int | None = None,
    effective_on=None,
) -> int | None:
    """Start the revocation process for one active authorization in the caller's transaction.

    ``trigger`` is one of "review", "leaver", "mover", "code_withdrawn", "manual". Returns the new instance's
    id, or None when the authorization is not active or a revocation is already under way (idempotent).
    """
    raise NotImplementedError("revocation process not built yet")
