"""The registry pages as each role meets them: scope, filters in the URL, summary, person and code pages, export."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import openpyxl
import pytest
from sqlalchemy import select

from engine.models import AuthorizationCode, Person, Unit
from tests.engine.test_overview import grant


@pytest.fixture
def seeded(host, people):
    today = date.today()
    with host.db.unit_of_work() as s:
        keys = list(s.scalars(select(AuthorizationCode.key).order_by(AuthorizationCode.id)))
        grant(s, people["employee"], keys[0], end=today + timedelta(days=20), notes="=HYPERLINK(\"http://x\")")
        grant(s, people["anstalld"], keys[1], end=today + timedelta(days=300))
        other_unit = s.scalar(select(Unit.id).where(Unit.key == "varhaiskasvatus"))
        names = {p: s.get(Person, people[p]).name for p in ("employee", "anstalld")}
    return {"other_unit": other_unit, "names": names}


def test_the_main_administrator_sees_everyone_and_can_filter_by_url(web, seeded):
    web.login("admin")
    page = web.client.get("/authorizations").get_data(as_text=True)
    assert seeded["names"]["employee"] in page and seeded["names"]["anstalld"] in page
    filtered = web.client.get(f"/authorizations?unit={seeded['other_unit']}").get_data(as_text=True)
    assert seeded["names"]["anstalld"] in filtered and seeded["names"]["employee"] not in filtered
    assert f'<option value="{seeded["other_unit"]}" selected>' in filtered  # the form shows the state of the URL


def test_a_director_never_sees_another_units_authorizations_even_when_asking_for_them(web, people, seeded):
    web.login("director")
    page = web.client.get(f"/authorizations?unit={seeded['other_unit']}").get_data(as_text=True)
    assert seeded["names"]["anstalld"] not in page
    assert f'href="/people/{people["employee"]}"' not in page  # no row (the name is still a filter choice)
    assert f'href="/people/{people["employee"]}"' in web.client.get("/authorizations").get_data(as_text=True)


def test_an_employee_is_sent_to_their_own_authorizations(web, seeded):
    web.login("employee")
    response = web.client.get("/authorizations?status=active")
    assert response.status_code == 303 and response.headers["Location"].startswith("/authorizations/mine")
    page = web.client.get("/authorizations/mine").get_data(as_text=True)
    assert "Omat valtuudet" in page
    assert seeded["names"]["anstalld"] not in page
    assert web.client.get("/overview").status_code == 303


def test_nonsense_in_the_address_is_reported_and_ignored(web, people, seeded):
    web.login("admin")
    response = web.client.get("/authorizations?sort=password&unit=abc")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Osoitteen suodattimia ei ymmärretty, eikä niitä käytetty: unit, sort" in page
    assert f'href="/people/{people["employee"]}"' in page


def test_person_pages_are_visible_only_within_the_readers_scope(web, people, seeded):
    web.login("director")
    assert web.client.get(f"/people/{people['anstalld']}").status_code == 404
    assert web.client.get(f"/people/{people['employee']}").status_code == 200
    web.login("employee")
    assert web.client.get(f"/people/{people['supervisor']}").status_code == 404
    assert web.client.get(f"/people/{people['employee']}").status_code == 200
    web.login("admin")
    page = web.client.get(f"/people/{people['anstalld']}").get_data(as_text=True)
    assert seeded["names"]["anstalld"] in page


def test_the_summary_draws_accessible_charts_with_the_same_figures_as_tables(web, seeded):
    web.login("admin")
    page = web.client.get("/overview").get_data(as_text=True)
    assert page.count('role="img"') == 5
    assert "<title id=\"chart-status-title\">" in page and "<caption>" in page
    assert "Voimassa: 2" in page  # the chart's description carries the figure, not only the bar's length


def test_the_code_page_lists_holders_for_managers_only(web, seeded, host):
    with host.db.reader() as s:
        code_id = s.scalar(select(AuthorizationCode.id).order_by(AuthorizationCode.id))
    web.login("admin")
    assert seeded["names"]["employee"] in web.client.get(f"/codes/{code_id}").get_data(as_text=True)
    web.login("supervisor")
    page = web.client.get(f"/codes/{code_id}").get_data(as_text=True)
    assert response_ok(page) and seeded["names"]["employee"] not in page


def response_ok(page: str) -> bool:
    return "<h1>" in page and "Virhe" not in page


def test_csv_export_is_what_finnish_excel_expects_and_neutralises_formulas(web, seeded):
    web.login("admin")
    response = web.client.get("/authorizations/export.csv?sort=holder")
    assert response.status_code == 200
    body = response.data
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:4] == ["Nimi", "Sähköposti", "Yksikkö", "Valtuuskoodi"]
    assert len(rows) == 3
    notes = [r[-1] for r in rows[1:] if r[-1]]
    assert notes == ["'=HYPERLINK(\"http://x\")"]


def test_xlsx_export_holds_the_filtered_view_only(web, seeded):
    web.login("admin")
    response = web.client.get(f"/authorizations/export.xlsx?unit={seeded['other_unit']}")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 2 and values[1][0] == seeded["names"]["anstalld"]


def test_a_directors_export_holds_only_their_units(web, seeded):
    web.login("director")
    body = web.client.get("/authorizations/export.csv").data.decode("utf-8-sig")
    assert seeded["names"]["employee"] in body and seeded["names"]["anstalld"] not in body


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_exported_view_imports_back_without_changing_anything(web, seeded, runner, tmp_path, fmt):
    from web.cli import main

    web.login("admin")
    path = tmp_path / f"valtuudet.{fmt}"
    path.write_bytes(web.client.get(f"/authorizations/export.{fmt}").data)
    result = runner.invoke(main, args=["import", str(path), "--language", "en"])
    assert result.exit_code == 0, result.output
    assert "create 0, update 0, unchanged 2, rejected 0" in result.output
