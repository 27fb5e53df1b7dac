"""Asking to revoke an authorization (Peru valtuus) through the pages, and following the revocation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from engine.directory import upsert_organisation
from engine.models import Authorization, HumanTask, Person, ProcessInstance
from tests.engine.test_revocation import add_active


@pytest.fixture
def held(host, people, codes) -> int:
    today = date.today()
    return add_active(
        host,
        people["employee"],
        codes[0],
        registered=today - timedelta(days=30),
        until=today + timedelta(days=300),
        next_review=today + timedelta(days=200),
    )


def row(host, authorization_id: int) -> Authorization:
    with host.db.reader() as s:
        return s.get(Authorization, authorization_id)


def revocations(host) -> int:
    with host.db.reader() as s:
        return s.scalar(
            select(func.count())
            .select_from(ProcessInstance)
            .where(ProcessInstance.process_id == "authorization_revocation")
        )


def ask(web, authorization_id: int, reason: str = "Tehtävä päättyi"):
    return web.post(
        "/revocations/new",
        {"authorization": str(authorization_id), "reason": reason},
        token_from=f"/revocations/new?authorization={authorization_id}",
    )


@pytest.mark.parametrize("who", ["employee", "director", "mikael.holmstrom", "admin"])
def test_the_holder_their_director_or_deputy_and_a_pääkäyttäjä_may_ask_to_revoke(web, host, held, who):
    web.login(who)
    assert web.client.get(f"/revocations/new?authorization={held}").status_code == 200
    response = ask(web, held)
    assert response.status_code == 303
    instance_id = int(response.headers["Location"].rsplit("/", 1)[1])
    pending = row(host, held)
    assert (pending.status, pending.open_instance_id) == ("revoking", instance_id)
    assert web.client.get(f"/requests/{instance_id}").status_code == 200


def test_a_colleague_or_another_organisation_gets_not_found_and_nothing_starts(web, host, held):
    with host.db.reader() as s:
        web.people["colleague"] = s.scalar(select(Person.id).where(Person.email == "anstalld@merilahti.example"))
    web.login("colleague")
    assert web.client.get(f"/revocations/new?authorization={held}").status_code == 404
    assert (
        web.post("/revocations/new", {"authorization": str(held), "reason": "Haluan perua"}, token_from="/").status_code
        == 404
    )
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
        web.people["outsider"] = s.scalar(select(Person.id).where(Person.email == "boss@toinen.example"))
    web.login("outsider")
    assert (
        web.post("/revocations/new", {"authorization": str(held), "reason": "Haluan perua"}, token_from="/").status_code
        == 404
    )
    assert row(host, held).status == "active" and revocations(host) == 0


def test_a_reason_is_required_and_a_second_request_is_a_conflict(web, host, held):
    web.login("employee")
    response = ask(web, held, reason="  ")
    assert response.status_code == 422 and 'id="error-reason"' in response.get_data(as_text=True)
    assert row(host, held).status == "active" and revocations(host) == 0
    assert web.client.post("/revocations/new", data={"authorization": str(held), "reason": "abc"}).status_code == 400
    assert ask(web, held).status_code == 303
    assert ask(web, held).status_code == 409
    assert revocations(host) == 1


def test_the_person_page_offers_revoking_and_then_shows_the_revocation_pending(web, host, held, people):
    web.login("director")
    page = web.client.get(f"/people/{people['employee']}").get_data(as_text=True)
    assert f'href="/revocations/new?authorization={held}"' in page
    instance_id = int(ask(web, held).headers["Location"].rsplit("/", 1)[1])
    page = web.client.get(f"/people/{people['employee']}").get_data(as_text=True)
    assert f'href="/revocations/new?authorization={held}"' not in page
    assert f'href="/requests/{instance_id}"' in page and "badge-revoking" in page
    registry = web.client.get("/authorizations").get_data(as_text=True)
    assert f'href="/requests/{instance_id}"' in registry


def test_the_holder_follows_the_revocation_to_its_end_on_the_process_page(web, host, held, people):
    web.login("employee")
    instance_id = int(ask(web, held, reason="Siirryn muihin tehtäviin").headers["Location"].rsplit("/", 1)[1])
    with host.db.reader() as s:
        task_id = s.scalar(
            select(HumanTask.id).where(HumanTask.instance_id == instance_id, HumanTask.status == "ready")
        )
    web.login("admin")
    done = web.post(
        f"/tasks/{task_id}", {"revocation_outcome": "invalidated", "invalidated_on": date.today().isoformat()}
    )
    assert done.status_code == 303
    assert row(host, held).status == "revoked"
    web.login("employee")
    page = web.client.get(f"/requests/{instance_id}").get_data(as_text=True)
    assert "badge-complete" in page
    with host.db.reader() as s:
        assert s.get(ProcessInstance, instance_id).outcome == "end_revoked"


def test_the_task_page_draws_its_process_with_the_current_step_and_serves_the_diagram_to_its_owner_only(
    web, host, held, people
):
    web.login("employee")
    instance_id = int(ask(web, held).headers["Location"].rsplit("/", 1)[1])
    with host.db.reader() as s:
        task = s.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == "ready"))
    web.login("admin")
    page = web.client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert f'data-current="{task.bpmn_id}"' in page and f'data-src="/tasks/{task.id}/diagram.bpmn"' in page
    diagram = web.client.get(f"/tasks/{task.id}/diagram.bpmn")
    assert diagram.mimetype == "application/xml" and b'id="authorization_revocation"' in diagram.data
    web.login("anstalld")  # a colleague with no part in it
    assert web.client.get(f"/tasks/{task.id}/diagram.bpmn").status_code in (403, 404)
