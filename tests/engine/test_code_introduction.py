"""The code introduction (processes/code_introduction): DVV's five steps for a code the municipality proposes,
driven through the real diagram on a simulated clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import code_introduction
from engine.errors import FormValidationError, NotAllowedError, TaskNotFoundError
from engine.models import (
    AuditEvent,
    AuthorizationCategory,
    AuthorizationCode,
    HumanTask,
    HumanTaskOwner,
    Person,
    PersonRole,
    ProcessInstance,
)
from engine.options import invalid_values, option_sources
from engine.runtime import Host
from tests.conftest import request_form
from tests.engine.test_revocation import Clock

MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 10:00 in Finland
PRODUCTION_STARTS = datetime(2026, 3, 19, 22, 0, tzinfo=UTC)  # 20 March begins in Finland


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY)


@pytest.fixture
def sim(host, clock) -> Host:
    return Host(host.settings, db=host.db, clock=clock)


def proposal(**overrides) -> dict:
    data = {
        "code_name_fi": "Varhaiskasvatuspaikan haku",
        "code_name_sv": "Ansökan om plats i småbarnspedagogik",
        "code_name_en": "Applying for an early childhood education place",
        "code_description_fi": "Tällä valtuudella valtuutettu voi hakea valtuuttajan puolesta varhaiskasvatuspaikkaa.",
        "code_description_sv": "Med denna fullmakt kan fullmaktshavaren ansöka om plats för fullmaktsgivaren.",
        "code_description_en": "With this mandate the holder may apply for a place on the grantor's behalf.",
        "code_category": "Etuudet ja sosiaaliturva",
        "code_mandate_type": "transaction",
        "e_service": "Merilahden varhaiskasvatuksen asiointi",
        "rationale": "Yksikään nykyinen koodi ei kata varhaiskasvatushakemuksia.",
    }
    return {**data, **overrides}


def ready(sim, instance_id: int) -> HumanTask | None:
    with sim.db.reader() as s:
        return s.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == "ready")
        ).one_or_none()


def do(sim, who: int, instance_id: int, step: str, data: dict):
    task = ready(sim, instance_id)
    assert task is not None and task.bpmn_id == step, (task and task.bpmn_id, step)
    return sim.complete_task(who, task.id, data)


def events(sim, instance_id: int, action: str) -> list[AuditEvent]:
    with sim.db.reader() as s:
        query = select(AuditEvent).where(AuditEvent.instance_id == instance_id, AuditEvent.action == action)
        return list(s.scalars(query.order_by(AuditEvent.id)))


def code_of(sim, instance_id: int) -> AuthorizationCode:
    [proposed] = events(sim, instance_id, "code_introduction.proposed")
    with sim.db.reader() as s:
        return s.get(AuthorizationCode, proposed.details["code_id"])


def validation(result: str, received_on: str, remarks: str | None = None) -> dict:
    data = {"validation_result": result, "validation_received_on": received_on, "dvv_remarks": remarks}
    return {k: v for k, v in data.items() if v is not None}


def agree(sim, owner: int, instance_id: int, production_on: str = "2026-03-20", agreed_on: str = "2026-03-06"):
    do(sim, owner, instance_id, "record_customer_test", {"customer_test_on": "2026-03-05"})
    do(
        sim,
        owner,
        instance_id,
        "agree_production_date",
        {"production_agreed_on": agreed_on, "production_on": production_on},
    )


def confirm(sim, owner: int, instance_id: int, outcome: str = "in_production", **more):
    return do(sim, owner, instance_id, "confirm_in_production", {"production_outcome": outcome, **more})


def through_validation(sim, owner: int, instance_id: int, rounds: list[str]) -> None:
    """Draft, then one send-and-validate round per remark in ``rounds`` (corrections), then DVV accepts."""
    do(sim, owner, instance_id, "draft_proposal", proposal())
    for n, remark in enumerate([*rounds, None], start=1):
        do(sim, owner, instance_id, "send_to_dvv", {"sent_to_dvv_on": f"2026-03-0{n + 1}"})
        received = f"2026-03-0{n + 2}"
        if remark is None:
            do(sim, owner, instance_id, "record_validation_result", validation("accepted", received))
            continue
        do(sim, owner, instance_id, "record_validation_result", validation("corrections_requested", received, remark))
        corrected = proposal(code_name_fi=f"Varhaiskasvatuspaikan hakeminen {n}")
        do(sim, owner, instance_id, "correct_proposal", {**corrected, "correction_note": f"Korjattu {n}"})


def test_the_happy_path_records_every_date_and_makes_the_code_active_on_the_production_day(sim, clock, people):
    owner = people["admin"]
    instance_id, task_id = code_introduction.start_code_introduction(sim, owner)
    assert ready(sim, instance_id).id == task_id

    through_validation(sim, owner, instance_id, [])
    code = code_of(sim, instance_id)
    assert (code.status, code.key) == ("draft", "merilahti_varhaiskasvatuspaikan_haku")
    assert code.name["sv"] == "Ansökan om plats i småbarnspedagogik"
    with sim.db.reader() as s:
        assert s.get(AuthorizationCategory, code.category_id).key == "etuudet_ja_sosiaaliturva"
    agree(sim, owner, instance_id)

    assert ready(sim, instance_id) is None  # waiting for the day
    with sim.db.reader() as s:
        assert s.get(ProcessInstance, instance_id).next_timer_due == PRODUCTION_STARTS
    clock.now = PRODUCTION_STARTS - timedelta(minutes=1)
    assert sim.fire_due_timers() == 0
    clock.now = PRODUCTION_STARTS + timedelta(hours=8)
    assert sim.fire_due_timers() == 1
    assert code_of(sim, instance_id).status == "draft"
    done = confirm(sim, owner, instance_id, in_production_on="2026-03-20")

    assert done.status == "complete"
    assert code_of(sim, instance_id).status == "active"
    dated = {
        "code_introduction.sent_to_dvv": "2026-03-02",
        "code_introduction.customer_test": "2026-03-05",
        "code_introduction.production_agreed": "2026-03-20",
        "code_introduction.in_production": "2026-03-20",
    }
    for action, on in dated.items():
        [event] = events(sim, instance_id, action)
        assert (event.details["on"], event.actor_id) == (on, owner), action
    [validated] = events(sim, instance_id, "code_introduction.validated")
    assert [validated.details[k] for k in ("round", "sent_on", "received_on")] == [1, "2026-03-02", "2026-03-03"]
    [activated] = events(sim, instance_id, "code_introduction.in_production")
    assert (activated.details["from"], activated.details["to"]) == ("draft", "active")
    with sim.db.reader() as s:
        assert s.get(ProcessInstance, instance_id).outcome == "end_in_production"


def test_two_correction_rounds_are_each_recorded_and_the_draft_follows_the_corrections(sim, people):
    owner = people["admin"]
    instance_id, _task = code_introduction.start_code_introduction(sim, owner)

    through_validation(sim, owner, instance_id, ["Nimen tulee kuvata tekemistä.", "Kuvaus viittaa palveluun."])

    rounds = [e.details for e in events(sim, instance_id, "code_introduction.validated")]
    assert [(r["round"], r["result"], r["remarks"]) for r in rounds] == [
        (1, "corrections_requested", "Nimen tulee kuvata tekemistä."),
        (2, "corrections_requested", "Kuvaus viittaa palveluun."),
        (3, "accepted", ""),
    ]
    assert [r["sent_on"] for r in rounds] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    corrected = events(sim, instance_id, "code_introduction.corrected")
    assert [(e.details["round"], e.details["note"]) for e in corrected] == [(1, "Korjattu 1"), (2, "Korjattu 2")]
    assert len(events(sim, instance_id, "code_introduction.sent_to_dvv")) == 3
    code = code_of(sim, instance_id)
    assert (code.status, code.name["fi"]) == ("draft", "Varhaiskasvatuspaikan hakeminen 2")
    assert ready(sim, instance_id).bpmn_id == "record_customer_test"


def test_a_postponed_production_goes_back_to_agreeing_a_new_date(sim, clock, people):
    owner = people["admin"]
    instance_id, _task = code_introduction.start_code_introduction(sim, owner)
    through_validation(sim, owner, instance_id, [])
    agree(sim, owner, instance_id)
    clock.now = PRODUCTION_STARTS + timedelta(hours=8)
    sim.fire_due_timers()

    confirm(sim, owner, instance_id, "postponed", production_note="DVV:n versiopäivitys siirtyi.")

    [postponed] = events(sim, instance_id, "code_introduction.production_postponed")
    assert postponed.details["planned_on"] == "2026-03-20"
    assert ready(sim, instance_id).bpmn_id == "agree_production_date"
    assert code_of(sim, instance_id).status == "draft"


def test_a_draft_code_is_not_offered_or_accepted_in_requests_until_it_is_in_production(sim, clock, people, codes):
    owner = people["admin"]
    instance_id, _task = code_introduction.start_code_introduction(sim, owner)
    through_validation(sim, owner, instance_id, [])
    draft = code_of(sim, instance_id)
    with sim.db.reader() as s:
        offered = {o["const"] for o in option_sources(s, draft.organisation_id)["authorization_codes"]()}
        assert draft.id not in offered and codes[0] in offered
        assert invalid_values(s, draft.organisation_id)("authorization_codes", [draft.id]) == {draft.id}
    with pytest.raises(FormValidationError) as refused:
        sim.start_request(people["employee"], people["employee"], request_form([draft.id]))
    assert refused.value.errors["codes"] == [{"code": "invalid_choice"}]

    agree(sim, owner, instance_id)
    clock.now = PRODUCTION_STARTS + timedelta(hours=8)
    sim.fire_due_timers()
    confirm(sim, owner, instance_id, in_production_on="2026-03-20")

    started = sim.start_request(people["employee"], people["employee"], request_form([draft.id]))
    assert started.status == "running"


def test_only_process_owners_and_pääkäyttäjät_start_it_and_get_its_tasks(sim, people):
    with pytest.raises(NotAllowedError):
        code_introduction.start_code_introduction(sim, people["employee"])
    with sim.db.reader() as s:
        assert s.scalar(select(ProcessInstance.id).where(ProcessInstance.process_id == "code_introduction")) is None

    # Pia is pääkäyttäjä and process owner; Jonas only pääkäyttäjä: he gets the tasks of what he started
    instance_id, task_id = code_introduction.start_code_introduction(sim, people["jonas.ekholm"])
    with sim.db.reader() as s:
        owners = set(s.scalars(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == task_id)))
    assert owners == {people["admin"], people["jonas.ekholm"]}
    with pytest.raises(TaskNotFoundError):
        sim.complete_task(people["employee"], task_id, proposal())
    with pytest.raises(TaskNotFoundError):  # a director sees nothing of it either
        sim.complete_task(people["director"], task_id, proposal())


def test_a_new_process_owner_gets_the_next_task_and_an_unknown_category_is_created(sim, people):
    with sim.db.unit_of_work() as s:
        sanna = s.get(Person, people["sanna.laine"])
        sanna.roles.append(PersonRole(role="process_owner"))
    instance_id, _task = code_introduction.start_code_introduction(sim, people["sanna.laine"])

    do(sim, people["sanna.laine"], instance_id, "draft_proposal", proposal(code_category="Varhaiskasvatus"))

    task = ready(sim, instance_id)
    with sim.db.reader() as s:
        owners = set(s.scalars(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == task.id)))
        category = s.get(AuthorizationCategory, code_of(sim, instance_id).category_id)
    assert owners == {people["admin"], people["sanna.laine"]}
    assert (category.key, category.name) == ("varhaiskasvatus", {"fi": "Varhaiskasvatus"})


def test_a_correction_request_without_dvvs_remarks_is_refused(sim, people):
    owner = people["admin"]
    instance_id, _task = code_introduction.start_code_introduction(sim, owner)
    do(sim, owner, instance_id, "draft_proposal", proposal())
    do(sim, owner, instance_id, "send_to_dvv", {"sent_to_dvv_on": "2026-03-02"})

    with pytest.raises(FormValidationError) as refused:
        do(sim, owner, instance_id, "record_validation_result", validation("corrections_requested", "2026-03-03"))

    assert "dvv_remarks" in refused.value.errors
    assert events(sim, instance_id, "code_introduction.validated") == []


def test_a_production_date_before_the_agreement_is_refused(sim, people):
    owner = people["admin"]
    instance_id, _task = code_introduction.start_code_introduction(sim, owner)
    through_validation(sim, owner, instance_id, [])

    with pytest.raises(FormValidationError) as refused:
        agree(sim, owner, instance_id, production_on="2026-03-01")

    assert refused.value.errors["production_on"] == [{"code": "end_before_start"}]


def test_a_production_day_that_has_already_begun_asks_for_the_confirmation_at_once(sim, people):
    owner = people["admin"]
    instance_id, _task = code_introduction.start_code_introduction(sim, owner)
    through_validation(sim, owner, instance_id, [])

    agree(sim, owner, instance_id, production_on="2026-03-02", agreed_on="2026-03-02")

    assert ready(sim, instance_id).bpmn_id == "confirm_in_production"


def test_when_no_process_owner_is_left_the_next_task_goes_to_the_pääkäyttäjät(sim, people):
    with sim.db.unit_of_work() as s:
        sanna = s.get(Person, people["sanna.laine"])
        sanna.roles.append(PersonRole(role="process_owner"))
    instance_id, _task = code_introduction.start_code_introduction(sim, people["sanna.laine"])
    with sim.db.unit_of_work() as s:  # both process owners give up the role
        for person_id in (people["sanna.laine"], people["admin"]):
            s.query(PersonRole).filter_by(person_id=person_id, role="process_owner").delete()

    do(sim, people["sanna.laine"], instance_id, "draft_proposal", proposal())

    with sim.db.reader() as s:
        owners = set(
            s.scalars(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == ready(sim, instance_id).id))
        )
        admins = set(s.scalars(select(PersonRole.person_id).where(PersonRole.role == "administrator")))
    assert owners == admins == {people["admin"], people["jonas.ekholm"]}
