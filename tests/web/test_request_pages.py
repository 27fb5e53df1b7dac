"""The request process through the pages, as each role meets it (Flask test client, CSRF on)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from engine.directory import upsert_organisation
from engine.models import Authorization, HumanTask, ProcessInstance
from tests.conftest import registration_form, request_form

TASK_LINK = re.compile(r'href="/tasks/([0-9a-f-]{36})"')


def ready_task(host, instance_id: int) -> str:
    with host.db.reader() as s:
        return s.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id, HumanTask.status == "ready"))


def start(web, codes, **overrides) -> int:
    web.login("employee")
    response = web.post("/requests/new", request_form(codes[:2], **overrides))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_the_happy_path_through_the_pages_ends_with_an_active_authorization(web, host, codes):
    instance_id = start(web, codes)

    web.login("supervisor")
    inbox = web.client.get("/tasks").get_data(as_text=True)
    task_id = TASK_LINK.search(inbox).group(1)
    assert "Emilia Esimerkki" in inbox
    assert web.post(f"/tasks/{task_id}", {"endorsement_decision": "endorse"}).status_code == 303

    web.login("director")
    task_id = ready_task(host, instance_id)
    page = web.client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Palkanlaskenta edellyttää" in page  # the director sees what is asked and why
    assert web.post(f"/tasks/{task_id}", {"approval_decision": "approve"}).status_code == 303

    web.login("admin")
    task_id = ready_task(host, instance_id)
    form_page = web.client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert f'value="{registration_form()["registered_valid_until"]}"' in form_page  # prefilled from the request
    response = web.post(f"/tasks/{task_id}", registration_form())
    assert response.status_code == 303

    status_page = web.client.get(f"/requests/{instance_id}").get_data(as_text=True)
    assert status_page.count("badge-active") == 2
    assert status_page.count("<li>") >= 4
    registry = web.client.get("/authorizations?status=active").get_data(as_text=True)
    assert registry.count("Emilia Esimerkki") == 2


def test_an_employee_cannot_open_or_complete_the_directors_task(web, host, codes):
    instance_id = start(
        web,
        codes,
    )
    web.login("supervisor")
    web.post(f"/tasks/{ready_task(host, instance_id)}", {"endorsement_decision": "endorse"})
    director_task = ready_task(host, instance_id)

    web.login("employee")
    page = web.client.get(f"/tasks/{director_task}")
    assert page.status_code == 200 and 'name="approval_decision"' not in page.get_data(as_text=True)
    response = web.post(f"/tasks/{director_task}", {"approval_decision": "approve"}, token_from="/tasks")
    assert response.status_code == 403
    assert ready_task(host, instance_id) == director_task


def test_a_director_of_another_unit_can_neither_see_nor_complete_the_task(web, host, codes, people):
    instance_id = start(web, codes)
    task_id = ready_task(host, instance_id)
    with host.db.reader() as s:
        from engine.models import Unit

        other = s.scalar(select(Unit.director_id).where(Unit.key == "sivistystoimi"))
    web.people["other_director"] = other
    web.login("other_director")
    assert web.client.get(f"/tasks/{task_id}").status_code == 404
    assert web.client.get(f"/requests/{instance_id}").status_code == 404
    assert web.post(f"/tasks/{task_id}", {"endorsement_decision": "endorse"}, token_from="/tasks").status_code == 404


def test_another_organisations_user_sees_nothing_of_this_one(web, host, codes):
    instance_id = start(web, codes)
    with host.db.unit_of_work() as s:
        upsert_organisation(
            s,
            {
                "organisation": {"key": "toinen", "name": {"fi": "Toinen kunta"}, "business_id": "0000000-0"},
                "units": [{"key": "hallinto", "name": {"fi": "Hallinto"}, "director": "boss@toinen.example"}],
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
        from engine.models import Person

        web.people["outsider"] = s.scalar(select(Person.id).where(Person.email == "boss@toinen.example"))
    web.login("outsider")
    assert web.client.get(f"/requests/{instance_id}").status_code == 404
    assert web.client.get(f"/tasks/{ready_task(host, instance_id)}").status_code == 404
    assert "Emilia" not in web.client.get("/authorizations").get_data(as_text=True)
    assert "Emilia" not in web.client.get("/tasks").get_data(as_text=True)


def counts(host) -> tuple[int, int]:
    with host.db.reader() as s:
        return (
            s.scalar(select(func.count()).select_from(ProcessInstance)),
            s.scalar(select(func.count()).select_from(Authorization)),
        )


def test_an_invalid_request_answers_422_with_errors_beside_the_fields_and_stores_nothing(web, host, codes):
    web.login("employee")
    before = counts(host)
    response = web.post("/requests/new", request_form([], justification="x"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="error-codes"' in page and 'id="error-justification"' in page and 'role="alert"' in page
    assert 'aria-invalid="true"' in page and "Palkanlaskenta" not in page
    assert counts(host) == before


def test_an_unknown_task_is_404_and_a_finished_one_is_409(web, host, codes):
    instance_id = start(web, codes)
    task_id = ready_task(host, instance_id)
    web.login("supervisor")
    assert web.client.get("/tasks/00000000-0000-0000-0000-000000000000").status_code == 404
    assert web.post(f"/tasks/{task_id}", {"endorsement_decision": "endorse"}).status_code == 303
    again = web.post(f"/tasks/{task_id}", {"endorsement_decision": "endorse"}, token_from="/tasks")
    assert again.status_code == 409


def test_a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(web, host, codes):
    web.login("employee")
    before = counts(host)
    response = web.client.post("/requests/new", data=request_form(codes[:1]))
    assert response.status_code == 400
    forged = web.client.post("/requests/new", data={**request_form(codes[:1]), "csrf_token": "forged"})
    assert forged.status_code == 400 and counts(host) == before


def test_pages_need_sign_in_and_the_registry_shows_each_role_its_own_scope(web, host, codes):
    assert web.client.get("/tasks").status_code == 302
    instance_id = start(web, codes)
    assert instance_id
    web.login("anstalld")
    assert "Emilia Esimerkki" not in web.client.get("/authorizations").get_data(as_text=True)
    web.login("director")
    assert "Emilia Esimerkki" in web.client.get("/authorizations").get_data(as_text=True)
    web.login("admin")
    assert "Emilia Esimerkki" in web.client.get("/authorizations").get_data(as_text=True)


def test_dates_written_the_finnish_way_are_understood(web, host, codes):
    web.login("employee")
    form = request_form(codes[:1])
    year = int(form["valid_until"][:4]) + 1
    response = web.post("/requests/new", {**form, "valid_until": f"1.2.{year}"})
    assert response.status_code == 303
    with host.db.reader() as s:
        assert str(s.scalar(select(Authorization.valid_until))) == f"{year}-02-01"


def test_a_returned_request_shows_the_employee_why_it_came_back(web, host, codes):
    instance_id = start(web, codes)
    web.login("supervisor")
    web.post(f"/tasks/{ready_task(host, instance_id)}", {"endorsement_decision": "endorse"})
    web.login("director")
    web.post(f"/tasks/{ready_task(host, instance_id)}",
             {"approval_decision": "return", "approval_reason": "Kerro mihin Kela-tehtävään tarvitset tätä."})
    web.login("employee")
    page = web.client.get(f"/tasks/{ready_task(host, instance_id)}").get_data(as_text=True)
    assert "Kerro mihin Kela-tehtävään tarvitset tätä." in page
    assert 'name="justification"' in page and "Palkanlaskenta edellyttää" in page  # prefilled again


def test_a_swedish_speaking_supervisor_sees_the_step_by_its_swedish_name(web, host, codes):
    web.login("anstalld")
    assert web.post("/requests/new", request_form(codes[:1])).status_code == 303
    web.login("johanna.sundstrom")
    inbox = web.client.get("/tasks").get_data(as_text=True)
    assert '<html lang="sv">' in inbox and "Tillstyrk eller tillstyrk inte" in inbox
    assert "Puolla tai älä puolla" not in inbox
