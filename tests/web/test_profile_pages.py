"""Tehtäväroolit through the pages: "Mitä valtuuksia tarvitsen?", the prefilled request, the supervisor's
confirmation of a joiner's suggestion, and the pääkäyttäjä's maintenance (Flask test client, CSRF on)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import func, select

from engine import hr_events
from engine.directory import upsert_organisation
from engine.models import Authorization, AuthorizationCode, HumanTask, Person, ProcessInstance, RoleProfile

TOMORROW = date.today() + timedelta(days=1)


def code_id(host, key: str) -> int:
    with host.db.reader() as s:
        return s.scalar(select(AuthorizationCode.id).where(AuthorizationCode.key == key))


def count(host, model, *where) -> int:
    with host.db.reader() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def checked_codes(page: str) -> set[int]:
    return {int(v) for v in re.findall(r'name="codes" value="(\d+)" checked', page)}


def prefilled_form(page: str) -> dict:
    """What the browser would send from the prefilled new-request page."""
    justification = re.search(r'<textarea id="justification"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    return {
        "role_profile": re.search(r'<option value="([a-z_]+)" selected', page).group(1),
        "codes": sorted(checked_codes(page)),
        "justification": justification.replace("&#39;", "'").replace("&amp;", "&"),
        "valid_from": TOMORROW.isoformat(),
        "valid_until": (TOMORROW + timedelta(days=365)).isoformat(),
    }


def test_an_employee_picks_a_role_profile_reads_the_reasons_and_sends_the_prefilled_request(web, host, people):
    web.login("employee")
    index = web.client.get("/role-profiles").get_data(as_text=True)
    assert "Rakennustarkastaja" in index and 'href="/role-profiles/palkanlaskija"' in index
    assert "vastaa tehtäväroolia" in index or "matches the role profile" in index  # her title: Palkanlaskija

    profile = web.client.get("/role-profiles/palkanlaskija").get_data(as_text=True)
    assert "viiden päivän kuluessa maksupäivästä" in profile  # the reason of a code
    assert 'action="/requests/new"' in profile and 'name="profile" value="palkanlaskija"' in profile

    page = web.client.get("/requests/new?profile=palkanlaskija").get_data(as_text=True)
    wanted = {
        code_id(host, "tulorekisteri_palkkatietojen_ilmoittaminen"),
        code_id(host, "tulorekisteri_palkkatietojen_katselu"),
        code_id(host, "tulorekisteri_loki_rajapinta_ja_ilmoitustietojen_kasittely"),
    }
    assert checked_codes(page) == wanted
    assert 'id="extra_justification"' in page
    form = prefilled_form(page)
    assert form["role_profile"] == "palkanlaskija" and form["justification"].startswith("Tehtävärooli: Palkanlaskija.")

    response = web.post("/requests/new", form)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    instance_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with host.db.reader() as s:
        assert (
            set(s.scalars(select(Authorization.code_id).where(Authorization.request_instance_id == instance_id)))
            == wanted
        )
        task = s.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == "ready"))
    assert task.bpmn_id == "endorse_request"  # on to the supervisor, as any request


def test_a_code_outside_the_profile_without_a_justification_is_shown_again_with_the_message(web, host, people):
    web.login("employee")
    form = prefilled_form(web.client.get("/requests/new?profile=palkanlaskija").get_data(as_text=True))
    form["codes"] = [*form["codes"], code_id(host, "traficom_ajoneuvon_rekisterointi")]
    before = count(host, ProcessInstance)

    response = web.post("/requests/new", form, token_from="/requests/new")

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="error-extra_justification"' in page and 'href="#field-extra_justification"' in page
    assert checked_codes(page) == set(form["codes"])  # what was chosen is kept
    assert count(host, ProcessInstance) == before
    form["extra_justification"] = "Hoidan sijaisena myös kunnan autojen rekisteröinnit."
    assert web.post("/requests/new", form, token_from="/requests/new").status_code == 303


def test_a_supervisor_prefills_a_request_for_a_direct_report_but_not_for_anyone_else(web, host, people):
    web.login("supervisor")
    page = web.client.get(f"/requests/new?profile=kirjanpitaja&holder={people['riikka.nieminen']}")
    assert page.status_code == 200
    assert f'<option value="{people["riikka.nieminen"]}" selected' in page.get_data(as_text=True)
    assert web.client.get(f"/requests/new?profile=kirjanpitaja&holder={people['jari.hamalainen']}").status_code == 404
    assert web.client.get("/requests/new?profile=ei_ole_olemassa").status_code == 404


def test_the_supervisor_confirms_a_joiners_suggested_request_on_the_task_page(web, host, people):
    with host.db.reader() as s:
        org_id = s.scalar(select(Person.organisation_id).where(Person.id == people["supervisor"]))
    result = hr_events.apply_event(
        host,
        org_id,
        {
            "event_id": "w-1",
            "type": "joiner",
            "email": "aino.uusi@merilahti.example",
            "name": "Aino Uusi",
            "unit": "talouspalvelut",
            "title": "Taloussihteeri",
            "date": TOMORROW.isoformat(),
            "supervisor": "supervisor@merilahti.example",
        },
    )
    with host.db.reader() as s:
        task = s.scalar(select(HumanTask).where(HumanTask.instance_id == result["suggestion"]["instance_id"]))

    web.login("employee")
    assert web.client.get(f"/tasks/{task.id}").status_code == 404  # not hers to see
    web.login("supervisor")
    assert "Aino Uusi" in web.client.get("/tasks").get_data(as_text=True)
    page = web.client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert checked_codes(page) == set(task.prefill["codes"])
    response = web.post(
        f"/tasks/{task.id}",
        {
            "suggestion_decision": "confirm",
            "codes": task.prefill["codes"][:1],
            "justification": task.prefill["justification"],
            "valid_from": task.prefill["valid_from"],
            "valid_until": task.prefill["valid_until"],
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    with host.db.reader() as s:
        request = s.scalar(
            select(ProcessInstance).where(
                ProcessInstance.process_id == "authorization_request",
                ProcessInstance.subject_person_id == result["person_id"],
            )
        )
        held = list(s.scalars(select(Authorization.code_id).where(Authorization.request_instance_id == request.id)))
    assert held == task.prefill["codes"][:1]


def test_only_the_paakayttaja_maintains_role_profiles_with_codes_and_reasons(web, host, people):
    web.login("director")
    assert web.client.get("/admin/role-profiles").status_code == 403
    assert (
        web.post("/admin/role-profiles", {"key": "x1", "name_fi": "X"}, token_from="/role-profiles").status_code == 403
    )

    web.login("admin")
    assert "palkanlaskija" in web.client.get("/admin/role-profiles").get_data(as_text=True)
    bad = web.post("/admin/role-profiles", {"key": "Ei kelpaa!", "name_fi": "Puutarhuri"})
    assert bad.status_code == 422 and count(host, RoleProfile, RoleProfile.key == "ei kelpaa!") == 0
    created = web.post(
        "/admin/role-profiles",
        {
            "key": "puutarhuri",
            "name_fi": "Puutarhuri",
            "name_sv": "Trädgårdsmästare",
            "job_titles": "puutarhuri, trädgårdsmästare",
            "active": "1",
        },
    )
    assert created.status_code == 303 and created.headers["Location"].endswith("/admin/role-profiles/puutarhuri")

    path = "/admin/role-profiles/puutarhuri"
    vehicle = code_id(host, "traficom_ajoneuvotietojen_katselu")
    no_reason = web.post(f"{path}/codes", {"add_code": vehicle, "add_reason_sv": "Bara på svenska"}, token_from=path)
    assert no_reason.status_code == 422
    saved = web.post(f"{path}/codes", {"add_code": vehicle, "add_reason_fi": "Kunnan autojen tiedot."}, token_from=path)
    assert saved.status_code == 303
    page = web.client.get(path).get_data(as_text=True)
    assert "Kunnan autojen tiedot." in page and f'name="keep" value="{vehicle}" checked' in page

    removed = web.post(f"{path}/codes", {}, token_from=path)  # every "keep" cleared
    assert removed.status_code == 303
    with host.db.reader() as s:
        found = s.scalar(select(RoleProfile).where(RoleProfile.key == "puutarhuri"))
        assert found.codes == [] and found.name == {"fi": "Puutarhuri", "sv": "Trädgårdsmästare"}


def test_another_organisations_people_never_see_this_organisations_profiles(web, host):
    with host.db.unit_of_work() as s:
        upsert_organisation(
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
        web.people["outsider"] = s.scalar(select(Person.id).where(Person.email == "boss@toinen.example"))
    web.login("outsider")
    assert "Palkanlaskija" not in web.client.get("/role-profiles").get_data(as_text=True)
    assert web.client.get("/role-profiles/palkanlaskija").status_code == 404
    assert web.client.get("/admin/role-profiles/palkanlaskija").status_code == 404
    assert web.client.get("/requests/new?profile=palkanlaskija").status_code == 404
    path = "/admin/role-profiles"
    assert web.post(f"{path}/palkanlaskija/codes", {}, token_from=path).status_code == 404
