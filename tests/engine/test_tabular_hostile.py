"""Hostile spreadsheets: an .xlsx whose XML declares entities is refused, not expanded."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from engine.tabular import TableError, read_table


def xlsx_with_sheet_xml(sheet_xml: bytes) -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["Nimi", "Valtuus"])
    plain = io.BytesIO()
    book.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain.getvalue())) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = sheet_xml if item.filename == "xl/worksheets/sheet1.xml" else src.read(item.filename)
            dst.writestr(item, data)
    return out.getvalue()


def test_an_xlsx_with_an_entity_bomb_is_refused_without_expanding_it():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row></sheetData></worksheet>'
    )
    with pytest.raises(TableError):
        read_table(xlsx_with_sheet_xml(bomb), "pommi.xlsx")


def test_an_xlsx_that_reads_a_local_file_through_an_external_entity_is_refused():
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>&secret;</t></is></c></row></sheetData></worksheet>'
    )
    try:
        table = read_table(xlsx_with_sheet_xml(xxe), "xxe.xlsx")
    except TableError:
        return
    assert all("root:" not in str(v) for row in table.rows for v in row.values.values())
    assert all("root:" not in h for h in table.headers)
