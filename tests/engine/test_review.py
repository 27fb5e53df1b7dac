"""Periodic review rounds (processes/authorization_review) over years of simulated time."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine import review
from engine.errors import NotFoundError
from engine.models import (
    AuditEvent,
    Authorization,
    HumanTask,
    HumanTaskOwner,
    Organisation,
    Person,
    PersonRole,
    ProcessInstance,
    ReviewItem,
)
from engine.queries import user
from engine.registry import add_months
from engine.runtime import Host
from tests.conftest import registration_form, request_form
from tests.engine.test_revocation import MONDAY, Clock, add_active, authorization, events, open_task, owners


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY)


@pytest.fixture
def sim(host, clock) -> Host:
    return Host(host.settings, db=host.db, clock=clock)


def set_policy(host, **settings) -> None:
    with host.db.unit_of_work() as s:
        org = s.scalars(select(Organisation).where(Organisation.key == "merilahti")).one()
        org.settings = {**org.settings, **settings}


def rounds_of(host) -> list[ProcessInstance]:
    with host.db.reader() as s:
        return list(
            s.scalars(
                select(ProcessInstance)
                .where(ProcessInstance.process_id == "authorization_review")
                .order_by(ProcessInstance.id)
            )
        )


def items(host, instance_id: int) -> list[ReviewItem]:
    with host.db.reader() as s:
        return list(s.scalars(select(ReviewItem).where(ReviewItem.instance_id == instance_id).order_by(ReviewItem.id)))


def lines(host, person_id: int) -> list[int]:
    with host.db.reader() as s:
        found, _total = review.pending_lines(s, user(s, person_id))
        return [line.authorization.id for line in found]


def keep(item: ReviewItem) -> review.Decision:
    return review.Decision(item.id, item.lock_version, "keep")


def due_soon(sim, people, codes, holder="employee", n=1) -> list[int]:
    """Active authorizations whose review is 20 days away (inside the 30-day lead time)."""
    today = MONDAY.date()
    return [
        add_active(
            sim,
            people[holder],
            code,
            registered=date(2025, 3, 22),
            until=date(2028, 1, 1),
            next_review=today + timedelta(days=20),
        )
        for code in codes[:n]
    ]


def test_a_round_opens_per_reviewer_for_what_is_due_and_never_twice(sim, clock, people, codes):
    mine = due_soon(sim, people, codes, n=3)
    later = add_active(
        sim,
        people["employee"],
        codes[5],
        registered=date(2025, 9, 1),
        until=date(2028, 1, 1),
        next_review=MONDAY.date() + timedelta(days=60),
    )
    with sim.db.reader() as s:
        teacher = s.scalars(select(Person.id).where(Person.email == "anstalld@merilahti.example")).one()
    other_unit = add_active(
        sim, teacher, codes[0], registered=date(2020, 1, 1), until=MONDAY.date() + timedelta(days=10)
    )

    assert review.open_due_rounds(sim, clock.now) == 2
    assert review.open_due_rounds(sim, clock.now) == 0

    first, second = rounds_of(sim)
    assert sorted(i.authorization_id for i in items(sim, first.id)) == mine
    assert [i.authorization_id for i in items(sim, second.id)] == [other_unit]
    assert authorization(sim, later).open_instance_id is None
    assert {authorization(sim, a).open_instance_id for a in mine} == {first.id}
    task = open_task(sim, first.id)
    assert task.bpmn_id == "review_authorizations"
    assert owners(sim, task.id) == {people["director"], people["mikael.holmstrom"]}  # director and deputy
    assert people["employee"] not in owners(sim, open_task(sim, second.id).id)


def test_through_the_years_a_request_is_kept_at_its_first_review_and_revoked_at_the_next(host, people, codes):
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    sim = Host(host.settings, db=host.db, clock=clock)
    today = clock.now.date()
    started = sim.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    endorsed = sim.complete_task(people["supervisor"], started.ready_task_ids[0], {"endorsement_decision": "endorse"})
    approved = sim.complete_task(people["director"], endorsed.ready_task_ids[0], {"approval_decision": "approve"})
    until = (today + timedelta(days=3 * 365)).isoformat()
    sim.complete_task(people["admin"], approved.ready_task_ids[0], registration_form(registered_valid_until=until))
    with sim.db.reader() as s:
        auth_id = s.scalars(
            select(Authorization.id).where(Authorization.request_instance_id == started.instance_id)
        ).one()
    first_review = authorization(sim, auth_id).next_review_on
    assert first_review == add_months(today, 12)

    clock.now += timedelta(days=200)
    assert review.open_due_rounds(sim, clock.now) == 0  # not due yet
    clock.now = datetime.combine(first_review - timedelta(days=25), clock.now.time(), UTC)
    assert review.open_due_rounds(sim, clock.now) == 1
    [round_one] = rounds_of(sim)
    [item] = items(sim, round_one.id)
    result = review.decide(sim, people["director"], [keep(item)])
    assert result.finished_rounds == [round_one.id]
    kept = authorization(sim, auth_id)
    reviewed_on = clock.now.date()
    assert (kept.status, kept.last_reviewed_on, kept.open_instance_id) == ("active", reviewed_on, None)
    assert kept.next_review_on == add_months(reviewed_on, 12)
    assert [e.actor_id for e in events(sim, round_one.id, "authorization.review_kept")] == [people["director"]]

    clock.now = datetime.combine(kept.next_review_on - timedelta(days=10), clock.now.time(), UTC)
    assert review.open_due_rounds(sim, clock.now) == 1
    round_two = rounds_of(sim)[-1]
    [item] = items(sim, round_two.id)
    review.decide(
        sim,
        people["mikael.holmstrom"],
        [review.Decision(item.id, item.lock_version, "revoke", reason="Tehtävä päättyi")],
    )
    pending = authorization(sim, auth_id)
    assert pending.status == "revoking" and pending.open_instance_id not in (None, round_two.id)
    [started_revocation] = events(sim, pending.open_instance_id, "authorization.revocation_started")
    assert (
        started_revocation.details["trigger"] == "review" and started_revocation.actor_id == people["mikael.holmstrom"]
    )

    clock.now += timedelta(hours=2)
    sim.complete_task(
        people["admin"],
        open_task(sim, pending.open_instance_id).id,
        {"revocation_outcome": "invalidated", "invalidated_on": clock.now.date().isoformat()},
    )
    revoked = authorization(sim, auth_id)
    assert (revoked.status, revoked.closing_reason, revoked.open_instance_id) == ("revoked", "Tehtävä päättyi", None)
    with sim.db.reader() as s:
        assert s.get(ProcessInstance, round_two.id).status == "complete"


def test_reminder_and_escalation_come_on_their_days_and_escalation_adds_the_pääkäyttäjät(sim, clock, people, codes):
    due_soon(sim, people, codes, n=2)
    review.open_due_rounds(sim, clock.now)
    [round_] = rounds_of(sim)
    task = open_task(sim, round_.id)
    opened = clock.now

    clock.now = opened + timedelta(days=7, minutes=-1)
    assert sim.fire_due_timers() == 0
    clock.now = opened + timedelta(days=7, minutes=1)
    assert sim.fire_due_timers() == 1
    [reminder] = events(sim, round_.id, "review.reminder")
    assert reminder.at == clock.now and reminder.details["pending"] == 2
    assert events(sim, round_.id, "review.escalated") == []
    assert owners(sim, task.id) == {people["director"], people["mikael.holmstrom"]}

    clock.now = opened + timedelta(days=14, minutes=-1)
    assert sim.fire_due_timers() == 0
    clock.now = opened + timedelta(days=14, minutes=1)
    assert sim.fire_due_timers() == 1
    [escalated] = events(sim, round_.id, "review.escalated")
    with sim.db.reader() as s:
        admins = set(s.scalars(select(PersonRole.person_id).where(PersonRole.role == "administrator")))
    assert set(escalated.details["added"]) == admins
    assert owners(sim, task.id) == {people["director"], people["mikael.holmstrom"], *admins}
    assert open_task(sim, round_.id).id == task.id
    assert set(lines(sim, people["jonas.ekholm"])) == {i.authorization_id for i in items(sim, round_.id)}


@pytest.mark.parametrize("default", ["keep", "revoke"])
def test_on_silence_the_default_decision_is_applied_at_the_deadline_and_recorded_as_a_default(
    sim, clock, people, codes, default
):
    set_policy(sim, review_default=default)
    ids = due_soon(sim, people, codes, n=2)
    review.open_due_rounds(sim, clock.now)
    [round_] = rounds_of(sim)
    opened = clock.now
    clock.now = opened + timedelta(days=29)
    sim.fire_due_timers()
    sim.fire_due_timers()
    assert all(i.decision is None for i in items(sim, round_.id))

    clock.now = opened + timedelta(days=30, minutes=1)
    assert sim.fire_due_timers() == 1
    decided = items(sim, round_.id)
    assert [(i.decision, i.decided_by_id, i.decided_at) for i in decided] == [(default, None, clock.now)] * 2
    applied = events(sim, round_.id, "review.default_applied")
    assert sorted(e.authorization_id for e in applied) == ids and all(e.actor_id is None for e in applied)
    with sim.db.reader() as s:
        assert s.get(ProcessInstance, round_.id).status == "complete"
    rows = [authorization(sim, a) for a in ids]
    if default == "keep":
        assert {(r.status, r.last_reviewed_on) for r in rows} == {("active", clock.now.date())}
        kept = events(sim, round_.id, "authorization.review_kept")
        assert [e.details["default"] for e in kept] == [True, True]
    else:
        assert {r.status for r in rows} == {"revoking"}
        started = events(sim, rows[0].open_instance_id, "authorization.revocation_started")
        assert started[0].details["reason"] == review.DEFAULT_REVOKE_REASON and started[0].actor_id is None


def test_the_escalate_default_keeps_asking_one_loop_per_deadline_with_the_pääkäyttäjät_added(sim, clock, people, codes):
    set_policy(sim, review_default="escalate")
    due_soon(sim, people, codes, n=1)
    review.open_due_rounds(sim, clock.now)
    [round_] = rounds_of(sim)
    first = open_task(sim, round_.id)
    opened = clock.now
    clock.now = opened + timedelta(days=30, minutes=1)
    sim.fire_due_timers()
    second = open_task(sim, round_.id)
    assert second.id != first.id and second.bpmn_id == "review_authorizations"
    assert {people["admin"], people["jonas.ekholm"]} <= owners(sim, second.id)
    [item] = items(sim, round_.id)
    assert item.decision is None
    with sim.db.reader() as s:
        instance = s.get(ProcessInstance, round_.id)
    assert instance.status == "running" and instance.next_timer_due == clock.now + timedelta(days=7)

    review.decide(sim, people["jonas.ekholm"], [keep(item)])
    with sim.db.reader() as s:
        assert s.get(ProcessInstance, round_.id).status == "complete"


def test_once_a_line_is_decided_nobody_else_sees_it_pending(sim, clock, people, codes):
    first, second = due_soon(sim, people, codes, n=2)
    review.open_due_rounds(sim, clock.now)
    [round_] = rounds_of(sim)
    assert lines(sim, people["mikael.holmstrom"]) == lines(sim, people["director"]) == [first, second]
    item = items(sim, round_.id)[0]
    review.decide(sim, people["director"], [keep(item)])
    assert lines(sim, people["mikael.holmstrom"]) == [second]
    assert lines(sim, people["admin"]) == [second]
    assert lines(sim, people["employee"]) == []
    with pytest.raises(review.ReviewConflictError):
        review.decide(sim, people["mikael.holmstrom"], [keep(item)])


def test_two_people_deciding_the_same_line_at_once_let_exactly_one_win(sim, clock, people, codes):
    due_soon(sim, people, codes, n=2)
    review.open_due_rounds(sim, clock.now)
    [round_] = rounds_of(sim)
    item = items(sim, round_.id)[0]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(person: str, decision: review.Decision) -> None:
        barrier.wait()
        try:
            review.decide(sim, people[person], [decision])
            outcomes.append("ok")
        except review.ReviewConflictError:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=decide, args=("director", keep(item))),
        threading.Thread(
            target=decide,
            args=("mikael.holmstrom", review.Decision(item.id, item.lock_version, "revoke", reason="Ei tarvita")),
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "ok"]
    with sim.db.reader() as s:
        decisions = s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "review.decided"))
    assert decisions == 1 and items(sim, round_.id)[0].lock_version == item.lock_version + 1


def test_a_round_cannot_finish_while_lines_are_pending_and_nothing_is_written(sim, clock, people, codes):
    due_soon(sim, people, codes, n=2)
    review.open_due_rounds(sim, clock.now)
    [round_] = rounds_of(sim)
    task = open_task(sim, round_.id)
    with pytest.raises(review.ReviewPendingError):
        review.finish_round(sim, people["director"], round_.id)
    with pytest.raises(review.ReviewPendingError):
        sim.complete_task(people["director"], task.id, {})
    assert open_task(sim, round_.id).id == task.id
    with sim.db.reader() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "task.completed")) == 0


def test_bad_decisions_are_refused_per_line_and_nothing_is_recorded(sim, clock, people, codes):
    ids = due_soon(sim, people, codes, n=3)
    review.open_due_rounds(sim, clock.now)
    [round_] = rounds_of(sim)
    a, b, c = items(sim, round_.id)
    with pytest.raises(review.ReviewInputError) as err:
        review.decide(
            sim,
            people["director"],
            [
                review.Decision(a.id, a.lock_version, "change_end", new_valid_until=MONDAY.date()),
                review.Decision(b.id, b.lock_version, "change_end", new_valid_until=date(2051, 1, 1)),
                review.Decision(c.id, c.lock_version, "revoke", reason=" "),
            ],
        )
    assert err.value.errors == {a.id: "end_date_not_after_today", b.id: "end_date_too_late", c.id: "reason_required"}
    assert [i.decision for i in items(sim, round_.id)] == [None, None, None]

    review.decide(
        sim,
        people["director"],
        [review.Decision(a.id, a.lock_version, "change_end", new_valid_until=date(2027, 6, 30)), keep(b), keep(c)],
    )
    changed = authorization(sim, ids[0])
    assert (changed.valid_until, changed.next_review_on) == (date(2027, 6, 30), date(2027, 3, 2))


def test_nobody_decides_their_own_authorization_or_another_organisations_line(sim, clock, people, codes):
    own = add_active(
        sim,
        people["admin"],
        codes[0],
        registered=date(2025, 3, 22),
        until=date(2028, 1, 1),
        next_review=MONDAY.date() + timedelta(days=5),
    )
    review.open_due_rounds(sim, clock.now)
    [round_] = rounds_of(sim)
    [item] = items(sim, round_.id)
    assert own not in lines(sim, people["admin"])
    with pytest.raises(review.ReviewInputError) as err:
        review.decide(sim, people["admin"], [keep(item)])
    assert err.value.errors == {item.id: "own_authorization"}
    with pytest.raises(NotFoundError):
        review.decide(sim, people["employee"], [keep(item)])


def test_a_movers_authorizations_are_reviewed_now_by_their_new_director(sim, clock, people, codes):
    ids = due_soon(sim, people, codes, n=2)
    review.open_due_rounds(sim, clock.now)
    [old_round] = rounds_of(sim)
    with sim.db.unit_of_work() as s:
        mover = s.get(Person, people["employee"])
        mover.unit_id = s.scalars(select(Person.unit_id).where(Person.email == "anstalld@merilahti.example")).one()
        mover.supervisor_id = None
    with sim.db.unit_of_work() as s:
        started = review.review_now(sim, s, old_round.organisation_id, ids, reason="Siirtyi sivistystoimeen")
    assert len(started) == 1
    assert [i.decision for i in items(sim, old_round.id)] == ["superseded", "superseded"]
    assert sorted(i.authorization_id for i in items(sim, started[0])) == ids
    with sim.db.reader() as s:
        new_director = s.scalars(select(Person.id).where(Person.email == "henrik.aberg@merilahti.example")).one()
        new_owners = set(
            s.scalars(
                select(HumanTaskOwner.person_id)
                .join(HumanTask, HumanTask.id == HumanTaskOwner.task_id)
                .where(HumanTask.instance_id == started[0], HumanTask.status == "ready")
            )
        )
    assert new_owners == {new_director}
    assert lines(sim, people["director"]) == []
    assert sorted(lines(sim, new_director)) == ids
