"""The pääkäyttäjä's registry path in headless Chromium: import a spreadsheet, filter, summary; a director's view."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.web.test_browser import base_url, page, sign_in, sign_out  # noqa: F401  (fixtures)

ADMIN, DIRECTOR = "Pia Pääkäyttäjä", "Daniela Johtaja"


def spreadsheet(tmp_path) -> str:
    soon = date.today() + timedelta(days=20)
    later = date.today() + timedelta(days=400)
    fi = lambda d: f"{d.day}.{d.month}.{d.year}"  # noqa: E731
    text = (
        "Valtuudet, Merilahden kaupunki (päivitetty käsin)\n"
        "\n"
        "Nimi;Sähköposti;Yksikkö;Valtuus;Alkaa;Päättyy;Huomautukset\n"
        "Emilia Esimerkki;employee@merilahti.example;Talouspalvelut;Palkkatietojen ilmoittaminen;1.3.2025;"
        f"{fi(soon)};\n"
        f"Sofia Lindqvist;anstalld@merilahti.example;Varhaiskasvatus;Veroilmoittaminen;1.1.2025;{fi(later)};\n"
        f"Sofia Lindqvist;anstalld@merilahti.example;Varhaiskasvatus;Veroilmotus;1.1.2025;{fi(later)};\n"
    )
    path = tmp_path / "valtuudet.csv"
    path.write_bytes(text.encode("utf-8-sig"))
    return str(path)


@pytest.mark.browser
def test_the_main_administrator_imports_a_list_and_sees_the_whole_picture(page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    page.goto("/login")
    page.locator('header button[value="en"]').click()
    sign_in(page, ADMIN)
    page.get_by_role("navigation").get_by_role("link", name="Authorizations", exact=True).click()
    page.get_by_role("link", name="Import a list").click()
    page.locator("#file").set_input_files(spreadsheet(tmp_path))
    page.get_by_role("button", name="Preview").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Import preview")
    rejected = page.locator("tr.import-rejected")
    expect(rejected).to_have_count(1)
    expect(rejected).to_contain_text("Veroilmotus")
    expect(rejected).to_contain_text("Veroilmoittaminen")  # the closest name in the catalog
    page.get_by_role("button", name="Confirm the import").click()  # all or nothing: refused
    expect(page.locator(".flash-error")).to_be_visible()
    page.locator("#skip_invalid").check()
    page.get_by_role("button", name="Confirm the import").click()
    expect(page.locator(".flash-success")).to_contain_text("2 new")

    page.locator("#unit").select_option(label="Early Childhood Education")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("main table.data tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Sofia Lindqvist")
    assert "unit=" in page.url  # the view can be bookmarked
    page.reload()
    expect(rows).to_have_count(1)

    page.get_by_role("navigation").get_by_role("link", name="Summary", exact=True).click()
    expect(page.locator('svg[role="img"]')).to_have_count(5)
    expect(page.locator("#chart-status-desc")).to_contain_text("Active: 2")
    sign_out(page)

    sign_in(page, DIRECTOR)
    page.get_by_role("navigation").get_by_role("link", name="Authorizations", exact=True).click()
    rows = page.locator("main table.data tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Emilia Esimerkki")
    expect(page.get_by_role("link", name="Import a list")).to_have_count(0)
    page.goto("/registry/import")
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("403"))
    sign_out(page)

    sign_in(page, "Emilia Esimerkki")
    expect(page.get_by_role("navigation").get_by_role("link", name="Authorizations", exact=True)).to_have_count(0)
    page.get_by_role("navigation").get_by_role("link", name="My authorizations", exact=True).click()
    rows = page.locator("main table.data tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Reporting earnings payment data")  # the code in the reader's language
    expect(page.locator("main")).not_to_contain_text("Sofia Lindqvist")
