"""Periodic review (määräaikaistarkastelu): review rounds per reviewer, decisions per line or in bulk.

Implemented with processes/authorization_review/.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session


def open_due_rounds(host, now: datetime) -> int:
    """Open review rounds for every active authorization whose review is due (within the lead time) and that
    is not already in a round. Returns the number of rounds (process instances) started."""
    return 0


def review_now(host, session: Session, organisation_id: int, authorization_ids: list[int], *, reason: str) -> list[int]:
    """Put these authorizations into review right away (e.g. a mover's, for the new director), in the caller's
    transaction. Returns the started instance ids."""
    raise NotImplementedError("review process not built yet")
