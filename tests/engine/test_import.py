"""Importing the authorization list a pääkäyttäjä has kept in Excel: plan, confirm, and nothing twice."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from engine.errors import EngineError
from engine.importer import (
    EXPORT_HEADERS,
    ISSUE_TEXT,
    ImportRefused,
    Issue,
    MappingError,
    apply_import,
    load_mapping,
    plan_import,
)
from engine.models import AuditEvent, Authorization, AuthorizationCode, Organisation, Person, Unit
from engine.tabular import write_csv, write_xlsx

TODAY = date(2025, 6, 1)
NOW = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
HEADERS = ["Nimi", "Sähköposti ", "Toimiala/Yksikkö", "Valtuus", "Tyyppi", "Myönnetty", "Voimassa asti", "Tila"]


def workbook(rows: list[list], headers: list[str] = HEADERS, title_rows: int = 2) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["Merilahden kaupunki – Suomi.fi-valtuudet (päivitetty 5/2025)"])
    for _ in range(title_rows - 1):
        sheet.append([])
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# The list as it is kept: header on row 3, mixed date formats, odd e-mails, a typo and a duplicate.
MESSY_ROWS = [
    # row 4: e-mail with spaces and capitals, Finnish dates as text
    ["Sofia Lindqvist", "  Anstalld@Merilahti.EXAMPLE ", "Småbarnspedagogik", "Palkkatietojen ilmoittaminen",
     "Asiointivaltuus", "1.3.2025", "2026-02-28", "voimassa"],
    # row 5: code by key, start as an Excel serial number, end as a date cell, Swedish mandate type
    ["Henrik Åberg", "henrik.aberg@merilahti.example", "Sivistystoimi", "vero_veroilmoittaminen",
     "ärendefullmakt", 45717, datetime(2025, 12, 31), ""],
    # row 6: no e-mail, "Sukunimi Etunimi", unit in Swedish: matched by name within the unit; open-ended
    ["Söderberg Elin", None, "Sysselsättnings- och integrationstjänster",
     "Etuustietojen katselu ja maksuvaatimusten rekisteröinti", None, datetime(2025, 1, 15), "toistaiseksi",
     "Gällande"],
    # row 7: a typo in the code
    ["Tiina Mäkelä", "tiina.makela@merilahti.example", "Konsernipalvelut", "Palkkatietojen ilmoitus",
     None, "1.3.2025", "28.2.2026", None],
    # row 8: the same as row 4 again
    ["Sofia Lindqvist", "anstalld@merilahti.example", "Varhaiskasvatus", "Palkkatietojen ilmoittaminen",
     None, "1.3.2025", "28.2.2026", "voimassa"],
    # row 9: history: an expired mandate
    ["Jari Hämäläinen", "JARI.HAMALAINEN@merilahti.example", "Työllisyys- ja kotoutumispalvelut", "Tulliselvittäminen",
     None, "1.3.2020", "28.2.2023", "päättynyt"],
    # row 10: empty, skipped
    [None, None, None, None, None, None, None, None],
    # row 11: two-digit years
    ["Mikael Holmström", "mikael.holmstrom@merilahti.example", "Koncernservice", "tulorekisteri_palkkatietojen_katselu",
     "valtuutusoikeus", "1.1.25", "31.12.25", "aktiivinen"],
]  # fmt: skip

VALID_ROWS = [r for i, r in enumerate(MESSY_ROWS) if i not in (3, 4)]


def counts(host) -> tuple[int, int, int]:
    with host.db.reader() as s:
        return (
            s.scalar(select(func.count()).select_from(Authorization)),
            s.scalar(select(func.count()).select_from(AuditEvent)),
            s.scalar(select(func.count()).select_from(Person)),
        )


def org_id(host) -> int:
    with host.db.reader() as s:
        return s.scalar(select(Organisation.id))


def plan(host, data: bytes, filename: str = "valtuudet.xlsx", **options):
    with host.db.reader() as s:
        return plan_import(s, org_id(host), data, filename, today=TODAY, **options)


def apply(host, data: bytes, filename: str = "valtuudet.xlsx", *, plan_options=None, **options):
    with host.db.unit_of_work() as s:
        result = plan_import(s, org_id(host), data, filename, today=TODAY, **(plan_options or {}))
        return result, apply_import(s, org_id(host), result, actor_id=None, now=NOW, **options)


def by_row(result) -> dict:
    return {r.row: r for r in result.rows}


def code_id(host, key: str) -> int:
    with host.db.reader() as s:
        return s.scalar(select(AuthorizationCode.id).where(AuthorizationCode.key == key))


def test_a_messy_list_is_planned_row_by_row(host, people):
    result = plan(host, workbook(MESSY_ROWS))
    rows = by_row(result)
    assert sorted(rows) == [4, 5, 6, 7, 8, 9, 11]
    assert result.counts == {"create": 5, "update": 0, "unchanged": 0, "rejected": 2}
    assert result.columns["email"] == "Sähköposti" and result.columns["unit"] == "Toimiala/Yksikkö"

    sofia = rows[4]
    assert (sofia.action, sofia.person_id, sofia.status) == ("create", people["anstalld"], "active")
    assert (sofia.valid_from, sofia.valid_until) == (date(2025, 3, 1), date(2026, 2, 28))
    assert sofia.code_id == code_id(host, "tulorekisteri_palkkatietojen_ilmoittaminen")

    henrik = rows[5]
    assert henrik.person_id == people["henrik.aberg"] and henrik.mandate_type == "transaction"
    assert (henrik.valid_from, henrik.valid_until) == (date(2025, 3, 1), date(2025, 12, 31))

    elin = rows[6]
    assert elin.action == "create" and elin.person_id == people["elin.soderberg"]
    assert elin.valid_until is None and [w.code for w in elin.warnings] == ["open_ended"]

    typo = rows[7]
    assert typo.action == "rejected" and typo.issues[0].code == "unknown_code"
    assert "Palkkatietojen ilmoittaminen" in typo.issues[0].params["suggestions"]
    assert "Palkkatietojen ilmoittaminen" in typo.issues[0].text()

    assert rows[8].action == "rejected" and rows[8].issues == [Issue("duplicate_row", {"row": 4})]
    assert (rows[9].action, rows[9].status, rows[9].person_id) == ("create", "expired", people["jari.hamalainen"])
    assert rows[11].mandate_type == "granting_right" and rows[11].valid_until == date(2025, 12, 31)
    for row in result.rows:  # every problem can be said in English
        assert all(issue.text() for issue in row.issues + row.warnings)


def test_planning_writes_nothing(host):
    before = counts(host)
    with host.db.unit_of_work() as s:  # even in a write transaction that commits
        plan_import(s, org_id(host), workbook(MESSY_ROWS), "valtuudet.xlsx", today=TODAY, create_people=True)
    assert counts(host) == before


def test_one_rejected_row_refuses_the_whole_import_and_writes_nothing(host):
    before = counts(host)
    with pytest.raises(ImportRefused) as err:
        apply(host, workbook(MESSY_ROWS))
    assert err.value.code == "import_refused" and err.value.params["counts"]["rejected"] == 2
    assert counts(host) == before


def test_skip_invalid_brings_in_the_valid_rows_with_review_dates_and_an_audit_trail(host, people):
    before = counts(host)
    result, summary = apply(host, workbook(MESSY_ROWS), skip_invalid=True)
    assert (summary.created, summary.updated, summary.skipped) == (5, 0, 2)
    assert counts(host)[0] == before[0] + 5
    with host.db.reader() as s:
        sofia = s.scalar(select(Authorization).where(Authorization.holder_id == people["anstalld"]))
        assert (sofia.status, sofia.source, sofia.notes, sofia.justification) == ("active", "import", "", "")
        assert sofia.registered_on == date(2025, 3, 1)
        assert sofia.next_review_on == date(2026, 2, 28)  # a year after registration, but never past the end
        henrik = s.scalar(select(Authorization).where(Authorization.holder_id == people["henrik.aberg"]))
        assert henrik.next_review_on == date(2025, 12, 31)
        jari = s.scalar(select(Authorization).where(Authorization.holder_id == people["jari.hamalainen"]))
        assert (jari.status, jari.next_review_on) == ("expired", None)
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))[-6:]
    assert [e.action for e in events] == ["authorization.imported"] * 5 + ["import.completed"]
    assert events[0].authorization_id == sofia.id and events[0].details["row"] == 4
    assert events[-1].details["sha256"] == result.sha256
    assert events[-1].details["counts"] == {"create": 5, "update": 0, "unchanged": 0, "rejected": 2}


def test_importing_the_same_list_twice_changes_nothing_the_second_time(host):
    data = workbook(VALID_ROWS)
    apply(host, data)
    before = counts(host)
    again, summary = apply(host, data)
    assert again.counts == {"create": 0, "update": 0, "unchanged": 5, "rejected": 0}
    assert (summary.created, summary.updated) == (0, 0)
    after = counts(host)
    assert after == (before[0], before[1] + 1, before[2])
    with host.db.reader() as s:
        assert s.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)) == "import.completed"


def test_a_changed_row_updates_the_authorization_and_records_what_changed(host, people):
    apply(host, workbook(VALID_ROWS))
    changed = [list(r) for r in VALID_ROWS]
    changed[0][6] = "31.12.2026"
    headers = [*HEADERS, "Huomautukset"]
    changed = [[*r, "- tarkistettu 5/2025" if i == 0 else None] for i, r in enumerate(changed)]
    result, summary = apply(host, workbook(changed, headers))
    sofia = by_row(result)[4]
    assert sofia.action == "update"
    assert sofia.changes == {
        "valid_until": [date(2026, 2, 28), date(2026, 12, 31)],
        "notes": ["", "- tarkistettu 5/2025"],
    }
    assert summary.updated == 1 and result.counts["unchanged"] == 4
    with host.db.reader() as s:
        row = s.get(Authorization, sofia.authorization_id)
        assert (row.valid_until, row.notes, row.next_review_on) == (
            date(2026, 12, 31),
            "- tarkistettu 5/2025",
            date(2026, 3, 1),
        )
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "authorization.import_updated"))
    assert event.authorization_id == row.id
    assert event.details["changes"]["valid_until"] == ["2026-02-28", "2026-12-31"]


def test_a_row_saying_revoked_closes_the_active_authorization(host, people):
    apply(host, workbook(VALID_ROWS))
    closed = [list(r) for r in VALID_ROWS]
    closed[1][7] = "Återkallad"
    result, _ = apply(host, workbook(closed))
    henrik = by_row(result)[5]
    assert henrik.action == "update" and henrik.changes == {"status": ["active", "revoked"]}
    with host.db.reader() as s:
        row = s.get(Authorization, henrik.authorization_id)
    assert (row.status, row.closing_reason, row.next_review_on) == ("revoked", "imported", None)


def test_an_active_row_whose_end_date_has_passed_comes_in_as_expired(host):
    rows = [["Tiina Mäkelä", "tiina.makela@merilahti.example", None, "Veroasioiden hoito", None, "1.1.2024",
             "31.5.2025", "voimassa"]]  # fmt: skip
    row = plan(host, workbook(rows)).rows[0]
    assert (row.action, row.status) == ("create", "expired")
    assert row.warnings == [Issue("expired_by_date", {"valid_until": "2025-05-31"})]


def test_a_plan_confirmed_after_the_registry_changed_is_refused(host):
    data = workbook(VALID_ROWS)
    apply(host, data)
    changed = [list(r) for r in VALID_ROWS]
    changed[0][6] = "31.12.2026"
    stale = plan(host, workbook(changed))
    with host.db.unit_of_work() as s:  # someone else edits an authorization meanwhile
        row = s.scalar(select(Authorization).order_by(Authorization.id).limit(1))
        row.notes = "muutettu muualla"
        row.updated_at = datetime.now(UTC)
    before = counts(host)
    with host.db.unit_of_work() as s, pytest.raises(ImportRefused) as err:
        apply_import(s, org_id(host), stale, actor_id=None, now=NOW)
    assert err.value.code == "stale_plan"
    assert counts(host) == before


def test_a_plan_for_another_organisation_is_not_applied(host):
    result = plan(host, workbook(VALID_ROWS))
    with host.db.unit_of_work() as s, pytest.raises(EngineError):
        apply_import(s, result.organisation_id + 1, result, actor_id=None, now=NOW)


def test_unknown_people_are_added_once_per_email_only_when_asked(host):
    rows = [
        ["Ulla Uusi", "Ulla.Uusi@merilahti.example", "Talouspalvelut", "Veroasioiden hoito", None, "1.3.2025",
         "28.2.2026", None],
        ["Ulla Uusi", "ulla.uusi@merilahti.example ", None, "Veroilmoittaminen", None, "1.3.2025", "28.2.2026", None],
        ["Nimetön Uusi", None, None, "Veroilmoittaminen", None, "1.3.2025", "28.2.2026", None],
    ]  # fmt: skip
    refused = plan(host, workbook(rows))
    assert [r.issues[0].code for r in refused.rows] == ["unknown_person", "unknown_person", "unknown_person"]

    asked = plan(host, workbook(rows), create_people=True)
    assert [r.action for r in asked.rows] == ["create", "create", "rejected"]
    assert asked.rows[2].issues == [Issue("person_without_email", {"name": "Nimetön Uusi"})]
    assert [p.email for p in asked.people_to_create] == ["ulla.uusi@merilahti.example"]
    assert asked.rows[0].warnings[0].code == "person_created"

    _, summary = apply(host, workbook(rows[:2]), plan_options={"create_people": True})
    assert (summary.people_created, summary.created) == (1, 2)
    with host.db.reader() as s:
        ulla = s.scalar(select(Person).where(Person.email == "ulla.uusi@merilahti.example"))
        unit = s.scalar(select(Unit).where(Unit.key == "talouspalvelut"))
        held = s.scalar(select(func.count()).select_from(Authorization).where(Authorization.holder_id == ulla.id))
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "person.imported"))
        assert event.details["person_id"] == ulla.id
    assert (ulla.name, ulla.unit_id, held) == ("Ulla Uusi", unit.id, 2)


def test_a_name_shared_by_two_people_needs_the_unit_or_the_email(host, people):
    with host.db.unit_of_work() as s:
        other_unit = s.scalar(select(Unit).where(Unit.key == "kuntatekniikka"))
        s.add(Person(organisation_id=org_id(host), email="sofia.lindqvist@merilahti.example", name="Sofia Lindqvist",
                     unit_id=other_unit.id))  # fmt: skip
    rows = [
        ["Sofia Lindqvist", None, None, "Veroilmoittaminen", None, "1.3.2025", "28.2.2026", None],
        ["Lindqvist, Sofia", None, "Bildningssektorn", "Veroilmoittaminen", None, "1.3.2025", "28.2.2026", None],
    ]  # fmt: skip
    first, second = plan(host, workbook(rows)).rows
    assert first.issues == [Issue("ambiguous_person", {"name": "Sofia Lindqvist"})]
    assert second.action == "create" and second.person_id == people["anstalld"]  # Varhaiskasvatus is under it


def test_a_request_in_progress_is_not_overwritten(host, people):
    with host.db.unit_of_work() as s:
        s.add(Authorization(organisation_id=org_id(host), holder_id=people["tiina.makela"],
                            code_id=code_id(host, "vero_veroasioiden_hoito"), status="approved"))  # fmt: skip
    rows = [
        ["Tiina Mäkelä", "tiina.makela@merilahti.example", None, "Veroasioiden hoito", None, "1.3.2025", "28.2.2026",
         None],
        ["Tiina Mäkelä", "tiina.makela@merilahti.example", None, "Veroilmoittaminen", None, "1.3.2025", "28.2.2026",
         "haettu"],
    ]  # fmt: skip
    blocked, requested = plan(host, workbook(rows)).rows
    assert blocked.issues == [Issue("request_in_progress", {"status": "approved"})]
    assert requested.issues == [Issue("status_not_importable", {"value": "requested"})]


@pytest.mark.parametrize(
    ("cells", "code"),
    [
        ({5: "31.2.2025"}, "bad_date"),
        ({4: "Superfullmakt"}, "bad_mandate_type"),
        ({7: "kesken"}, "bad_status"),
        ({5: "1.3.2026", 6: "1.3.2025"}, "end_before_start"),
        ({3: ""}, "missing_code"),
        ({0: None, 1: None}, "missing_person"),
    ],
)
def test_bad_values_reject_the_row_with_a_reason(host, cells, code):
    row = ["Tiina Mäkelä", "tiina.makela@merilahti.example", None, "Veroasioiden hoito", None, "1.3.2025",
           "28.2.2026", None]  # fmt: skip
    for index, value in cells.items():
        row[index] = value
    result = plan(host, workbook([row])).rows[0]
    assert result.action == "rejected" and [i.code for i in result.issues] == [code]
    if code == "bad_date":
        assert result.issues[0].params == {"column": "Myönnetty", "value": "31.2.2025"}


def test_a_mandate_over_25_years_is_flagged(host):
    row = ["Tiina Mäkelä", "tiina.makela@merilahti.example", None, "Veroasioiden hoito", None, "1.3.2025",
           "1.3.2055", None]  # fmt: skip
    result = plan(host, workbook([row])).rows[0]
    assert result.action == "create" and [w.code for w in result.warnings] == ["too_long"]


def test_a_file_without_a_code_column_is_refused_as_a_whole(host):
    result = plan(host, workbook([["Sofia Lindqvist", "x"]], headers=["Nimi", "Jotain"]))
    assert [i.code for i in result.issues] == ["missing_column"] and result.rows == []
    with host.db.unit_of_work() as s, pytest.raises(ImportRefused):
        apply_import(s, org_id(host), result, actor_id=None, now=NOW, skip_invalid=True)


def test_csv_files_plan_like_the_workbook(host):
    header = "Nimi;Sähköposti;Toimiala;Valtuus;Myönnetty;Voimassa asti;Tila\r\n"
    line = "Henrik Åberg;henrik.aberg@merilahti.example;Sivistystoimi;Veroilmoittaminen;1.3.2025;31.12.2025;voimassa"
    line += "\r\n"
    cp1252 = plan(host, ("Valtuudet\r\n" + header + line).encode("cp1252"), "lista.csv")
    bom = plan(host, (header + line).replace(";", ",").encode("utf-8-sig"), "lista.csv")
    for result, number in ((cp1252, 3), (bom, 2)):
        assert result.counts["create"] == 1 and result.rows[0].row == number
        assert result.rows[0].valid_until == date(2025, 12, 31)


def export_rows(host) -> list[list]:
    """The registry's list as the export writes it (EXPORT_HEADERS)."""
    labels = {"active": "Voimassa", "expired": "Vanhentunut", "revoked": "Peruttu"}
    types = {"transaction": "Asiointivaltuus", "granting_right": "Valtuutusoikeus"}
    with host.db.reader() as s:
        rows = s.execute(
            select(Authorization, Person, AuthorizationCode, Unit)
            .join(Person, Person.id == Authorization.holder_id)
            .join(AuthorizationCode, AuthorizationCode.id == Authorization.code_id)
            .outerjoin(Unit, Unit.id == Person.unit_id)
            .order_by(Authorization.id)
        ).all()
    return [
        [person.name, person.email, unit.name["fi"] if unit else None, code.key, types[a.mandate_type],
         a.valid_from, a.valid_until, labels[a.status], a.next_review_on, a.notes]
        for a, person, code, unit in rows
    ]  # fmt: skip


def test_the_registry_export_imports_back_without_changes(host):
    apply(host, workbook(VALID_ROWS))
    with host.db.unit_of_work() as s:  # remarks a spreadsheet would take for formulas
        first, second = s.scalars(select(Authorization).order_by(Authorization.id).limit(2))
        first.notes, second.notes = '=HYPERLINK("http://evil.example")', "- tarkistettu"
    rows = export_rows(host)
    assert len(rows) == 5 and rows[0][9] == '=HYPERLINK("http://evil.example")'
    before = counts(host)
    for data, filename in (
        (write_xlsx(EXPORT_HEADERS, rows, title="Valtuudet"), "vienti.xlsx"),
        (write_csv(EXPORT_HEADERS, rows), "vienti.csv"),
    ):
        result = plan(host, data, filename)
        assert result.counts == {"create": 0, "update": 0, "unchanged": 5, "rejected": 0}, filename
        assert "next_review_on" in result.columns
    assert counts(host) == before


def test_a_mapping_names_other_columns_and_status_words(host):
    mapping = load_mapping(
        """
        columns:
          name: Työntekijä
          code: [Oikeus, Valtuus]
          valid_until: Loppuu
          status: Voimassa?
        status_values:
          kyllä: active
          ei: expired
        header_row: 2
        """
    )
    book = Workbook()
    for row in (["Otsikko", "Valtuus"], ["Työntekijä", "Oikeus", "Loppuu", "Voimassa?"],
                ["Henrik Åberg", "Veroilmoittaminen", "31.12.2025", "kyllä"],
                ["Henrik Åberg", "Veroasioiden hoito", "31.12.2023", "ei"]):  # fmt: skip
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    result = plan(host, buffer.getvalue(), mapping=mapping)
    assert [(r.row, r.action, r.status) for r in result.rows] == [(3, "create", "active"), (4, "create", "expired")]


@pytest.mark.parametrize(
    "text",
    ["colums: {}", "columns: {holder: Nimi}", "columns: {name: 5}", "header_row: 0", "status_values: {ok: x}", "- a"],
)
def test_a_bad_mapping_is_refused_with_a_reason(text):
    with pytest.raises(MappingError):
        load_mapping(text)


def test_every_issue_code_has_an_english_text():
    assert {"missing_column", "unknown_person", "ambiguous_person", "person_without_email", "unknown_unit",
            "unknown_code", "code_withdrawn", "missing_code", "bad_date", "end_before_start", "open_ended",
            "too_long", "bad_mandate_type", "bad_status", "duplicate_row", "request_in_progress",
            "status_not_importable", "person_created"} <= set(ISSUE_TEXT)  # fmt: skip


def test_a_withdrawn_code_is_not_brought_in_as_active(host):
    with host.db.unit_of_work() as s:
        s.get(AuthorizationCode, code_id(host, "vero_veroilmoittaminen")).status = "withdrawn"
    result = plan(host, workbook(VALID_ROWS))
    assert by_row(result)[5].issues == [Issue("code_withdrawn", {"code": "Veroilmoittaminen"})]


def test_a_closed_row_repeated_in_the_file_is_recorded_once(host):
    expired = VALID_ROWS[3]  # Jari's expired mandate
    apply(host, workbook([expired]))
    result = plan(host, workbook([expired, expired]))
    assert [r.action for r in result.rows] == ["unchanged", "rejected"]
    assert result.rows[1].issues == [Issue("duplicate_row", {"row": 4})]
