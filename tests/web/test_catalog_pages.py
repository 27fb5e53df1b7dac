"""The code catalog through the pages and the API: browsing and search for everyone, the editor for the
pääkäyttäjä (locked fields once in use, replace, withdraw with both policies), access by role and organisation."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.directory import upsert_organisation
from engine.models import Authorization, AuthorizationCode, Notification, Person, ProcessInstance
from tests.engine.test_catalog import KELA, LABOUR, code, code_id, held
from tests.web.test_api_v1 import bearer, make_token


def test_everyone_signed_in_browses_the_catalog_and_finds_a_code_by_its_swedish_name(web, host):
    web.login("employee")
    page = web.client.get("/catalog").get_data(as_text=True)
    assert 'href="/catalog"' in page and code(host, KELA).name["fi"] in page
    found = web.client.get("/catalog?q=arbetsmarknadsstöd").get_data(as_text=True)
    assert code(host, LABOUR).name["fi"] in found and code(host, KELA).name["fi"] not in found
    assert "Uusi koodi" not in found and "New code" not in found  # no editor for an employee


def test_the_code_page_says_what_the_holder_may_do_and_links_the_confusable_code(web, host):
    with host.db.unit_of_work() as s:
        row = s.get(AuthorizationCode, code_id(host, KELA))
        row.warning, row.confusable_with, row.services = {"fi": "Ei tulorekisterin katselu."}, [LABOUR], ["Kelmu"]
    web.login("employee")
    page = web.client.get(f"/codes/{code_id(host, KELA)}").get_data(as_text=True)
    assert code(host, KELA).description["fi"][:60] in page
    assert "Ei tulorekisterin katselu." in page and f'href="/codes/{code_id(host, LABOUR)}"' in page
    assert "Kelmu" in page and f"/catalog/{code_id(host, KELA)}/edit" not in page


def test_an_employee_cannot_open_or_use_the_editor(web, host):
    web.login("employee")
    target = code_id(host, LABOUR)
    for path in (
        "/catalog/new",
        f"/catalog/{target}/edit",
        f"/catalog/{target}/replace",
        f"/catalog/{target}/withdraw",
    ):
        assert web.client.get(path).status_code == 403
    response = web.post(f"/catalog/{target}/edit", {"agency": "X", "name_fi": "Muutettu"}, token_from="/catalog")
    assert response.status_code == 403 and code(host, LABOUR).name["fi"] != "Muutettu"


def test_another_organisation_cannot_see_or_edit_the_code(web, host):
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
    target = code_id(host, LABOUR)
    assert web.client.get(f"/codes/{target}").status_code == 404
    assert web.client.get(f"/catalog/{target}/edit").status_code == 404
    assert code(host, LABOUR).name["fi"] not in web.client.get("/catalog").get_data(as_text=True)


def test_the_pääkäyttäjä_creates_a_code_and_sees_the_guides_advice(web, host):
    web.login("admin")
    response = web.post(
        "/catalog/new",
        {
            "key": "merilahti_oma_koodi",
            "name_fi": "Rakennusvalvonnan asiointi",
            "description_fi": "Käyttäjä voi kirjautua Lupapisteeseen ja klikata Lähetä-painiketta.",
            "mandate_type": "transaction",
            "status": "draft",
        },
        token_from="/catalog/new",
    )
    assert response.status_code == 303
    created = code(host, "merilahti_oma_koodi")
    assert created.status == "draft" and created.name == {"fi": "Rakennusvalvonnan asiointi"}
    page = web.client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="advice-title"' in page and "<li>" in page.split('id="advice-title"')[1].split("</section>")[0]


def test_a_code_in_use_shows_its_locked_fields_and_refuses_a_forged_change(web, host, people):
    held(host, people["employee"], KELA)
    web.login("admin")
    target = code_id(host, KELA)
    page = web.client.get(f"/catalog/{target}/edit").get_data(as_text=True)
    assert 'name="name_fi"' not in page and 'name="key"' not in page and f"/catalog/{target}/replace" in page
    before = code(host, KELA)
    forged = web.post(
        f"/catalog/{target}/edit",
        {"name_fi": "Muutettu nimi", "agency": "Kela", "mandate_type": "transaction", "services": "Kelmu"},
        token_from=f"/catalog/{target}/edit",
    )
    assert forged.status_code == 409 and code(host, KELA).name == before.name
    assert code(host, KELA).services == before.services and "Kelmu" not in before.services
    allowed = web.post(
        f"/catalog/{target}/edit",
        {"agency": "Kela", "mandate_type": "transaction", "services": "Kelmu\nKelan asiointipalvelu"},
        token_from=f"/catalog/{target}/edit",
    )
    assert allowed.status_code == 303 and code(host, KELA).services == ["Kelmu", "Kelan asiointipalvelu"]


def test_replace_then_remove_through_the_pages_revokes_and_tells_the_holder_the_replacement(web, host, people):
    authorization_id = held(host, people["employee"], KELA)
    web.login("admin")
    old = code_id(host, KELA)
    response = web.post(
        f"/catalog/{old}/replace",
        {
            "key": "kela_etuustiedot_2027",
            "name_fi": "Etuustietojen katselu",
            "mandate_type": "transaction",
            "agency": "Kela",
        },
        token_from=f"/catalog/{old}/replace",
    )
    assert response.status_code == 303 and f"/catalog/{old}/withdraw" in response.headers["Location"]
    confirm = web.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "kela_etuustiedot_2027" in confirm and "1 voimassa oleva valtuus" in confirm
    unconfirmed = web.post(f"/catalog/{old}/withdraw", {"policy": "removed"}, token_from=f"/catalog/{old}/withdraw")
    assert unconfirmed.status_code == 422 and code(host, KELA).status == "active"
    done = web.post(
        f"/catalog/{old}/withdraw", {"policy": "removed", "confirm": "1"}, token_from=f"/catalog/{old}/withdraw"
    )
    assert done.status_code == 303 and code(host, KELA).status == "withdrawn"
    with host.db.reader() as s:
        assert s.get(Authorization, authorization_id).status == "revoking"
        note = s.scalars(
            select(Notification).where(
                Notification.kind == "code_withdrawn", Notification.recipient_id == people["employee"]
            )
        ).one()
    assert note.context["replacement"]["key"] == "kela_etuustiedot_2027"
    page = web.client.get(f"/codes/{old}").get_data(as_text=True)
    assert f'href="/codes/{code_id(host, "kela_etuustiedot_2027")}"' in page


def test_hiding_through_the_pages_keeps_the_authorization_and_drops_the_code_from_the_request_form(web, host, people):
    authorization_id = held(host, people["employee"], KELA)
    web.login("admin")
    target = code_id(host, KELA)
    assert (
        web.post(
            f"/catalog/{target}/withdraw",
            {"policy": "hidden", "confirm": "1"},
            token_from=f"/catalog/{target}/withdraw",
        ).status_code
        == 303
    )
    with host.db.reader() as s:
        assert s.get(Authorization, authorization_id).status == "active"
        assert s.scalar(select(func.count(ProcessInstance.id))) == 0
    web.login("employee")
    form = web.client.get("/requests/new").get_data(as_text=True)
    assert f'id="codes-{target}"' not in form and f'id="codes-{code_id(host, LABOUR)}"' in form


def test_the_api_patch_refuses_a_locked_field_on_a_code_in_use_with_a_409(client, host, people):
    held(host, people["employee"], KELA, status="expired")
    with host.db.reader() as s:
        organisation_id = s.get(Person, people["employee"]).organisation_id
    _id, token = make_token(host, organisation_id, scopes=["catalog"])
    _id, reader = make_token(host, organisation_id, scopes=["read"])
    target, before = code_id(host, KELA), code(host, KELA)
    assert client.patch(f"/api/v1/codes/{target}", json={"agency": "X"}, headers=bearer(reader)).status_code == 403
    refused = client.patch(
        f"/api/v1/codes/{target}", json={"name": {"fi": "Uusi"}, "services": ["Kelmu"]}, headers=bearer(token)
    )
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["fields"] == ["name"] and code(host, KELA).services == before.services
    changed = client.patch(f"/api/v1/codes/{target}", json={"services": ["Kelmu"]}, headers=bearer(token))
    assert changed.status_code == 200 and changed.get_json()["services"] == ["Kelmu"]
    unused = client.patch(
        f"/api/v1/codes/{code_id(host, LABOUR)}", json={"name": {"fi": "Uusi nimi"}}, headers=bearer(token)
    )
    assert unused.status_code == 200 and code(host, LABOUR).name == {"fi": "Uusi nimi"}


def test_the_api_starts_no_request_for_a_hidden_code(client, host, people):
    from tests.conftest import request_form

    with host.db.unit_of_work() as s:
        s.get(AuthorizationCode, code_id(host, KELA)).status = "hidden"
        organisation_id = s.get(Person, people["employee"]).organisation_id
    _id, token = make_token(host, organisation_id, scopes=["requests"])
    body = {"holder_id": people["employee"], **request_form([code_id(host, KELA)])}
    response = client.post("/api/v1/requests", json=body, headers=bearer(token))
    assert response.status_code == 422
    with host.db.reader() as s:
        assert s.scalar(select(func.count(ProcessInstance.id))) == 0
