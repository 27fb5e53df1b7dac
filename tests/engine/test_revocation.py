"""The revocation process (processes/authorization_revocation), driven through the engine on a simulated clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import revocation
from engine.errors import NotFoundError, TaskConflictError
from engine.models import (
    AuditEvent,
    Authorization,
    HumanTask,
    HumanTaskOwner,
    Person,
    PersonRole,
    ProcessInstance,
)
from engine.runtime import Host

MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 10:00 in Finland


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY)


@pytest.fixture
def sim(host, clock) -> Host:
    """The same database and diagrams, on a clock the test moves."""
    return Host(host.settings, db=host.db, clock=clock)


def add_active(host, holder_id: int, code_id: int, *, registered: date, until: date, next_review: date | None = None):
    with host.db.unit_of_work() as s:
        holder = s.get(Person, holder_id)
        row = Authorization(
            organisation_id=holder.organisation_id,
            holder_id=holder.id,
            holder_name=holder.name,
            unit_id=holder.unit_id,
            code_id=code_id,
            status="active",
            mandate_type="transaction",
            valid_from=registered,
            valid_until=until,
            registered_on=registered,
            next_review_on=next_review,
            source="import",
        )
        s.add(row)
        s.flush()
        return row.id


def start(
    sim, authorization_id: int, *, trigger="manual", requested_by=None, effective_on=None, reason="Ei enää tarvita"
):
    with sim.db.unit_of_work() as s:
        org = s.get(Authorization, authorization_id).organisation_id
        return revocation.start_revocation(
            sim,
            s,
            org,
            authorization_id,
            reason=reason,
            trigger=trigger,
            requested_by=requested_by,
            effective_on=effective_on,
        )


def authorization(host, authorization_id: int) -> Authorization:
    with host.db.reader() as s:
        return s.get(Authorization, authorization_id)


def open_task(host, instance_id: int) -> HumanTask | None:
    with host.db.reader() as s:
        return s.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == "ready")
        ).first()


def owners(host, task_id: str) -> set[int]:
    with host.db.reader() as s:
        return set(s.scalars(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == task_id)))


def events(host, instance_id: int, action: str) -> list[AuditEvent]:
    with host.db.reader() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.instance_id == instance_id, AuditEvent.action == action)
                .order_by(AuditEvent.id)
            )
        )


def administrators(host) -> set[int]:
    with host.db.reader() as s:
        return set(s.scalars(select(PersonRole.person_id).where(PersonRole.role == "administrator")))


@pytest.fixture
def active(sim, people, codes) -> int:
    return add_active(sim, people["employee"], codes[0], registered=date(2025, 3, 1), until=date(2027, 3, 1))


def test_starting_a_revocation_marks_the_authorization_pending_and_gives_the_pääkäyttäjät_a_task(sim, active, people):
    instance_id = start(sim, active, requested_by=people["director"])

    row = authorization(sim, active)
    assert (row.status, row.open_instance_id) == ("revoking", instance_id)
    task = open_task(sim, instance_id)
    assert task.bpmn_id == "invalidate_in_suomifi" and task.names["en"] == "Invalidate the mandate in Suomi.fi"
    assert owners(sim, task.id) == administrators(sim)
    [started] = events(sim, instance_id, "authorization.revocation_started")
    assert started.actor_id == people["director"] and started.authorization_id == active
    assert started.details["reason"] == "Ei enää tarvita" and started.details["trigger"] == "manual"


def test_starting_twice_starts_one_process_and_a_closed_authorization_starts_none(sim, active, people, codes):
    assert start(sim, active) is not None
    assert start(sim, active) is None
    ended = add_active(sim, people["employee"], codes[1], registered=date(2024, 1, 1), until=date(2025, 1, 1))
    with sim.db.unit_of_work() as s:
        s.get(Authorization, ended).status = "expired"
    assert start(sim, ended) is None
    with sim.db.reader() as s:
        assert s.scalar(select(ProcessInstance.id).where(ProcessInstance.process_id == "authorization_review")) is None
        assert len(list(s.scalars(select(ProcessInstance.id)))) == 1


def test_the_reminder_and_the_escalation_fire_on_their_dates_and_not_before(sim, clock, active, people):
    instance_id = start(sim, active)  # Monday: due Tuesday, reminder Wednesday, escalation Friday
    task = open_task(sim, instance_id)
    with sim.db.unit_of_work() as s:  # a pääkäyttäjä joined after the task was given out
        newcomer = s.scalars(select(Person).where(Person.email == "supervisor@merilahti.example")).one()
        newcomer.roles.append(PersonRole(role="administrator"))
    with sim.db.reader() as s:
        assert s.get(ProcessInstance, instance_id).next_timer_due == MONDAY + timedelta(days=2)

    clock.advance(days=2, minutes=-1)
    assert sim.fire_due_timers() == 0
    assert events(sim, instance_id, "revocation.reminder") == []

    clock.advance(minutes=2)
    assert sim.fire_due_timers() == 1
    [reminder] = events(sim, instance_id, "revocation.reminder")
    assert reminder.at == clock.now and set(reminder.details["owners"]) == owners(sim, task.id)
    assert events(sim, instance_id, "revocation.escalated") == []
    assert open_task(sim, instance_id).id == task.id  # the reminder does not interrupt the task

    clock.advance(days=2)  # Friday 10:01
    assert sim.fire_due_timers() == 1
    [escalated] = events(sim, instance_id, "revocation.escalated")
    assert escalated.details["added"] == [people["supervisor"]]
    assert people["supervisor"] in owners(sim, task.id)
    assert authorization(sim, active).status == "revoking"
    with sim.db.reader() as s:
        assert s.get(ProcessInstance, instance_id).next_timer_due is None


def test_the_pääkäyttäjäs_confirmation_revokes_the_authorization_with_who_when_and_why(sim, clock, active, people):
    instance_id = start(sim, active, requested_by=people["employee"], reason="Siirryn muihin tehtäviin")
    clock.advance(hours=3)
    done = sim.complete_task(
        people["admin"],
        open_task(sim, instance_id).id,
        {"revocation_outcome": "invalidated", "invalidated_on": "2026-03-02"},
    )

    assert done.status == "complete"
    row = authorization(sim, active)
    assert (row.status, row.open_instance_id, row.next_review_on) == ("revoked", None, None)
    assert row.closing_reason == "Siirryn muihin tehtäviin"
    [revoked] = events(sim, instance_id, "authorization.revoked")
    assert revoked.actor_id == people["admin"] and revoked.at == clock.now
    assert revoked.details["requested_by"] == people["employee"] and revoked.details["suomifi"] == "invalidated"
    assert revoked.details["invalidated_on"] == "2026-03-02"
    with sim.db.reader() as s:
        assert s.get(ProcessInstance, instance_id).outcome == "end_revoked"


def test_a_mandate_that_could_not_be_invalidated_is_closed_with_the_explanation(sim, active, people):
    instance_id = start(sim, active)
    sim.complete_task(
        people["admin"],
        open_task(sim, instance_id).id,
        {"revocation_outcome": "not_invalidated", "revocation_note": "Valtuutta ei löytynyt Suomi.fi:stä"},
    )
    row = authorization(sim, active)
    assert row.status == "revoked" and "ei löytynyt" in row.closing_reason
    with sim.db.reader() as s:
        assert s.get(ProcessInstance, instance_id).outcome == "end_not_invalidated"


def test_a_leavers_revocation_waits_for_the_end_date_before_the_task_appears(sim, clock, active, people):
    instance_id = start(sim, active, trigger="leaver", effective_on=date(2026, 3, 13))  # a Friday
    assert open_task(sim, instance_id) is None
    with sim.db.reader() as s:
        instance = s.get(ProcessInstance, instance_id)
    assert instance.status == "waiting" and instance.next_timer_due == datetime(2026, 3, 12, 22, 0, tzinfo=UTC)
    assert authorization(sim, active).status == "revoking"

    clock.now = datetime(2026, 3, 12, 21, 59, tzinfo=UTC)
    assert sim.fire_due_timers() == 0
    clock.now = datetime(2026, 3, 12, 22, 1, tzinfo=UTC)
    assert sim.fire_due_timers() == 1
    assert open_task(sim, instance_id).bpmn_id == "invalidate_in_suomifi"
    with sim.db.reader() as s:  # due the next working day (Monday), reminder a day after it
        assert s.get(ProcessInstance, instance_id).next_timer_due == datetime(2026, 3, 16, 22, 0, tzinfo=UTC)


def test_working_days_skip_the_weekend():
    friday = datetime(2026, 3, 6, 8, 0, tzinfo=UTC)
    assert revocation.add_working_days(friday, 1) == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    assert revocation.add_working_days(friday, 5) == datetime(2026, 3, 13, 8, 0, tzinfo=UTC)
    assert revocation.add_working_days(friday, 0) == friday


def test_the_holder_their_director_and_a_pääkäyttäjä_may_ask_but_a_colleague_may_not(sim, people, codes):
    rows = [
        add_active(sim, people["employee"], c, registered=date(2025, 3, 1), until=date(2027, 3, 1)) for c in codes[:4]
    ]
    with sim.db.reader() as s:
        colleague = s.scalars(select(Person.id).where(Person.email == "anstalld@merilahti.example")).one()
    with pytest.raises(NotFoundError):
        revocation.request_revocation(sim, colleague, rows[0], reason="Ei kuulu minulle")
    assert authorization(sim, rows[0]).status == "active"
    for who, row in zip(("employee", "director", "mikael.holmstrom", "admin"), rows, strict=True):
        instance_id = revocation.request_revocation(sim, people[who], row, reason="Tarve päättyi")
        assert authorization(sim, row).open_instance_id == instance_id
    with pytest.raises(TaskConflictError):
        revocation.request_revocation(sim, people["admin"], rows[0], reason="Uudestaan")


def test_after_reminder_and_escalation_the_outcome_is_still_the_revocation_not_a_timer_branch(
    sim, clock, active, people
):
    instance_id = start(sim, active)
    clock.advance(days=5)
    assert sim.fire_due_timers() == 1
    assert len(events(sim, instance_id, "revocation.reminder")) == len(events(sim, instance_id, "revocation.escalated"))
    sim.complete_task(
        people["jonas.ekholm"],
        open_task(sim, instance_id).id,
        {"revocation_outcome": "invalidated", "invalidated_on": clock.now.date().isoformat()},
    )
    with sim.db.reader() as s:
        instance = s.get(ProcessInstance, instance_id)
    assert (instance.status, instance.outcome) == ("complete", "end_revoked")
    assert authorization(sim, active).status == "revoked"
