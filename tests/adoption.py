"""The adoption scenario (tests/test_adoption.py): one organisation's people run every shipped process through the
engine on a simulated clock – a code introduced by the process owner, then requested, endorsed, approved and
registered; a joiner's role-profile suggestion; a review round opened by the scheduler; a revocation – and each step
is checked against that organisation's own policy (engine/policy.py), so one scenario serves every organisation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select

from engine import code_introduction, hr_events, review, revocation, scheduler
from engine.clock import local_date
from engine.directory import administrators
from engine.models import (
    Authorization,
    AuthorizationCode,
    Base,
    Organisation,
    Person,
    ProcessInstance,
    ReviewItem,
)
from engine.policy import policy_for
from engine.registry import add_months
from engine.runtime import Host
from tests.conftest import registration_form, request_form
from tests.engine.test_code_introduction import code_of, do, proposal, validation
from tests.engine.test_revocation import Clock, authorization, open_task, owners

EXAMPLE = Path(__file__).resolve().parents[1] / "engine" / "data" / "examples" / "ekviken.yaml"
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday, 10:00 in Finland
PRODUCTION_DAY = date(2026, 3, 20)  # the introduced code goes into production (a Friday)
PALKANLASKIJA = "tulorekisteri_palkkatietojen_ilmoittaminen"  # a code of the palkanlaskija role profile


@dataclass(frozen=True)
class Cast:
    """Who plays which part in one organisation's run."""

    organisation_id: int
    employee: int
    supervisor: int
    director: int
    deputy: int
    admin: int
    process_owner: int
    reviewers: frozenset[int]  # the review round's owners under the organisation's policy
    reviewer: int  # the one of them who decides
    joiner: dict  # the HR joiner event whose title matches the palkanlaskija profile


@dataclass(frozen=True)
class Run:
    code_id: int  # introduced by the process owner, then requested
    kept: int  # authorization kept at its first review
    revoked: int  # authorization revoked at its first review
    round_id: int
    revocation_id: int
    joiner_id: int
    joiner_request_id: int  # the joiner's confirmed request, waiting for the director


def ids_by_email(host, key: str) -> dict[str, int]:
    """E-mail (the part before @) → person id, in the organisation with this key."""
    with host.db.reader() as s:
        rows = s.execute(select(Person.email, Person.id).join(Organisation).where(Organisation.key == key)).all()
    return {email.split("@")[0]: pid for email, pid in rows}


def organisation_id(host, key: str) -> int:
    with host.db.reader() as s:
        return s.scalar(select(Organisation.id).where(Organisation.key == key))


def policy_of(host, org_id: int) -> dict:
    with host.db.reader() as s:
        return policy_for(s.get(Organisation, org_id).settings)


def code_id(host, org_id: int, key: str) -> int:
    with host.db.reader() as s:
        return s.scalar(
            select(AuthorizationCode.id).where(
                AuthorizationCode.organisation_id == org_id, AuthorizationCode.key == key
            )
        )


def joiner(email: str, unit: str, title: str, supervisor: str) -> dict:
    return {
        "event_id": "adoption-1",
        "type": "joiner",
        "email": email,
        "name": "Uusi Kollega",
        "unit": unit,
        "title": title,
        "date": (PRODUCTION_DAY + timedelta(days=3)).isoformat(),
        "supervisor": supervisor,
    }


def merilahti(host) -> Cast:
    p = ids_by_email(host, "merilahti")
    return Cast(
        organisation_id=organisation_id(host, "merilahti"),
        employee=p["employee"],
        supervisor=p["supervisor"],
        director=p["director"],
        deputy=p["mikael.holmstrom"],
        admin=p["admin"],
        process_owner=p["admin"],
        reviewers=frozenset({p["director"], p["mikael.holmstrom"]}),  # reviewer: director (the default)
        reviewer=p["director"],
        joiner=joiner("uusi@merilahti.example", "talouspalvelut", "Palkanlaskija", "supervisor@merilahti.example"),
    )


def ekviken(host) -> Cast:
    p = ids_by_email(host, "ekviken")
    return Cast(
        organisation_id=organisation_id(host, "ekviken"),
        employee=p["elin.bjorklund"],
        supervisor=p["maria.forsman"],
        director=p["anders.nyman"],
        deputy=p["pirjo.virtanen"],
        admin=p["fredrik.granqvist"],
        process_owner=p["ulla.backman"],
        reviewers=frozenset({p["maria.forsman"]}),  # reviewer: supervisor
        reviewer=p["maria.forsman"],
        joiner=joiner("ny@ekviken.example", "Lönecentralen", "Lönekalkylerare", "maria.forsman@ekviken.example"),
    )


# -- the scenario, one process after another ---------------------------------------------------------------------


def introduce_code(sim: Host, clock: Clock, cast: Cast) -> int:
    """The process owner takes a new code through DVV's five steps; its production day is a timer."""
    owner = cast.process_owner
    instance_id, _task = code_introduction.start_code_introduction(sim, owner)
    do(sim, owner, instance_id, "draft_proposal", proposal())
    do(sim, owner, instance_id, "send_to_dvv", {"sent_to_dvv_on": "2026-03-02"})
    do(sim, owner, instance_id, "record_validation_result", validation("accepted", "2026-03-03"))
    do(sim, owner, instance_id, "record_customer_test", {"customer_test_on": "2026-03-05"})
    agreed = {"production_agreed_on": "2026-03-06", "production_on": PRODUCTION_DAY.isoformat()}
    do(sim, owner, instance_id, "agree_production_date", agreed)
    clock.now = datetime.combine(PRODUCTION_DAY, time(6, 0), UTC)
    assert scheduler.tick(sim, clock.now, force=True)["timers_fired"] == 1
    done = {"production_outcome": "in_production", "in_production_on": PRODUCTION_DAY.isoformat()}
    do(sim, owner, instance_id, "confirm_in_production", done)
    code = code_of(sim, instance_id)
    assert (code.status, code.organisation_id) == ("active", cast.organisation_id)
    return code.id


def request_and_register(sim: Host, cast: Cast, codes: list[int]) -> list[int]:
    """Request → endorse → approve → register; the next review comes after the organisation's interval."""
    today = local_date(sim.clock())
    period = {"valid_from": today.isoformat(), "valid_until": (today + timedelta(days=730)).isoformat()}
    started = sim.start_request(cast.employee, cast.employee, request_form(codes, **period))
    assert owners(sim, started.ready_task_ids[0]) == {cast.supervisor}
    endorsed = sim.complete_task(cast.supervisor, started.ready_task_ids[0], {"endorsement_decision": "endorse"})
    assert owners(sim, endorsed.ready_task_ids[0]) == {cast.director, cast.deputy}
    approved = sim.complete_task(cast.director, endorsed.ready_task_ids[0], {"approval_decision": "approve"})
    with sim.db.reader() as s:
        assert owners(sim, approved.ready_task_ids[0]) == set(administrators(s, cast.organisation_id))
    registered = {
        "registered_on": today.isoformat(),
        "registered_valid_from": period["valid_from"],
        "registered_valid_until": period["valid_until"],
    }
    done = sim.complete_task(cast.admin, approved.ready_task_ids[0], registration_form(**registered))
    assert done.status == "complete"
    with sim.db.reader() as s:
        rows = list(s.scalars(select(Authorization).where(Authorization.request_instance_id == done.instance_id)))
    interval = policy_of(sim, cast.organisation_id)["review_interval_months"]
    assert sorted(r.code_id for r in rows) == sorted(codes)
    assert {(r.status, r.next_review_on) for r in rows} == {("active", add_months(today, interval))}
    return [r.id for r in sorted(rows, key=lambda r: codes.index(r.code_id))]


def confirm_joiners_suggestion(sim: Host, cast: Cast) -> tuple[int, int]:
    """An HR joiner whose title matches a role profile: the supervisor confirms the suggested request."""
    result = hr_events.apply_event(sim, cast.organisation_id, cast.joiner)
    assert result["status"] == "applied" and result["suggestion"]["profile"] == "palkanlaskija"
    task = open_task(sim, result["suggestion"]["instance_id"])
    assert task.bpmn_id == "confirm_suggested_request" and owners(sim, task.id) == {cast.supervisor}
    fields = ("codes", "justification", "valid_from", "valid_until")
    confirmed = {"suggestion_decision": "confirm", **{k: task.prefill[k] for k in fields}}
    assert sim.complete_task(cast.supervisor, task.id, confirmed).status == "complete"
    with sim.db.reader() as s:
        request_id = s.scalar(
            select(ProcessInstance.id).where(
                ProcessInstance.process_id == "authorization_request",
                ProcessInstance.subject_person_id == result["person_id"],
            )
        )
    approval = open_task(sim, request_id)
    assert approval.bpmn_id == "approve_request" and owners(sim, approval.id) == {cast.director, cast.deputy}
    return result["person_id"], request_id


def open_review_round(sim: Host, clock: Clock, cast: Cast, due_on: date) -> int:
    """The scheduler opens the round the lead time before the review date, for the policy's reviewer."""
    policy = policy_of(sim, cast.organisation_id)
    opens_on = due_on - timedelta(days=policy["review_lead_days"])
    clock.now = datetime.combine(opens_on - timedelta(days=1), time(8, 0), UTC)
    assert scheduler.tick(sim, clock.now, force=True)["review_rounds"] == 0
    clock.now = datetime.combine(opens_on, time(8, 0), UTC)
    assert scheduler.tick(sim, clock.now, force=True)["review_rounds"] == 1
    with sim.db.reader() as s:
        [round_] = s.scalars(
            select(ProcessInstance).where(
                ProcessInstance.organisation_id == cast.organisation_id,
                ProcessInstance.process_id == "authorization_review",
            )
        ).all()
    assert round_.next_timer_due == clock.now + timedelta(days=policy["review_reminder_days"])
    assert owners(sim, open_task(sim, round_.id).id) == cast.reviewers
    return round_.id


def review_and_revoke(sim: Host, clock: Clock, cast: Cast, round_id: int, keep: int, revoke: int) -> int:
    """The reviewer keeps one and revokes the other; the pääkäyttäjä invalidates it in Suomi.fi."""
    policy, today = policy_of(sim, cast.organisation_id), local_date(clock.now)
    with sim.db.reader() as s:
        lines = {i.authorization_id: i for i in s.scalars(select(ReviewItem).where(ReviewItem.instance_id == round_id))}
    assert set(lines) == {keep, revoke}
    decisions = [
        review.Decision(lines[keep].id, lines[keep].lock_version, "keep"),
        review.Decision(lines[revoke].id, lines[revoke].lock_version, "revoke", reason="Tehtävä päättyi"),
    ]
    assert review.decide(sim, cast.reviewer, decisions).finished_rounds == [round_id]
    assert authorization(sim, keep).next_review_on == add_months(today, policy["review_interval_months"])
    revocation_id = authorization(sim, revoke).open_instance_id
    with sim.db.reader() as s:
        waits_until = s.get(ProcessInstance, revocation_id).next_timer_due
        admins = set(administrators(s, cast.organisation_id))
    due = revocation.add_working_days(clock.now, policy["revocation_due_working_days"])
    assert waits_until == due + timedelta(days=policy["revocation_reminder_days"])
    task = open_task(sim, revocation_id)
    assert task.bpmn_id == "invalidate_in_suomifi" and owners(sim, task.id) == admins
    invalidated = {"revocation_outcome": "invalidated", "invalidated_on": today.isoformat()}
    assert sim.complete_task(cast.admin, task.id, invalidated).status == "complete"
    assert authorization(sim, revoke).status == "revoked"
    return revocation_id


def run_every_process(sim: Host, clock: Clock, cast: Cast) -> Run:
    clock.now = START
    new_code = introduce_code(sim, clock, cast)
    kept, revoked = request_and_register(sim, cast, [new_code, code_id(sim, cast.organisation_id, PALKANLASKIJA)])
    joiner_id, joiner_request_id = confirm_joiners_suggestion(sim, cast)
    round_id = open_review_round(sim, clock, cast, authorization(sim, kept).next_review_on)
    revocation_id = review_and_revoke(sim, clock, cast, round_id, kept, revoked)
    return Run(new_code, kept, revoked, round_id, revocation_id, joiner_id, joiner_request_id)


# -- what the tests compare -----------------------------------------------------------------------------------------


def snapshot(host, org_id: int) -> dict:
    """Every row of the organisation, in every table that has an organisation_id."""
    with host.db.reader() as s:
        found = {"organisations": s.execute(select(Organisation.__table__).where(Organisation.id == org_id)).all()}
        for table in Base.metadata.sorted_tables:
            if "organisation_id" in table.c:
                query = select(table).where(table.c.organisation_id == org_id).order_by(*table.primary_key.columns)
                found[table.name] = s.execute(query).all()
    return found


def versions_ran(host, org_id: int) -> dict[str, set[int]]:
    """Process id → the spec versions the organisation's instances ran on."""
    with host.db.reader() as s:
        rows = s.execute(
            select(ProcessInstance.process_id, ProcessInstance.spec_version_id).where(
                ProcessInstance.organisation_id == org_id
            )
        ).all()
    found: dict[str, set[int]] = {}
    for process_id, version_id in rows:
        found.setdefault(process_id, set()).add(version_id)
    return found
