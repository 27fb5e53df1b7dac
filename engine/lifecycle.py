"""Expiry and renewal: authorizations past their end date become expired; renewals are offered before it.

Suomi.fi ends a mandate by itself on its end date (Finnish time), so expiry needs nobody's task: the day after
the end date the registry says "expired" and the history says so. Before the end date – by default 60, 30 and 7
days (policy ``renewal_offer_days``) – the holder and their director are offered a renewal, once per threshold.

Both are set-based: indexed range queries on (organisation_id, status, valid_until), bulk ``UPDATE … RETURNING``
guarded by the old values, so repeated ticks and several workers at once never expire or offer anything twice.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import audit, notifications
from .clock import local_date
from .models import Authorization, AuthorizationStatus, Organisation, Person, Unit
from .policy import policy_for

BATCH = 2000  # rows per transaction: short transactions, bounded memory
ACTIVE = AuthorizationStatus.ACTIVE.value
log = logging.getLogger("valtuus.lifecycle")


def expire_and_offer(host, now: datetime | None = None) -> dict:
    """One sweep over every organisation: expire what ended, offer renewals that are due. Returns counts."""
    now = now or host.clock()
    today = local_date(now)
    with host.db.reader() as session:
        organisations = session.execute(select(Organisation.id, Organisation.settings)).all()
    counts = {"expired": 0, "renewals_offered": 0}
    for organisation_id, settings in organisations:
        counts["expired"] += expire(host, organisation_id, today, now)
        thresholds = policy_for(settings)["renewal_offer_days"]
        counts["renewals_offered"] += offer_renewals(host, organisation_id, thresholds, today, now)
    return counts


# -- expiry -----------------------------------------------------------------------------------------


def expire(host, organisation_id: int, today: date, now: datetime) -> int:
    """Active authorizations whose end date is before ``today`` (Finnish time) become expired."""
    done = 0
    while True:
        with host.db.unit_of_work() as session:
            ids = list(
                session.scalars(
                    select(Authorization.id)
                    .where(
                        Authorization.organisation_id == organisation_id,
                        Authorization.status == ACTIVE,
                        Authorization.valid_until < today,
                    )
                    .order_by(Authorization.valid_until, Authorization.id)
                    .limit(BATCH)
                )
            )
            if not ids:
                return done
            changed = session.execute(
                update(Authorization)
                .where(Authorization.id.in_(ids), Authorization.status == ACTIVE, Authorization.valid_until < today)
                .values(status=AuthorizationStatus.EXPIRED.value, next_review_on=None, updated_at=now)
                .returning(Authorization.id, Authorization.valid_until)
                .execution_options(synchronize_session=False)
            ).all()
            audit.record_many(
                session,
                organisation_id,
                [
                    {
                        "action": "authorization.expired",
                        "authorization_id": row.id,
                        "details": {"from": ACTIVE, "to": "expired", "valid_until": str(row.valid_until)},
                    }
                    for row in changed
                ],
                at=now,
            )
            done += len(changed)
        if len(ids) < BATCH:
            return done


# -- renewal offers ---------------------------------------------------------------------------------


def reached_threshold(valid_until: date, today: date, thresholds: list[int]) -> int | None:
    """The smallest offer threshold (days before the end) that ``today`` has reached, if any."""
    left = (valid_until - today).days
    if left < 0:
        return None
    reached = [t for t in thresholds if left <= t]
    return min(reached) if reached else None


def offer_window(thresholds: list[int]) -> int:
    return max(thresholds) if thresholds else 0


def offer_renewals(host, organisation_id: int, thresholds: list[int], today: date, now: datetime) -> int:
    """Offer a renewal once per threshold reached. Smallest threshold first: an authorization 5 days from its
    end that was never offered (the system was down, or it was imported late) gets one offer, at 7 days."""
    done = 0
    for threshold in sorted(set(thresholds)):
        while True:
            with host.db.unit_of_work() as session:
                rows = session.execute(
                    select(Authorization.id, Authorization.holder_id)
                    .where(
                        Authorization.organisation_id == organisation_id,
                        Authorization.status == ACTIVE,
                        Authorization.valid_until >= today,
                        Authorization.valid_until <= today + timedelta(days=threshold),
                        (Authorization.renewal_offered_days.is_(None))
                        | (Authorization.renewal_offered_days > threshold),
                    )
                    .order_by(Authorization.valid_until, Authorization.id)
                    .limit(BATCH)
                ).all()
                if not rows:
                    break
                changed = session.execute(
                    update(Authorization)
                    .where(
                        Authorization.id.in_([r.id for r in rows]),
                        Authorization.status == ACTIVE,
                        (Authorization.renewal_offered_days.is_(None))
                        | (Authorization.renewal_offered_days > threshold),
                    )
                    .values(renewal_offered_days=threshold, updated_at=now)
                    .returning(Authorization.id, Authorization.holder_id, Authorization.valid_until)
                    .execution_options(synchronize_session=False)
                ).all()
                recipients = _Recipients(session, organisation_id)
                for row in changed:
                    send_renewal_offer(
                        session,
                        organisation_id,
                        row.id,
                        days=threshold,
                        valid_until=row.valid_until,
                        recipient_ids=recipients.of(row.holder_id),
                        now=now,
                    )
                done += len(changed)
            if len(rows) < BATCH:
                break
    return done


def send_renewal_offer(
    session: Session,
    organisation_id: int,
    authorization_id: int,
    *,
    days: int,
    valid_until: date,
    recipient_ids: list[int],
    now: datetime,
) -> None:
    """The single place where a renewal offer goes out: the audit trail (the history and the registry show it)
    and the heräte "your authorization expires in N days" to ``recipient_ids`` (the holder and the director)."""
    audit.record(
        session,
        organisation_id,
        "authorization.renewal_offered",
        authorization_id=authorization_id,
        details={"days": days, "valid_until": str(valid_until), "recipients": recipient_ids},
        at=now,
    )
    notifications.notify_about_authorization(
        session,
        organisation_id,
        authorization_id,
        recipient_ids,
        "expiry_soon",
        {"days": days, "valid_until": str(valid_until)},
        now=now,
    )


class _Recipients:
    """The holder and the director(s) of their unit – walking up to a parent unit where a unit has none, as
    ``directory.directors_for`` does – with the units read once per batch instead of once per row."""

    def __init__(self, session: Session, organisation_id: int):
        self.session = session
        self.units = {u.id: u for u in session.scalars(select(Unit).where(Unit.organisation_id == organisation_id))}
        self.unit_of: dict[int, int | None] = {}

    def of(self, holder_id: int) -> list[int]:
        if holder_id not in self.unit_of:
            self.unit_of[holder_id] = self.session.scalar(select(Person.unit_id).where(Person.id == holder_id))
        unit = self.units.get(self.unit_of[holder_id])
        seen: set[int] = set()
        while unit is not None and unit.id not in seen:
            seen.add(unit.id)
            candidates = [pid for pid in (unit.director_id, unit.deputy_id) if pid and pid != holder_id]
            if candidates:
                return [holder_id, *candidates]
            unit = self.units.get(unit.parent_id)
        return [holder_id]


# -- for pages --------------------------------------------------------------------------------------


def renewal_window_days(settings: dict | None) -> int:
    """How many days before the end date a renewal is offered at the earliest (the largest threshold)."""
    return offer_window(policy_for(settings)["renewal_offer_days"])


def in_renewal_window(status: str, valid_until: date | None, today: date, window: int) -> bool:
    return status == ACTIVE and valid_until is not None and 0 <= (valid_until - today).days <= window
