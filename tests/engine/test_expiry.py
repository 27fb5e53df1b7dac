"""Expiry on the day after the end date (Finnish time) and renewal offers 60, 30 and 7 days before it – once each,
however often the scheduler sweeps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from engine import lifecycle, scheduler
from engine.models import AuditEvent, Authorization, Organisation, Person, Unit
from engine.runtime import Host


def add_authorization(host, holder_id: int, code_id: int, valid_until: date, **extra) -> int:
    with host.db.unit_of_work() as s:
        holder = s.get(Person, holder_id)
        row = Authorization(
            organisation_id=holder.organisation_id,
            holder_id=holder.id,
            holder_name=holder.name,
            unit_id=holder.unit_id,
            code_id=code_id,
            status="active",
            valid_from=valid_until - timedelta(days=3 * 365),
            valid_until=valid_until,
            registered_on=valid_until - timedelta(days=3 * 365),
            justification="Palkanlaskenta edellyttää tulorekisteri-ilmoituksia.",
            source="import",
            **extra,
        )
        s.add(row)
        s.flush()
        return row.id


def authorization(host, authorization_id: int) -> Authorization:
    with host.db.reader() as s:
        return s.get(Authorization, authorization_id)


def events(host, action: str, authorization_id: int) -> list[AuditEvent]:
    with host.db.reader() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.authorization_id == authorization_id)
                .order_by(AuditEvent.id)
            )
        )


def finnish_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)  # 12:00 or 13:00 in Finland


def test_an_authorization_expires_on_the_day_after_its_end_date_in_finnish_time_not_before(host, people, codes):
    end = date(2029, 1, 15)  # winter: Finland is UTC+2
    auth_id = add_authorization(host, people["employee"], codes[0], end, next_review_on=end)

    # years of daily-ish sweeps before the end date change nothing
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    while now < datetime(2029, 1, 15, 8, 0, tzinfo=UTC):
        assert lifecycle.expire_and_offer(host, now)["expired"] == 0
        now += timedelta(days=29)
    assert authorization(host, auth_id).status == "active"

    last_minute = datetime(2029, 1, 15, 21, 59, tzinfo=UTC)  # 23:59 on the end date in Finland
    assert lifecycle.expire_and_offer(host, last_minute)["expired"] == 0
    assert authorization(host, auth_id).status == "active"

    just_after = datetime(2029, 1, 15, 22, 1, tzinfo=UTC)  # 00:01 on the next day in Finland, still the 15th in UTC
    assert lifecycle.expire_and_offer(host, just_after)["expired"] == 1
    row = authorization(host, auth_id)
    assert row.status == "expired" and row.next_review_on is None

    history = events(host, "authorization.expired", auth_id)
    assert len(history) == 1
    assert history[0].actor_id is None and history[0].details["valid_until"] == "2029-01-15"
    assert lifecycle.expire_and_offer(host, just_after + timedelta(days=400))["expired"] == 0  # once
    assert len(events(host, "authorization.expired", auth_id)) == 1


def test_only_active_authorizations_expire(host, people, codes):
    end = date(2028, 3, 1)
    revoked = add_authorization(host, people["employee"], codes[0], end)
    with host.db.unit_of_work() as s:
        s.get(Authorization, revoked).status = "revoked"
    active = add_authorization(host, people["employee"], codes[1], end)
    assert scheduler.tick(host, finnish_noon(end + timedelta(days=1)))["expired"] == 1
    assert authorization(host, revoked).status == "revoked" and authorization(host, active).status == "expired"


def test_a_renewal_is_offered_once_at_60_30_and_7_days_however_often_the_scheduler_sweeps(host, people, codes):
    end = date(2028, 6, 30)
    auth_id = add_authorization(host, people["employee"], codes[0], end)
    offered_at = []
    day = end - timedelta(days=90)
    while day <= end + timedelta(days=2):
        for hour in (3, 10, 20):  # three sweeps a day (20 UTC is 22 or 23 in Finland)
            now = datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC)
            if lifecycle.expire_and_offer(host, now)["renewals_offered"]:
                offered_at.append((end - day).days)
        day += timedelta(days=1)

    assert offered_at == [60, 30, 7]
    offers = events(host, "authorization.renewal_offered", auth_id)
    assert [e.details["days"] for e in offers] == [60, 30, 7]
    with host.db.reader() as s:
        employee = s.get(Person, people["employee"])
        unit = s.get(Unit, employee.unit_id)  # talouspalvelut has no director: its parent's director decides
        parent = s.get(Unit, unit.parent_id)
    assert offers[0].details["recipients"][0] == people["employee"]
    assert parent.director_id in offers[0].details["recipients"]
    assert all(e.actor_id is None for e in offers)
    assert authorization(host, auth_id).status == "expired"


def test_an_authorization_found_late_gets_one_offer_at_the_threshold_it_has_reached(host, people, codes):
    today = date(2027, 5, 10)
    auth_id = add_authorization(host, people["employee"], codes[0], today + timedelta(days=5))
    assert lifecycle.expire_and_offer(host, finnish_noon(today))["renewals_offered"] == 1
    assert lifecycle.expire_and_offer(host, finnish_noon(today + timedelta(days=1)))["renewals_offered"] == 0
    assert authorization(host, auth_id).renewal_offered_days == 7
    assert [e.details["days"] for e in events(host, "authorization.renewal_offered", auth_id)] == [7]


def test_the_organisation_chooses_its_offer_days(host, people, codes):
    with host.db.unit_of_work() as s:
        org = s.scalar(select(Organisation))
        org.settings = {**org.settings, "renewal_offer_days": [14]}
    end = date(2027, 9, 1)
    auth_id = add_authorization(host, people["employee"], codes[0], end)
    assert lifecycle.expire_and_offer(host, finnish_noon(end - timedelta(days=30)))["renewals_offered"] == 0
    assert lifecycle.expire_and_offer(host, finnish_noon(end - timedelta(days=14)))["renewals_offered"] == 1
    assert authorization(host, auth_id).renewal_offered_days == 14


def test_many_authorizations_expire_and_are_offered_in_batches(host, people, codes):
    end = date(2027, 2, 1)
    ids = [add_authorization(host, people["employee"], codes[i % len(codes)], end) for i in range(5)]
    original = lifecycle.BATCH
    lifecycle.BATCH = 2  # several rounds of the same loop
    try:
        assert lifecycle.expire_and_offer(host, finnish_noon(end - timedelta(days=3)))["renewals_offered"] == 5
        assert lifecycle.expire_and_offer(host, finnish_noon(end + timedelta(days=1)))["expired"] == 5
    finally:
        lifecycle.BATCH = original
    assert {authorization(host, i).status for i in ids} == {"expired"}


def test_the_scheduler_follows_the_system_clock_through_years_of_time_travel(host, people, codes):
    """`valtuus tick` and the worker use the real clock: moved with time-machine, not the host's test clock."""
    import time_machine

    end = date(2031, 6, 30)
    auth_id = add_authorization(host, people["employee"], codes[0], end, next_review_on=end)
    with time_machine.travel(datetime(2031, 5, 1, 9, tzinfo=UTC), tick=False):
        scheduler.tick(host, force=True)
    assert authorization(host, auth_id).renewal_offered_days == 60
    assert authorization(host, auth_id).status == "active"
    with time_machine.travel(datetime(2031, 6, 30, 20, 59, tzinfo=UTC), tick=False):  # 23:59 in Finland
        scheduler.tick(host, force=True)
    assert authorization(host, auth_id).status == "active"
    with time_machine.travel(datetime(2031, 6, 30, 21, 1, tzinfo=UTC), tick=False):  # 00:01 the next day
        scheduler.tick(host, force=True)
    assert authorization(host, auth_id).status == "expired"
    assert len(events(host, "authorization.expired", auth_id)) == 1


def test_a_new_end_date_from_a_list_brings_the_renewal_offers_back(host, people, codes):
    from engine.reconcile import align_end_date

    auth_id = add_authorization(host, people["employee"], codes[0], date(2030, 3, 31), next_review_on=date(2030, 3, 31))
    simulated = [finnish_noon(date(2030, 3, 25))]
    timed = Host(host.settings, db=host.db, clock=lambda: simulated[0])
    scheduler.tick(timed, force=True)
    assert authorization(host, auth_id).renewal_offered_days == 7
    with host.db.unit_of_work() as s:
        align_end_date(s, s.get(Authorization, auth_id).organisation_id, auth_id, date(2031, 3, 31),
                       people["admin"], simulated[0])
    assert authorization(host, auth_id).renewal_offered_days is None
    simulated[0] = finnish_noon(date(2031, 1, 30))
    scheduler.tick(timed, force=True)
    assert authorization(host, auth_id).renewal_offered_days == 60
