"""Lists kept as a matrix – people on rows, one column per authorization code – import like any other list."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
from sqlalchemy import select

from engine.importer import plan_import
from engine.models import AuthorizationCode, Organisation

TODAY = date(2026, 11, 22)


def matrix_xlsx(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Suomi.fi-valtuudet / Talouspalvelut"])
    sheet.append([])
    sheet.append(["Nimi", "Sähköposti", "Päättyy", "Palkkatietojen ilmoittaminen", "Veroilmoittaminen",
                  "Tulliselvitys – huom"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def plan(host, data: bytes):
    with host.db.reader() as s:
        org = s.scalar(select(Organisation.id))
        codes = {c.id: c.key for c in s.scalars(select(AuthorizationCode))}
        return plan_import(s, org, data, "matriisi.xlsx", today=TODAY), codes


def test_each_marked_cell_becomes_an_authorization_of_that_column_s_code(host):
    data = matrix_xlsx([
        ["Emilia Esimerkki", "employee@merilahti.example", datetime(2027, 12, 31), "x", "X", None],
        ["Sami Esihenkilö", "supervisor@merilahti.example", datetime(2027, 6, 30), "", "✓", "ei"],
        ["Sofia Lindqvist", "anstalld@merilahti.example", None, "31.3.2027", None, None],
    ])
    result, codes = plan(host, data)
    assert result.issues == []
    created = sorted((r.row, codes[r.code_id], r.valid_until) for r in result.rows if r.action == "create")
    assert created == [
        (4, "tulorekisteri_palkkatietojen_ilmoittaminen", date(2027, 12, 31)),
        (4, "vero_veroilmoittaminen", date(2027, 12, 31)),
        (5, "vero_veroilmoittaminen", date(2027, 6, 30)),
        (6, "tulorekisteri_palkkatietojen_ilmoittaminen", date(2027, 3, 31)),  # the date in the cell
    ]
    assert result.counts["rejected"] == 0


def test_a_matrix_without_any_code_column_is_refused_as_a_file_without_codes(host):
    book = openpyxl.Workbook()
    book.active.append(["Nimi", "Sähköposti", "Jotain muuta"])
    book.active.append(["Emilia Esimerkki", "employee@merilahti.example", "x"])
    buffer = io.BytesIO()
    book.save(buffer)
    result, _codes = plan(host, buffer.getvalue())
    assert [i.code for i in result.issues] == ["missing_column"]
