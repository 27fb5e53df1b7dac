"""The authorization request diagram, driven through the engine without Flask."""

from __future__ import annotations

import zlib
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from engine.errors import FormValidationError, NotAllowedError, TaskConflictError
from engine.models import (
    AuditEvent,
    Authorization,
    HumanTask,
    HumanTaskOwner,
    Organisation,
    ProcessInstance,
)
from tests.conftest import registration_form, request_form


def owners(host, task_id: str) -> set[int]:
    with host.db.reader() as s:
        return set(s.scalars(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == task_id)))


def task(host, task_id: str) -> HumanTask:
    with host.db.reader() as s:
        return s.get(HumanTask, task_id)


def statuses(host, instance_id: int) -> list[str]:
    with host.db.reader() as s:
        return list(
            s.scalars(
                select(Authorization.status)
                .where(Authorization.request_instance_id == instance_id)
                .order_by(Authorization.id)
            )
        )


def set_policy(host, **settings) -> None:
    with host.db.unit_of_work() as s:
        org = s.scalars(select(Organisation)).one()
        org.settings = {**org.settings, **settings}


def approve_to_registration(host, people, codes):
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:2]))
    endorsed = host.complete_task(people["supervisor"], started.ready_task_ids[0], {"endorsement_decision": "endorse"})
    approved = host.complete_task(people["director"], endorsed.ready_task_ids[0], {"approval_decision": "approve"})
    return approved


def test_an_approved_and_registered_request_makes_its_authorizations_active(host, people, codes):
    approved = approve_to_registration(host, people, codes)
    assert task(host, approved.ready_task_ids[0]).bpmn_id == "register_in_suomifi"
    assert statuses(host, approved.instance_id) == ["approved", "approved"]

    done = host.complete_task(
        people["admin"], approved.ready_task_ids[0], registration_form(mandate_type="transaction")
    )

    assert done.status == "complete"
    assert statuses(host, done.instance_id) == ["active", "active"]
    with host.db.reader() as s:
        instance = s.get(ProcessInstance, done.instance_id)
        actions = list(
            s.scalars(
                select(AuditEvent.action).where(AuditEvent.instance_id == done.instance_id).order_by(AuditEvent.id)
            )
        )
        row = s.scalars(select(Authorization).where(Authorization.request_instance_id == done.instance_id)).first()
    assert instance.outcome == "end_active"
    assert row.mandate_type == "transaction" and row.valid_until == date.today() + timedelta(days=366)
    assert actions.count("task.completed") == 4
    assert actions[0] == "process.started" and actions[-1] == "process.completed"
    assert actions.count("authorization.registered") == 2


def test_the_supervisor_endorses_first_and_the_director_and_deputy_decide(host, people, codes):
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    assert task(host, started.ready_task_ids[0]).bpmn_id == "endorse_request"
    assert owners(host, started.ready_task_ids[0]) == {people["supervisor"]}

    endorsed = host.complete_task(people["supervisor"], started.ready_task_ids[0], {"endorsement_decision": "endorse"})

    director_task = endorsed.ready_task_ids[0]
    assert task(host, director_task).bpmn_id == "approve_request"
    assert people["director"] in owners(host, director_task) and len(owners(host, director_task)) == 2


def test_without_the_endorsement_policy_the_request_goes_straight_to_the_director(host, people, codes):
    set_policy(host, supervisor_endorsement=False)
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    assert task(host, started.ready_task_ids[0]).bpmn_id == "approve_request"


def test_an_employee_without_a_supervisor_goes_straight_to_the_director(host, people, codes):
    started = host.start_request(people["timo.lahtinen"], people["timo.lahtinen"], request_form(codes[:1]))
    assert task(host, started.ready_task_ids[0]).bpmn_id == "approve_request"


def test_a_director_rejection_closes_the_authorizations_with_the_reason(host, people, codes):
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:2]))
    endorsed = host.complete_task(people["supervisor"], started.ready_task_ids[0], {"endorsement_decision": "endorse"})
    done = host.complete_task(
        people["director"],
        endorsed.ready_task_ids[0],
        {"approval_decision": "reject", "approval_reason": "Ei tarvita tehtävässä."},
    )
    assert done.status == "complete"
    assert statuses(host, done.instance_id) == ["rejected", "rejected"]
    with host.db.reader() as s:
        reasons = set(
            s.scalars(select(Authorization.closing_reason).where(Authorization.request_instance_id == done.instance_id))
        )
        assert s.get(ProcessInstance, done.instance_id).outcome == "end_rejected"
    assert reasons == {"Ei tarvita tehtävässä."}


def test_a_supervisor_who_does_not_endorse_ends_the_request(host, people, codes):
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    done = host.complete_task(
        people["supervisor"],
        started.ready_task_ids[0],
        {"endorsement_decision": "decline", "endorsement_comment": "Tehtävä päättyy."},
    )
    assert done.status == "complete" and statuses(host, done.instance_id) == ["rejected"]


def test_a_returned_request_comes_back_prefilled_and_its_codes_can_change(host, people, codes):
    set_policy(host, supervisor_endorsement=False)
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:2]))
    returned = host.complete_task(
        people["director"],
        started.ready_task_ids[0],
        {"approval_decision": "return", "approval_reason": "Tarkenna perustelua."},
    )
    again = task(host, returned.ready_task_ids[0])
    assert again.bpmn_id == "fill_request" and returned.next_task_for_actor is None
    assert again.prefill["codes"] == codes[:2] and "approval_decision" not in again.prefill

    resent = host.complete_task(people["employee"], again.id, request_form([codes[0], codes[2]]))

    assert task(host, resent.ready_task_ids[0]).bpmn_id == "approve_request"
    assert statuses(host, resent.instance_id) == ["requested", "cancelled", "requested"]


def test_a_failed_registration_closes_the_authorizations(host, people, codes):
    approved = approve_to_registration(host, people, codes)
    done = host.complete_task(
        people["admin"],
        approved.ready_task_ids[0],
        {"registration_outcome": "failed", "registration_note": "Valtuutusoikeus puuttuu."},
    )
    assert statuses(host, done.instance_id) == ["rejected", "rejected"]


def test_a_director_never_approves_their_own_request(host, people, codes):
    started = host.start_request(people["director"], people["director"], request_form(codes[:1]))
    approver = owners(host, started.ready_task_ids[0])
    assert people["director"] not in approver and approver


def test_a_main_administrator_never_registers_their_own_authorization(host, people, codes):
    set_policy(host, supervisor_endorsement=False)
    started = host.start_request(people["admin"], people["admin"], request_form(codes[:1]))
    approved = host.complete_task(people["director"], started.ready_task_ids[0], {"approval_decision": "approve"})
    registrars = owners(host, approved.ready_task_ids[0])
    assert people["admin"] not in registrars and people["jonas.ekholm"] in registrars
    with pytest.raises(NotAllowedError):
        host.complete_task(people["admin"], approved.ready_task_ids[0], registration_form())


def test_a_supervisor_requests_for_their_employee_without_endorsing_it_themself(host, people, codes):
    started = host.start_request(people["supervisor"], people["employee"], request_form(codes[:1]))
    assert task(host, started.ready_task_ids[0]).bpmn_id == "approve_request"
    with host.db.reader() as s:
        instance = s.get(ProcessInstance, started.instance_id)
    assert instance.subject_person_id == people["employee"] and instance.started_by_id == people["supervisor"]


def test_a_colleague_cannot_start_a_request_for_someone_else(host, people, codes):
    with pytest.raises(NotAllowedError):
        host.start_request(people["anstalld"], people["employee"], request_form(codes[:1]))


def count(host, model) -> int:
    with host.db.reader() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    "bad",
    [
        {"codes": []},
        {"justification": "lyhyt"},
        {"valid_until": (date.today() + timedelta(days=366 * 26)).isoformat()},
        {"valid_from": "2020-01-01"},
        {"valid_until": "ei päivä"},
        {"codes": [999999]},
    ],
)
def test_an_invalid_request_is_refused_with_field_errors_and_stores_nothing(host, people, codes, bad):
    before = (count(host, ProcessInstance), count(host, AuditEvent), count(host, Authorization))
    with pytest.raises(FormValidationError) as err:
        host.start_request(people["employee"], people["employee"], {**request_form(codes[:1]), **bad})
    assert set(err.value.errors) & set(bad)
    assert (count(host, ProcessInstance), count(host, AuditEvent), count(host, Authorization)) == before


def test_a_decision_to_reject_needs_a_reason(host, people, codes):
    set_policy(host, supervisor_endorsement=False)
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    with pytest.raises(FormValidationError) as err:
        host.complete_task(people["director"], started.ready_task_ids[0], {"approval_decision": "reject"})
    assert "approval_reason" in err.value.errors
    assert task(host, started.ready_task_ids[0]).status == "ready"


def test_completing_a_finished_task_again_is_a_conflict(host, people, codes):
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    host.complete_task(people["supervisor"], started.ready_task_ids[0], {"endorsement_decision": "endorse"})
    with pytest.raises(TaskConflictError):
        host.complete_task(people["supervisor"], started.ready_task_ids[0], {"endorsement_decision": "endorse"})


def test_stored_state_keeps_the_spec_out_of_the_instance_and_stays_small(host, people, codes):
    approved = approve_to_registration(host, people, codes)
    with host.db.reader() as s:
        state = s.get(ProcessInstance, approved.instance_id).state
    text = zlib.decompress(state).decode("utf-8")
    assert '"task_specs"' not in text and "register_in_suomifi" in text
    assert len(state) < 5 * 1024


def test_a_director_who_asks_on_behalf_of_their_report_does_not_approve_it(host, people, codes):
    with host.db.reader() as s:
        from engine.models import Person

        report = s.scalar(select(Person.id).where(Person.supervisor_id == people["director"],
                                                  Person.id != people["supervisor"]).order_by(Person.id))
    started = host.start_request(people["director"], report, request_form(codes[:1]))
    approvers = owners(host, started.ready_task_ids[0])
    assert task(host, started.ready_task_ids[0]).bpmn_id == "approve_request"
    assert people["director"] not in approvers and approvers
