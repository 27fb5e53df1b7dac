"""Valtuusasiaehdotukset through the pages: who may start a proposal, the first task in the inbox, the list."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.models import ProcessInstance
from tests.engine.test_code_introduction import proposal


def proposals(host) -> int:
    with host.db.reader() as s:
        return s.scalar(
            select(func.count()).select_from(ProcessInstance).where(ProcessInstance.process_id == "code_introduction")
        )


def start(web):
    return web.post("/code-proposals/new", {}, token_from="/code-proposals")


@pytest.mark.parametrize("who", ["employee", "supervisor", "director"])
def test_people_without_the_process_owner_or_pääkäyttäjä_role_get_no_page_no_link_and_cannot_start(web, host, who):
    web.login(who)

    assert web.client.get("/code-proposals").status_code == 403
    assert "/code-proposals" not in web.client.get("/tasks").get_data(as_text=True)
    refused = web.post("/code-proposals/new", {}, token_from="/tasks")
    assert refused.status_code == 403
    assert proposals(host) == 0


def test_a_process_owner_starts_a_proposal_fills_it_in_and_sees_it_under_way_with_its_step_and_date(web, host):
    web.login("admin")
    page = web.client.get("/code-proposals").get_data(as_text=True)
    assert "/code-proposals/new" in page and 'href="/code-proposals"' in web.client.get("/tasks").get_data(as_text=True)

    started = start(web)
    assert started.status_code == 303 and "/tasks/" in started.headers["Location"]
    task_path = started.headers["Location"].replace("http://localhost", "")
    form = web.client.get(task_path).get_data(as_text=True)
    assert 'name="code_name_sv"' in form and 'name="e_service"' in form
    assert "Laadi valtuusasiaehdotus" in web.client.get("/tasks").get_data(as_text=True)

    sent = web.post(task_path, proposal(code_description_en="too short"))
    assert sent.status_code == 422  # the form's rules hold on the page too: nothing was written
    assert web.post(task_path, proposal()).status_code == 303

    listing = web.client.get("/code-proposals").get_data(as_text=True)
    assert "Varhaiskasvatuspaikan haku" in listing
    assert "Lähetä DVV:lle validoitavaksi" in listing
    with host.db.reader() as s:
        instance_id = s.scalar(select(ProcessInstance.id).where(ProcessInstance.process_id == "code_introduction"))
    detail = web.client.get(f"/code-proposals/{instance_id}").get_data(as_text=True)
    assert "Ansökan om plats i småbarnspedagogik" in detail and "merilahti_varhaiskasvatuspaikan_haku" in detail
    assert "Merilahden varhaiskasvatuksen asiointi" in detail


def test_a_pääkäyttäjä_who_is_not_a_process_owner_may_start_one_too(web, host):
    web.login("jonas.ekholm")

    assert start(web).status_code == 303
    assert proposals(host) == 1


def test_the_proposal_page_shows_dvvs_remarks_for_the_correction_and_other_processes_are_not_proposals(
    web, host, people, codes
):
    from engine import code_introduction
    from tests.conftest import request_form
    from tests.engine.test_code_introduction import do, validation

    owner = people["admin"]
    instance_id, _task = code_introduction.start_code_introduction(host, owner)
    do(host, owner, instance_id, "draft_proposal", proposal())
    do(host, owner, instance_id, "send_to_dvv", {"sent_to_dvv_on": "2026-03-02"})
    remark = "Kuvauksen tulee viitata valtuuttajaan."
    do(host, owner, instance_id, "record_validation_result", validation("corrections_requested", "2026-03-03", remark))
    request_id = host.start_request(people["employee"], people["employee"], request_form([codes[0]])).instance_id
    web.login("admin")

    detail = web.client.get(f"/code-proposals/{instance_id}").get_data(as_text=True)

    assert "Kuvauksen tulee viitata valtuuttajaan." in detail and "2.3.2026" in detail
    assert "Korjaa ehdotus" in detail
    assert web.client.get(f"/requests/{instance_id}").status_code == 200  # the diagram and the full history
    assert web.client.get(f"/code-proposals/{request_id}").status_code == 404
