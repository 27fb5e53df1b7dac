"""Import and Suomi.fi comparison through the pages: upload → preview → confirm, as the pääkäyttäjä only."""

from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from engine.directory import upsert_organisation
from engine.models import AuditEvent, Authorization, ImportUpload, Person

LIST = """Nimi;Sähköposti;Yksikkö;Valtuus;Alkaa;Päättyy;Huomautukset
Emilia Esimerkki; EMPLOYEE@merilahti.example ;Talouspalvelut;Palkkatietojen ilmoittaminen;1.3.2025;28.2.2027;
Sofia Lindqvist;anstalld@merilahti.example;Varhaiskasvatus;Veroilmoittaminen;2025-01-01;toistaiseksi;vanha lista
Sofia Lindqvist;anstalld@merilahti.example;Varhaiskasvatus;Veroilmotus;2025-01-01;31.12.2026;
"""
FINGERPRINT = re.compile(r'name="fingerprint" value="([^"]*)"')


def upload(web, body: str = LIST, name: str = "valtuudet.csv", path: str = "/registry/import", **extra):
    data = {"csrf_token": web.token(path), "file": (io.BytesIO(body.encode("utf-8-sig")), name), **extra}
    return web.client.post(path, data=data, content_type="multipart/form-data")


def counts(host) -> tuple[int, int, int]:
    with host.db.reader() as s:
        return (
            s.scalar(select(func.count()).select_from(Authorization)),
            s.scalar(select(func.count()).select_from(AuditEvent)),
            s.scalar(select(func.count()).select_from(ImportUpload)),
        )


def preview(web, response) -> tuple[str, str]:
    assert response.status_code == 303, response.get_data(as_text=True)[:1500]
    location = response.headers["Location"]
    page = web.client.get(location).get_data(as_text=True)
    return location, page


def test_the_preview_names_each_rejected_row_and_its_reason_and_writes_nothing(web, host):
    web.login("admin")
    before = counts(host)
    location, page = preview(web, upload(web))
    assert "Veroilmotus" in page and "Veroilmoittaminen" in page  # the unknown code and the closest suggestion
    assert "<th scope=\"row\">4</th>" in page  # the row number as the pääkäyttäjä sees it in Excel
    assert counts(host)[:2] == before[:2]


def test_an_import_with_rejected_rows_is_all_or_nothing_until_skipping_is_chosen(web, host):
    web.login("admin")
    location, page = preview(web, upload(web))
    fingerprint = FINGERPRINT.search(page).group(1)
    refused = web.post(location, {"fingerprint": fingerprint})
    assert refused.status_code == 303
    assert counts(host)[0] == 0
    done = web.post(location, {"fingerprint": fingerprint, "skip_invalid": "1"})
    assert done.status_code == 303 and done.headers["Location"].startswith("/authorizations")
    with host.db.reader() as s:
        rows = s.scalars(select(Authorization)).all()
        assert len(rows) == 2 and {r.source for r in rows} == {"import"}
        assert s.scalar(select(func.count()).select_from(ImportUpload)) == 0  # the upload is not kept
        assert s.scalar(select(func.count()).where(AuditEvent.action == "import.completed")) == 1


def test_a_preview_confirmed_after_the_registry_changed_is_not_applied(web, host, people, codes):
    web.login("admin")
    location, page = preview(web, upload(web, LIST.splitlines()[0] + "\n" + LIST.splitlines()[1] + "\n"))
    fingerprint = FINGERPRINT.search(page).group(1)
    with host.db.unit_of_work() as s:
        s.add(Authorization(organisation_id=s.get(Person, people["admin"]).organisation_id,
                            holder_id=people["admin"], code_id=codes[5], status="active"))
    response = web.post(location, {"fingerprint": fingerprint})
    assert response.status_code == 303 and response.headers["Location"] == location
    assert counts(host)[0] == 1  # only the row added meanwhile
    assert "flash-error" in web.client.get(location).get_data(as_text=True)  # told why, shown the new preview


def test_only_the_main_administrator_may_import(web, host):
    for who in ("director", "employee"):
        web.login(who)
        assert web.client.get("/registry/import").status_code == 403
        assert upload(web, path="/registry/import").status_code in (400, 403)
        assert web.client.get("/registry/reconcile").status_code == 403
    assert counts(host)[2] == 0


def test_files_that_are_not_spreadsheets_are_refused_with_a_reason(web, host):
    web.login("admin")
    response = upload(web, "MZ\x90\x00 not a list", name="virus.exe")
    assert response.status_code == 400
    assert "xlsx" in response.get_data(as_text=True)
    fake = upload(web, "just text", name="list.xlsx")  # content sniffing refuses it before anything is stored
    assert fake.status_code == 400 and "xlsx" in fake.get_data(as_text=True)
    assert counts(host)[0] == 0 and counts(host)[2] == 0


def test_an_upload_without_the_form_token_is_refused(web, host):
    web.login("admin")
    response = web.client.post("/registry/import", data={"file": (io.BytesIO(b"x"), "a.csv")},
                               content_type="multipart/form-data")
    assert response.status_code == 400 and counts(host)[2] == 0


def test_another_organisations_administrator_cannot_see_or_confirm_an_upload(web, host):
    web.login("admin")
    location, page = preview(web, upload(web))
    fingerprint = FINGERPRINT.search(page).group(1)
    with host.db.unit_of_work() as s:
        upsert_organisation(s, {
            "organisation": {"key": "toinen", "name": {"fi": "Toinen kunta"}, "business_id": "0000000-0"},
            "units": [{"key": "hallinto", "name": {"fi": "Hallinto"}}],
            "people": [{"email": "boss@toinen.example", "name": "Toisen Pomo", "unit": "hallinto",
                        "roles": ["administrator"]}],
        })
        other = s.scalar(select(Person.id).where(Person.email == "boss@toinen.example"))
    web.people["boss"] = other
    web.login("boss")
    assert web.client.get(location).status_code == 404
    assert web.post(location, {"fingerprint": fingerprint, "skip_invalid": "1"}, token_from="/").status_code == 404
    assert counts(host)[0] == 0


def test_the_suomifi_comparison_lists_differences_and_acts_on_one_line_at_a_time(web, host, people):
    from datetime import date, timedelta

    from engine.models import AuthorizationCode

    today = date.today()
    later, much_later = today + timedelta(days=200), today + timedelta(days=400)
    fi = lambda d: f"{d.day}.{d.month}.{d.year}"  # noqa: E731
    with host.db.unit_of_work() as s:
        codes = {c.key: c for c in s.scalars(select(AuthorizationCode))}
        org = s.get(Person, people["admin"]).organisation_id
        held = (("henrik.aberg", "vero_veroilmoittaminen"), ("jari.hamalainen", "tulli_tulliselvittaminen"))
        for holder, code in held:
            s.add(Authorization(organisation_id=org, holder_id=people[holder], code_id=codes[code].id,
                                status="active", mandate_type="transaction", valid_from=today, valid_until=later))
    suomifi = (
        "Valtuutettu;Valtuusasia;Alkaa;Päättyy;Tila\n"
        f"Henrik Åberg;Veroilmoittaminen;{fi(today)};{fi(much_later)};Voimassa\n"
        f"Söderberg Elin;{codes['kela_etuustietojen_katselu_ja_maksuvaatimusten_rekisterointi'].name['fi']};"
        f"{fi(today)};{fi(later)};Voimassa\n"
        f"Tuntematon Henkilö;Veroilmoittaminen;{fi(today)};{fi(later)};Voimassa\n"
    )
    web.login("admin")
    location, page = preview(web, upload(web, suomifi, name="suomifi.csv", path="/registry/reconcile"))
    assert "Söderberg" in page and "Tuntematon" in page
    assert page.count('value="add"') == 1 and page.count('value="align"') == 1 and page.count('value="close"') == 1
    add_key = re.search(r'name="key" value="([^"]+)">\s*<button type="submit" name="action" value="add"', page).group(1)
    before = counts(host)[0]
    response = web.post(location, {"action": "add", "key": add_key})
    assert response.status_code == 303
    assert counts(host)[0] == before + 1
    again = web.post(location, {"action": "add", "key": add_key})  # the line is gone: nothing twice
    assert again.status_code == 303 and counts(host)[0] == before + 1
    assert web.post(location, {"action": "drop-table", "key": add_key}).status_code == 400
    with host.db.reader() as s:
        added = s.scalar(select(Authorization).where(Authorization.holder_id == people["elin.soderberg"]))
        assert added.source == "reconciliation" and added.valid_until == later
