"""Role profiles: the starter set, title matching, a profile's request through to approval, codes outside the
profile, the joiner's suggested request, the pääkäyttäjä's maintenance and organisations kept apart."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import hr_events, role_profiles
from engine.demo import load_demo
from engine.directory import upsert_organisation
from engine.errors import FormValidationError, NotAllowedError, NotFoundError
from engine.models import (
    AuditEvent,
    Authorization,
    AuthorizationCode,
    HumanTask,
    HumanTaskOwner,
    Notification,
    Organisation,
    Person,
    ProcessInstance,
    RoleProfile,
)
from tests.conftest import registration_form

PROFILES_FILE = Path(__file__).resolve().parents[2] / "engine" / "data" / "role_profiles.yaml"
TOMORROW = date.today() + timedelta(days=1)


def count(host, model, *where) -> int:
    with host.db.reader() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def code_id(host, key: str) -> int:
    with host.db.reader() as s:
        return s.scalar(select(AuthorizationCode.id).where(AuthorizationCode.key == key))


def org_id(host) -> int:
    with host.db.reader() as s:
        return s.scalar(select(Organisation.id).where(Organisation.key != "toinen").order_by(Organisation.id))


def profile_values(host, key: str) -> dict:
    with host.db.reader() as s:
        found = role_profiles.profile(s, org_id(host), key)
        return role_profiles.request_values(found, "fi", TOMORROW, TOMORROW + timedelta(days=365))


def ready_tasks(host, instance_id: int) -> list[HumanTask]:
    with host.db.reader() as s:
        return list(
            s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == "ready"))
        )


def owners(host, task_id: str) -> set[int]:
    with host.db.reader() as s:
        return set(s.scalars(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == task_id)))


def joiner(event_id: str, title: str, supervisor: str | None = "supervisor@merilahti.example") -> dict:
    event = {
        "event_id": event_id,
        "type": "joiner",
        "email": "uusi.palkanlaskija@merilahti.example",
        "name": "Uusi Palkanlaskija",
        "unit": "talouspalvelut",
        "title": title,
        "date": TOMORROW.isoformat(),
    }
    if supervisor:
        event["supervisor"] = supervisor
    return event


# -- the starter set and matching -------------------------------------------------------------------------


def test_the_starter_set_is_loaded_once_and_never_overwrites_the_administrators_changes(host, people):
    before = count(host, RoleProfile)
    assert before >= 6
    with host.db.unit_of_work() as s:
        role_profiles.set_codes(
            s,
            people["admin"],
            "palkanlaskija",
            [(code_id(host, "vero_veroilmoittaminen"), {"fi": "Oma syy"})],
            now=host.clock(),
        )
    with host.db.unit_of_work() as s:
        org = s.get(Organisation, org_id(host))
        assert role_profiles.load_profiles(s, org, PROFILES_FILE) == 0
        load_demo(s, host.settings.demo_file, host.settings.codes_file)
    assert count(host, RoleProfile) == before
    with host.db.reader() as s:
        kept = role_profiles.profile(s, org_id(host), "palkanlaskija")
        assert [(e.code.key, e.reason) for e in kept.codes] == [("vero_veroilmoittaminen", {"fi": "Oma syy"})]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Palkanlaskija", "palkanlaskija"),
        ("Vastaava palkanlaskija", "palkanlaskija"),
        ("Lönekalkylerare", "palkanlaskija"),
        ("Vero- ja tulliasioiden asiantuntija", "tulliasiat"),
        ("Johtava rakennustarkastaja", "rakennustarkastaja"),
        ("Sosiaaliohjaaja", "sosiaalityo"),
        ("Taloussihteeri", "talous"),
        ("Kaupunginjohtaja", None),
        ("", None),
    ],
)
def test_a_job_title_matches_the_profile_whose_title_word_starts_one_of_its_words(host, title, expected):
    with host.db.reader() as s:
        found = role_profiles.match_title(role_profiles.profiles(s, org_id(host)), title)
    assert (found.key if found else None) == expected


# -- a request from a profile -------------------------------------------------------------------------------


def test_a_request_from_a_role_profile_is_prefilled_with_its_codes_and_reasons_and_goes_to_approval(host, people):
    values = profile_values(host, "palkanlaskija")
    assert values["codes"] == [
        code_id(host, k)
        for k in (
            "tulorekisteri_palkkatietojen_ilmoittaminen",
            "tulorekisteri_palkkatietojen_katselu",
            "tulorekisteri_loki_rajapinta_ja_ilmoitustietojen_kasittely",
        )
    ]
    assert values["justification"].startswith("Tehtävärooli: Palkanlaskija.")
    assert "viiden päivän kuluessa" in values["justification"]  # the reason of the first code

    started = host.start_request(people["employee"], people["employee"], values)
    endorsed = host.complete_task(people["supervisor"], started.ready_task_ids[0], {"endorsement_decision": "endorse"})
    approved = host.complete_task(people["director"], endorsed.ready_task_ids[0], {"approval_decision": "approve"})
    done = host.complete_task(people["admin"], approved.ready_task_ids[0], registration_form())

    assert done.status == "complete"
    with host.db.reader() as s:
        rows = list(s.scalars(select(Authorization).where(Authorization.request_instance_id == done.instance_id)))
        instance = s.get(ProcessInstance, done.instance_id)
    assert sorted(r.code_id for r in rows) == sorted(values["codes"])
    assert {r.status for r in rows} == {"active"}
    assert "check_role_profile" in instance.completed_steps


def test_a_code_outside_the_profile_is_refused_without_an_extra_justification_and_nothing_is_written(host, people):
    values = profile_values(host, "palkanlaskija")
    values["codes"] = [*values["codes"], code_id(host, "traficom_ajoneuvon_rekisterointi")]
    instances, authorizations = count(host, ProcessInstance), count(host, Authorization)

    with pytest.raises(FormValidationError) as err:
        host.start_request(people["employee"], people["employee"], values)
    assert err.value.errors == {"extra_justification": [{"code": "required"}]}
    assert err.value.data["codes"] == values["codes"]  # shown again beside the message
    with pytest.raises(FormValidationError) as err:
        host.start_request(people["employee"], people["employee"], {**values, "extra_justification": "auto"})
    assert err.value.errors["extra_justification"][0]["code"] == "minLength"
    assert (count(host, ProcessInstance), count(host, Authorization)) == (instances, authorizations)

    justified = {**values, "extra_justification": "Hoidan myös kunnan autojen rekisteröinnit sijaisena."}
    started = host.start_request(people["employee"], people["employee"], justified)
    assert count(host, Authorization, Authorization.request_instance_id == started.instance_id) == 4


def test_a_request_without_a_profile_is_not_limited_to_any_profile(host, people):
    started = host.start_request(
        people["employee"],
        people["employee"],
        {
            "codes": [code_id(host, "traficom_ajoneuvon_rekisterointi")],
            "justification": "Kunnan autojen rekisteröinnit kuuluvat tehtäviini.",
            "valid_from": TOMORROW.isoformat(),
            "valid_until": (TOMORROW + timedelta(days=30)).isoformat(),
        },
    )
    assert started.status == "running"


def test_an_unknown_or_inactive_profile_is_refused_on_the_role_profile_field(host, people):
    values = profile_values(host, "palkanlaskija")
    with pytest.raises(FormValidationError) as err:
        host.start_request(people["employee"], people["employee"], {**values, "role_profile": "ei_ole"})
    assert err.value.errors == {"role_profile": [{"code": "invalid_choice"}]}
    with host.db.unit_of_work() as s:
        found = role_profiles.profile(s, org_id(host), "palkanlaskija")
        role_profiles.save_profile(
            s, people["admin"], key="palkanlaskija", name=found.name, active=False, now=host.clock()
        )
    with pytest.raises(FormValidationError):
        host.start_request(people["employee"], people["employee"], values)


# -- the joiner's suggestion ----------------------------------------------------------------------------------


def test_a_joiner_with_a_matching_title_gives_the_supervisor_a_task_whose_confirmation_starts_the_request(host, people):
    result = hr_events.apply_event(host, org_id(host), joiner("j-1", "Palkanlaskija"))
    assert result["status"] == "applied" and result["suggestion"]["profile"] == "palkanlaskija"
    [task] = ready_tasks(host, result["suggestion"]["instance_id"])
    assert task.bpmn_id == "confirm_suggested_request" and task.name == "Vahvista ehdotettu valtuuspyyntö"
    assert owners(host, task.id) == {people["supervisor"]}
    with host.db.reader() as s:  # the supervisor hears of it (heräte: a task is waiting)
        heard = s.scalar(select(Notification).where(Notification.recipient_id == people["supervisor"]))
    assert heard.kind == "task_waiting" and heard.context["path"] == f"/tasks/{task.id}"
    suggested = task.prefill["codes"]
    assert len(suggested) == 3 and task.prefill["justification"].startswith("Tehtävärooli: Palkanlaskija.")

    kept = suggested[:2]  # the supervisor removes one code
    done = host.complete_task(
        people["supervisor"],
        task.id,
        {
            "suggestion_decision": "confirm",
            "codes": kept,
            "justification": task.prefill["justification"],
            "valid_from": task.prefill["valid_from"],
            "valid_until": task.prefill["valid_until"],
        },
    )

    assert done.status == "complete"
    joiner_id = result["person_id"]
    with host.db.reader() as s:
        request = s.scalar(
            select(ProcessInstance).where(
                ProcessInstance.process_id == "authorization_request", ProcessInstance.subject_person_id == joiner_id
            )
        )
        codes = sorted(s.scalars(select(Authorization.code_id).where(Authorization.request_instance_id == request.id)))
        audit = s.scalar(select(AuditEvent).where(AuditEvent.action == "role_profile.request_started"))
    assert request.started_by_id == people["supervisor"] and codes == sorted(kept)
    assert audit.details["request_instance_id"] == request.id
    [approval] = ready_tasks(host, request.id)  # started by the supervisor: straight to the director
    assert approval.bpmn_id == "approve_request" and people["director"] in owners(host, approval.id)


def test_the_supervisor_may_decline_the_suggestion_and_no_request_is_made(host, people):
    result = hr_events.apply_event(host, org_id(host), joiner("j-2", "Palkanlaskija"))
    [task] = ready_tasks(host, result["suggestion"]["instance_id"])
    with pytest.raises(FormValidationError) as err:
        host.complete_task(people["supervisor"], task.id, {"suggestion_decision": "decline"})
    assert "decline_reason" in err.value.errors
    done = host.complete_task(
        people["supervisor"], task.id, {"suggestion_decision": "decline", "decline_reason": "Tekee vain reskontraa."}
    )
    assert done.status == "complete"
    assert count(host, ProcessInstance, ProcessInstance.process_id == "authorization_request") == 0


def test_a_code_the_supervisor_adds_outside_the_profile_needs_the_extra_justification(host, people):
    result = hr_events.apply_event(host, org_id(host), joiner("j-3", "Palkanlaskija"))
    [task] = ready_tasks(host, result["suggestion"]["instance_id"])
    confirm = {
        "suggestion_decision": "confirm",
        "codes": [*task.prefill["codes"], code_id(host, "vero_veroilmoittaminen")],
        "justification": task.prefill["justification"],
        "valid_from": task.prefill["valid_from"],
        "valid_until": task.prefill["valid_until"],
    }
    with pytest.raises(FormValidationError) as err:
        host.complete_task(people["supervisor"], task.id, confirm)
    assert err.value.errors == {"extra_justification": [{"code": "required"}]}
    assert err.value.data["suggestion_decision"] == "confirm"  # the form is shown again as it was filled in
    assert ready_tasks(host, result["suggestion"]["instance_id"])[0].id == task.id  # still waiting
    assert count(host, ProcessInstance, ProcessInstance.process_id == "authorization_request") == 0

    host.complete_task(
        people["supervisor"], task.id, {**confirm, "extra_justification": "Hoitaa myös kausiveroilmoitukset."}
    )
    with host.db.reader() as s:
        request_id = s.scalar(select(ProcessInstance.id).where(ProcessInstance.process_id == "authorization_request"))
    assert count(host, Authorization, Authorization.request_instance_id == request_id) == 4


def test_a_joiner_whose_title_matches_no_profile_gets_no_suggestion(host):
    before = count(host, ProcessInstance)
    result = hr_events.apply_event(host, org_id(host), joiner("j-4", "Kaupunginpuutarhuri"))
    assert result["status"] == "applied" and "suggestion" not in result
    assert count(host, ProcessInstance) == before


def test_a_joiner_without_a_supervisor_gets_no_task_and_the_result_says_why(host):
    result = hr_events.apply_event(host, org_id(host), joiner("j-5", "Palkanlaskija", supervisor=None))
    assert result["suggestion"] == {"profile": "palkanlaskija", "skipped": "no_supervisor"}
    assert count(host, ProcessInstance, ProcessInstance.process_id == "role_profile_suggestion") == 0


# -- maintenance and organisations ------------------------------------------------------------------------------


def test_only_a_paakayttaja_may_change_role_profiles_and_every_change_is_audited(host, people):
    with host.db.unit_of_work() as s, pytest.raises(NotAllowedError):
        role_profiles.save_profile(
            s, people["director"], key="uusi", name={"fi": "Uusi"}, create=True, now=host.clock()
        )
    with host.db.unit_of_work() as s:
        role_profiles.save_profile(
            s,
            people["admin"],
            key="puutarhuri",
            name={"fi": "Puutarhuri"},
            job_titles=["Puutarhuri", " kaupunginpuutarhuri "],
            create=True,
            now=host.clock(),
        )
        with pytest.raises(role_profiles.ProfileInputError):
            role_profiles.set_codes(
                s,
                people["admin"],
                "puutarhuri",
                [(code_id(host, "vero_veroilmoittaminen"), {"sv": "bara svenska"})],
                now=host.clock(),
            )
        role_profiles.set_codes(
            s,
            people["admin"],
            "puutarhuri",
            [(code_id(host, "vero_veroilmoittaminen"), {"fi": "Syy", "sv": "Skäl"})],
            now=host.clock(),
        )
    with host.db.unit_of_work() as s, pytest.raises(NotAllowedError):
        role_profiles.set_codes(s, people["employee"], "puutarhuri", [], now=host.clock())
    with host.db.reader() as s:
        found = role_profiles.profile(s, org_id(host), "puutarhuri")
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("role_profile.%"))))
    assert found.job_titles == ["kaupunginpuutarhuri", "puutarhuri"]
    assert [(e.code.key, e.reason) for e in found.codes] == [("vero_veroilmoittaminen", {"fi": "Syy", "sv": "Skäl"})]
    assert actions == ["role_profile.created", "role_profile.codes_set"]


def test_another_organisations_profiles_are_invisible_and_cannot_be_used(host, people):
    with host.db.unit_of_work() as s:
        other = upsert_organisation(
            s,
            {
                "organisation": {"key": "toinen", "name": {"fi": "Toinen kunta"}, "business_id": "0000000-0"},
                "units": [{"key": "hallinto", "name": {"fi": "Hallinto"}}],
                "people": [
                    {
                        "email": "boss@toinen.example",
                        "name": "Toisen Pomo",
                        "unit": "hallinto",
                        "roles": ["administrator"],
                    }
                ],
            },
        )
        s.add(
            RoleProfile(
                organisation_id=other.id,
                key="toisen_rooli",
                name={"fi": "Toisen rooli"},
                description={},
                job_titles=["palkanlaskija"],
            )
        )
        boss = s.scalar(select(Person.id).where(Person.email == "boss@toinen.example"))
    with host.db.reader() as s:
        assert "toisen_rooli" not in {p.key for p in role_profiles.profiles(s, org_id(host))}
        with pytest.raises(NotFoundError):
            role_profiles.profile(s, org_id(host), "toisen_rooli")
    with host.db.unit_of_work() as s, pytest.raises(NotFoundError):
        role_profiles.set_codes(s, boss, "palkanlaskija", [], now=host.clock())
    values = profile_values(host, "palkanlaskija")
    with pytest.raises(FormValidationError) as err:
        host.start_request(people["employee"], people["employee"], {**values, "role_profile": "toisen_rooli"})
    assert err.value.errors == {"role_profile": [{"code": "invalid_choice"}]}
