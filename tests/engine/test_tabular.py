"""Reading the spreadsheets people keep, and writing ones that are safe to open in Excel."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook

from engine.tabular import TableError, neutralise, parse_date, read_table, write_csv, write_xlsx

KNOWN = ["Nimi", "Sähköposti", "Valtuus", "Voimassa asti"]


def xlsx(rows: list[list], title: str = "Valtuudet") -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_the_header_is_found_below_title_rows_and_rows_are_numbered_as_excel_shows_them():
    data = xlsx(
        [
            ["Merilahden kaupunki – valtuusluettelo"],
            [],
            ["Nimi", " Sähköposti ", "Valtuus", "Voimassa asti"],
            ["Sofia Lindqvist ", "anstalld@merilahti.example", "Palkkatietojen katselu", datetime(2026, 2, 28)],
            [None, None, None, None],
            ["Henrik Åberg", "", "Veroilmoittaminen", 46022],
        ]
    )
    table = read_table(data, "luettelo.xlsx", known_headers=KNOWN)
    assert table.header_row == 3
    assert table.headers == ["Nimi", "Sähköposti", "Valtuus", "Voimassa asti"]
    assert [r.number for r in table.rows] == [4, 6]
    assert table.rows[0].values["Nimi"] == "Sofia Lindqvist"
    assert table.rows[0].values["Voimassa asti"] == datetime(2026, 2, 28)
    assert table.rows[1].values["Sähköposti"] is None
    assert table.rows[1].values["Voimassa asti"] == 46022


def test_without_known_headers_the_first_non_empty_row_is_the_header():
    table = read_table(xlsx([[], ["A", "B"], ["1", "2"]]), "x.xlsx")
    assert table.headers == ["A", "B"] and table.rows[0].number == 3


def test_an_explicit_header_row_and_sheet_are_used():
    workbook = Workbook()
    workbook.active.append(["ignored"])
    other = workbook.create_sheet("Lista")
    for row in (["Otsikko"], ["Yksi", "Kaksi"], ["a", "b"]):
        other.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = read_table(buffer.getvalue(), "x.xlsx", sheet="Lista", header_row=2)
    assert table.headers == ["Yksi", "Kaksi"]
    assert table.rows[0].values == {"Yksi": "a", "Kaksi": "b"} and table.rows[0].number == 3


def test_a_missing_sheet_is_named_in_the_error():
    with pytest.raises(TableError) as err:
        read_table(xlsx([["Nimi"]]), "x.xlsx", sheet="Puuttuu")
    assert err.value.code == "sheet_not_found" and err.value.params["sheet"] == "Puuttuu"


def test_repeated_headers_get_a_number():
    table = read_table(b"Nimi;Huom;Huom\r\nSofia;a;b\r\n", "x.csv")
    assert table.headers == ["Nimi", "Huom", "Huom (2)"]
    assert table.rows[0].values["Huom (2)"] == "b"


def test_windows_1252_csv_with_semicolons_is_read():
    text = (
        "Valtuusluettelo 2025\r\n"
        "Nimi;Sähköposti;Valtuus;Voimassa asti\r\n"
        "Henrik Åberg;henrik.aberg@merilahti.example;Veroilmoittaminen;31.12.2025\r\n"
    )
    table = read_table(text.encode("cp1252"), "lista.csv", known_headers=KNOWN)
    assert table.headers == ["Nimi", "Sähköposti", "Valtuus", "Voimassa asti"]
    assert table.rows[0].number == 3
    assert table.rows[0].values["Nimi"] == "Henrik Åberg"


def test_utf8_csv_with_bom_and_commas_keeps_quoted_commas_and_newlines():
    text = (
        "Nimi,Valtuus,Huomautukset\r\n"
        '"Söderberg, Elin",Etuustietojen katselu,"rivi 1\nrivi 2"\r\n'
        'Jari,"Tulli; selvitys",\r\n'
    )
    table = read_table(text.encode("utf-8-sig"), "lista.csv", known_headers=["Nimi", "Valtuus"])
    assert table.headers == ["Nimi", "Valtuus", "Huomautukset"]
    assert table.rows[0].values["Nimi"] == "Söderberg, Elin"
    assert table.rows[0].values["Huomautukset"] == "rivi 1\nrivi 2"
    assert table.rows[1].number == 3 and table.rows[1].values["Valtuus"] == "Tulli; selvitys"


def test_tab_separated_text_is_read():
    table = read_table(b"Nimi\tValtuus\nSofia\tVeroilmoittaminen\n", "lista.txt")
    assert table.rows[0].values == {"Nimi": "Sofia", "Valtuus": "Veroilmoittaminen"}


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"Nimi;Valtuus\r\n", "lista.xlsx", "not_xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "lista.xls", "xls_not_supported"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "lista.csv", "xls_not_supported"),
        (b"%PDF-1.7", "lista.pdf", "unknown_file_type"),
        (b"Nimi\x00\x01\x02", "lista.csv", "not_text"),
        (b"PK\x03\x04 not really a zip", "lista.xlsx", "unreadable_file"),
        (b"", "lista.csv", "no_header_row"),
    ],
)
def test_files_that_are_not_spreadsheets_are_refused_with_a_reason(data, filename, code):
    with pytest.raises(TableError) as err:
        read_table(data, filename)
    assert err.value.code == code
    assert filename in str(err.value)


def test_a_formula_in_an_uploaded_workbook_is_never_evaluated():
    table = read_table(xlsx([["Nimi", "Valtuus"], ["=1+1", "=HYPERLINK(\"http://x\")"]]), "x.xlsx")
    assert table.rows == []  # no cached value: nothing was computed, nothing came through


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.3.2025", date(2025, 3, 1)),
        ("01.03.2025.", date(2025, 3, 1)),
        ("1.3.25", date(2025, 3, 1)),
        ("1.3.2025 0:00:00", date(2025, 3, 1)),
        ("2025-03-01", date(2025, 3, 1)),
        ("2025-03-01T12:30", date(2025, 3, 1)),
        ("1/3/2025", date(2025, 3, 1)),
        (45658, date(2025, 1, 1)),
        (45658.75, date(2025, 1, 1)),
        ("45717", date(2025, 3, 1)),
        (datetime(2025, 3, 1, 8, 0), date(2025, 3, 1)),
        (date(2025, 3, 1), date(2025, 3, 1)),
        ("toistaiseksi", None),
        ("Tills vidare", None),
        ("until further notice", None),
        ("–", None),
        ("-", None),
        (None, None),
        ("", None),
    ],
)
def test_dates_are_read_as_people_write_them_in_finland(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["31.2.2025", "ensi vuonna", "3/1/25", "1.3.2025 klo 8", "2025-13-01", 0, True])
def test_garbage_is_not_a_date(value):
    with pytest.raises(ValueError):
        parse_date(value)


def test_text_a_spreadsheet_would_run_is_neutralised():
    assert [neutralise(v) for v in ("=1+1", "+358", "-5", "@SUM(A1)", "\tx", "\rx")] == [
        "'=1+1",
        "'+358",
        "'-5",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
    ]
    assert neutralise("Sofia") == "Sofia" and neutralise(5) == 5 and neutralise(None) is None


def test_write_csv_is_excel_ready_finnish_and_safe():
    data = write_csv(
        ["Nimi", "Alkaa", "Huom"],
        [['=HYPERLINK("http://evil.example","klikkaa")', date(2025, 3, 1), None], ["Åsa; Ö", date(2026, 12, 31), 3]],
    )
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.split("\r\n")[0] == "Nimi;Alkaa;Huom"
    assert text.split("\r\n")[1] == "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"klikkaa\"\")\";1.3.2025;"
    assert text.split("\r\n")[2] == '"Åsa; Ö";31.12.2026;3'
    back = read_table(data, "vienti.csv")
    assert back.rows[0].values["Nimi"].startswith("'=HYPERLINK(")


def test_write_xlsx_has_a_bold_frozen_header_real_dates_and_no_formulas():
    data = write_xlsx(
        ["Nimi", "Päättyy"],
        [['=HYPERLINK("http://evil.example","klikkaa")', date(2026, 2, 28)], ["Elin Söderberg", None]],
        title="Valtuudet: Merilahti / 2025",
    )
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.worksheets[0]
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].font.b and sheet["A1"].value == "Nimi"
    assert sheet["A2"].data_type == "s" and sheet["A2"].value.startswith("'=HYPERLINK(")
    assert sheet["B2"].is_date and sheet["B2"].number_format == "d.m.yyyy"
    assert sheet.column_dimensions["A"].width > 20
    table = read_table(data, "vienti.xlsx")
    assert table.rows[0].values["Päättyy"] == datetime(2026, 2, 28)
    assert table.rows[1].values == {"Nimi": "Elin Söderberg", "Päättyy": None}
