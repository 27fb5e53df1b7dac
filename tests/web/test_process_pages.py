"""Prosessit: versions, diff, downloads and deployment – for process owners and pääkäyttäjät only."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from sqlalchemy import func, select

from engine import process_versions
from engine.demo import load_codes
from engine.directory import upsert_organisation
from engine.models import AuthorizationCode, Person, ProcessSpecVersion
from tests.conftest import request_form
from tests.engine.test_process_versions import NAME, REQUEST, changed_diagram
from web.cli import main


def versions_stored(host) -> int:
    with host.db.reader() as s:
        return s.scalar(select(func.count()).select_from(ProcessSpecVersion))


def upload(web, diagram: str | bytes, forms: dict | None = None, note: str = ""):
    body = diagram.encode("utf-8") if isinstance(diagram, str) else diagram
    data = {"note": note, "diagram": (io.BytesIO(body), NAME)}
    if forms:
        data["forms"] = [(io.BytesIO(v.encode("utf-8")), n) for n, v in forms.items()]
    return web.client.post(
        "/processes/deploy",
        data={"csrf_token": web.token("/processes/deploy"), **data},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/processes/",
        "/processes/deploy",
        "/processes/authorization_request/1.bpmn",
        "/processes/authorization_request/1/forms.zip",
        "/processes/authorization_request/diff?old=1&new=1",
    ],
)
def test_an_employee_gets_403_on_every_process_page(web, path):
    web.login("employee")
    assert web.client.get(path).status_code == 403


def test_an_employee_cannot_deploy(web, host):
    web.login("employee")
    before = versions_stored(host)
    response = web.client.post(
        "/processes/deploy",
        data={"csrf_token": web.token("/"), "diagram": (io.BytesIO(changed_diagram().encode()), NAME)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403 and versions_stored(host) == before


def test_the_nav_shows_processes_to_the_process_owner_only(web):
    web.login("employee")
    assert "/processes/" not in web.client.get("/").get_data(as_text=True)
    web.login("admin")
    assert 'href="/processes/"' in web.client.get("/").get_data(as_text=True)


def test_the_page_counts_running_instances_of_the_users_organisation_only(web, host, people, codes):
    host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    worker, other_codes = _other_organisation(host)
    for _ in range(3):
        host.start_request(worker, worker, request_form(other_codes[:1]))
    web.login("admin")
    page = web.client.get("/processes/").get_data(as_text=True)
    section = page[page.index('id="process-authorization_request"') :]
    row = re.search(r"<th scope=\"row\">1 .*?</tr>", section, re.DOTALL).group(0)
    cells = re.findall(r"<td>(.*?)</td>", row, re.DOTALL)
    assert cells[4].strip() == "1"  # the three of the other organisation are not counted
    with host.db.reader() as s:
        everywhere = {v.version: v.running for v in process_versions.versions(s, None, "authorization_request")}
    assert everywhere == {1: 4}


def _other_organisation(host) -> tuple[int, list[int]]:
    """A second organisation with a director, an employee and the code catalog; (employee id, code ids)."""
    doc = {
        "organisation": {"key": "toinen", "name": {"fi": "Toinen kunta"}, "business_id": "0000000-0"},
        "units": [{"key": "hallinto", "name": {"fi": "Hallinto"}, "director": "boss@toinen.example"}],
        "people": [
            {"email": "boss@toinen.example", "name": "Toisen Pomo", "unit": "hallinto", "roles": ["process_owner"]},
            {
                "email": "worker@toinen.example",
                "name": "Toisen Työntekijä",
                "unit": "hallinto",
                "supervisor": "boss@toinen.example",
                "roles": [],
            },
        ],
    }
    with host.db.unit_of_work() as s:
        org = upsert_organisation(s, doc)
        load_codes(s, org, host.settings.codes_file)
        s.flush()
        worker = s.scalar(select(Person.id).where(Person.email == "worker@toinen.example"))
        codes = list(s.scalars(select(AuthorizationCode.id).where(AuthorizationCode.organisation_id == org.id)))
    return worker, codes


def test_a_good_upload_deploys_a_new_version_and_shows_what_changed(web, host):
    web.login("admin")
    response = upload(web, changed_diagram(), note="Muistutus esihenkilölle")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/processes/authorization_request/diff?old=1&new=2")
    diff = web.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "endorse_request" in diff and "Puolla pyyntöä" in diff and "remind_supervisor" in diff
    page = web.client.get("/processes/").get_data(as_text=True)
    assert "Muistutus esihenkilölle" in page and "Pia Pääkäyttäjä" in page


def test_an_identical_upload_says_so_and_stores_nothing(web, host):
    web.login("admin")
    before = versions_stored(host)
    response = upload(web, REQUEST)
    assert response.status_code == 303 and versions_stored(host) == before
    page = web.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "samat kuin versiossa 1" in page  # (the default language: Finnish)


@pytest.mark.parametrize(
    ("diagram", "element", "reason"),
    [
        (
            '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
            "document",
            "DOCTYPE",
        ),
        (REQUEST.replace('isExecutable="true"', 'isExecutable="false"'), "authorization_request", "suoritettava"),
        (REQUEST.replace('approval_decision == "approve"', "__import__('os')"), "flow_approved", "may be called"),
        (REQUEST.replace('id="lane_director"', 'id="lane_boss"'), "lane_boss", "ei vastaa mitään roolia"),
    ],
)
def test_a_hostile_upload_is_refused_listing_element_and_reason_and_nothing_is_stored(
    web, host, diagram, element, reason
):
    web.login("admin")
    before = versions_stored(host)
    response = upload(web, diagram)
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Mitään ei otettu käyttöön" in text and element in text and reason in text
    assert versions_stored(host) == before


def test_an_upload_with_an_invalid_form_is_refused(web, host):
    web.login("admin")
    before = versions_stored(host)
    bad = json.dumps({"type": "object", "properties": {"x": {"type": "nonsense"}}})
    response = upload(web, changed_diagram(), {"endorse_request.schema.json": bad})
    assert response.status_code == 422 and "endorse_request.schema.json" in response.get_data(as_text=True)
    assert versions_stored(host) == before


def test_an_upload_without_the_csrf_token_is_refused(web, host):
    web.login("admin")
    before = versions_stored(host)
    response = web.client.post(
        "/processes/deploy",
        data={"diagram": (io.BytesIO(changed_diagram().encode()), NAME)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and versions_stored(host) == before


def test_a_download_returns_the_stored_bytes_as_an_attachment(web, host):
    web.login("admin")
    response = web.client.get("/processes/authorization_request/1.bpmn")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert response.headers["Content-Disposition"] == 'attachment; filename="authorization_request-v1.bpmn"'
    with host.db.reader() as s:
        stored = s.scalar(
            select(ProcessSpecVersion.bpmn).where(ProcessSpecVersion.process_id == "authorization_request")
        )
    assert response.data == stored.encode("utf-8") == REQUEST.encode("utf-8")


def test_the_forms_of_a_version_download_as_a_zip(web):
    web.login("admin")
    response = web.client.get("/processes/authorization_request/1/forms.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert "endorse_request.schema.json" in names and "approve_request.uischema.json" in names


def test_a_version_that_does_not_exist_is_404(web):
    web.login("admin")
    assert web.client.get("/processes/authorization_request/99.bpmn").status_code == 404
    assert web.client.get("/processes/authorization_request/diff?old=1&new=99").status_code == 404


def test_the_cli_deploys_lists_and_diffs_versions(runner, host, people, tmp_path):
    diagram = tmp_path / NAME
    diagram.write_text(changed_diagram(), encoding="utf-8")
    deployed = runner.invoke(
        main, ["processes", "deploy", str(diagram), "--note", "Muistutus", "--as", "admin@merilahti.example"]
    )
    assert deployed.exit_code == 0, deployed.output
    assert "deployed authorization_request version 2" in deployed.output
    listed = runner.invoke(main, ["processes", "versions", "authorization_request"])
    assert "authorization_request v2" in listed.output and "Pia Pääkäyttäjä" in listed.output
    assert "Muistutus" in listed.output and "v1" in listed.output and "shipped" in listed.output
    diff = runner.invoke(main, ["processes", "diff", "authorization_request", "1", "2"])
    assert "changed: task endorse_request" in diff.output and "added: timer remind_supervisor" in diff.output
    again = runner.invoke(main, ["processes", "deploy", str(diagram), "--as", "admin@merilahti.example"])
    assert again.exit_code == 0 and "identical to authorization_request version 2" in again.output


def test_the_cli_refuses_a_hostile_diagram_and_stores_nothing(runner, host, tmp_path):
    diagram = tmp_path / NAME
    diagram.write_text(REQUEST.replace('registry.record_approval"', 'registry.delete_everything"'), encoding="utf-8")
    before = versions_stored(host)
    result = runner.invoke(main, ["processes", "deploy", str(diagram), "--as", "admin@merilahti.example"])
    assert result.exit_code == 1
    assert "record_approval" in result.output and "does not exist" in result.output
    assert versions_stored(host) == before


def test_the_cli_deploys_only_as_a_process_owner_or_paakayttaja(runner, host, tmp_path):
    diagram = tmp_path / NAME
    diagram.write_text(changed_diagram(), encoding="utf-8")
    before = versions_stored(host)
    result = runner.invoke(main, ["processes", "deploy", str(diagram), "--as", "employee@merilahti.example"])
    assert result.exit_code == 2 and "not an active process owner" in result.output
    assert versions_stored(host) == before


def test_a_process_owner_of_another_organisation_sees_the_version_but_not_who_deployed_it(web, host, people):
    web.login("admin")
    assert upload(web, changed_diagram(), note="Muistutus").status_code == 303
    _other_organisation(host)
    with host.db.reader() as s:
        web.people["outsider"] = s.scalar(select(Person.id).where(Person.email == "boss@toinen.example"))
    web.login("outsider")
    page = web.client.get("/processes/").get_data(as_text=True)
    assert "Muistutus" in page and "Toisen organisaation prosessin omistaja" in page
    assert "Pia Pääkäyttäjä" not in page


def test_a_known_refusal_reason_is_worded_for_translation_and_an_unknown_one_is_kept(app):
    from web.process_problems import problem_reason

    with app.test_request_context():
        assert problem_reason("service operation 'x.y' does not exist") == "palvelutoimintoa 'x.y' ei ole olemassa"
        assert problem_reason("form a.json: invalid JSON Schema: bad") == (
            "lomake a.json ei ole kelvollinen JSON Schema -lomake: invalid JSON Schema: bad"
        )
        assert problem_reason("something new went wrong") == "something new went wrong"
