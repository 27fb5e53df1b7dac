"""HR events: joiners, movers and leavers applied once by their id; bad events rejected with the reason and
nothing changed; files read row by row."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine import hr_events, scheduler
from engine.clock import local_date
from engine.models import AuditEvent, Authorization, HrEvent, Person, Unit
from tests.engine.test_expiry import add_authorization


def count(host, model, *where) -> int:
    with host.db.reader() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def person_by_email(host, email: str) -> Person | None:
    with host.db.reader() as s:
        return s.scalar(select(Person).where(Person.email == email))


@pytest.fixture
def org_id(host) -> int:
    with host.db.reader() as s:
        return s.scalar(select(Unit.organisation_id).limit(1))


def joiner(event_id="hr-1", **extra) -> dict:
    return {"event_id": event_id, "type": "joiner", "email": "Uusi.Tyontekija@merilahti.example",
            "name": "Uusi Työntekijä", "unit": "talouspalvelut", "title": "Palkkasihteeri", "date": "1.3.2027",
            **extra}


def test_a_joiner_creates_the_person_in_the_unit_without_authorizations_and_a_duplicate_changes_nothing(
    host, org_id
):
    people_before = count(host, Person)
    first = hr_events.apply_event(host, org_id, joiner())
    assert first["status"] == "applied" and first["change"] == "created"
    person = person_by_email(host, "uusi.tyontekija@merilahti.example")
    assert person.active and person.name == "Uusi Työntekijä" and person.title == {"fi": "Palkkasihteeri"}
    with host.db.reader() as s:
        assert s.get(Unit, person.unit_id).key == "talouspalvelut"
    assert count(host, Authorization, Authorization.holder_id == person.id) == 0

    again = hr_events.apply_event(host, org_id, joiner(name="Joku Muu"))  # same id, even with other content
    assert again["duplicate"] is True and {k: v for k, v in again.items() if k != "duplicate"} == first
    assert count(host, Person) == people_before + 1
    assert person_by_email(host, "uusi.tyontekija@merilahti.example").name == "Uusi Työntekijä"
    assert count(host, HrEvent) == 1
    assert count(host, AuditEvent, AuditEvent.action == "person.joined") == 1
    assert count(host, AuditEvent, AuditEvent.action == "hr_event.received") == 2  # every delivery is audited


def test_a_joiner_finds_the_unit_by_its_name_and_reactivates_a_former_employee(host, org_id, people):
    with host.db.unit_of_work() as s:
        s.get(Person, people["riikka.nieminen"]).active = False
    result = hr_events.apply_event(host, org_id, joiner(
        "hr-2", email="riikka.nieminen@merilahti.example", name="Riikka Nieminen", unit="Varhaiskasvatus"))
    assert result["status"] == "applied" and result["change"] == "reactivated"
    riikka = person_by_email(host, "riikka.nieminen@merilahti.example")
    assert riikka.active and riikka.id == people["riikka.nieminen"]
    with host.db.reader() as s:
        assert s.get(Unit, riikka.unit_id).key == "varhaiskasvatus"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"event_id": "x1", "type": "mover", "email": "nobody@merilahti.example", "unit": "sivistystoimi",
          "date": "2027-03-01"}, "no person with the e-mail nobody@merilahti.example"),
        ({"event_id": "x2", "type": "leaver", "email": "nobody@merilahti.example", "date": "2027-03-01"},
         "no person with the e-mail"),
        (joiner("x3", unit="ei-ole-olemassa"), "no unit 'ei-ole-olemassa'"),
        (joiner("x4", type="promotion"), "type must be one of joiner, mover, leaver"),
        (joiner("x5", date="31.2.2027"), "is not a date"),
        (joiner("x6", date=""), "date is missing"),
        (joiner("x7", email="not an address"), "is not an e-mail address"),
        (joiner("", ), "event_id is missing"),
        (joiner("x8", name=""), "a joiner needs the person's name"),
        (["not", "an", "object"], "an event must be an object"),
    ],
)
def test_unknown_people_and_units_and_malformed_events_are_rejected_with_the_reason_and_nothing_changes(
    host, org_id, payload, reason
):
    people_before = count(host, Person)
    result = hr_events.apply_event(host, org_id, payload)
    assert result["status"] == "rejected" and reason in result["reason"]
    assert count(host, Person) == people_before and count(host, HrEvent) == 0
    assert count(host, AuditEvent, AuditEvent.action.in_(["person.joined", "person.moved", "person.leaving"])) == 0
    received = count(host, AuditEvent, AuditEvent.action == "hr_event.received")
    assert received == 1  # the delivery itself is on record


def test_a_rejected_event_may_be_sent_again_corrected_with_the_same_id(host, org_id):
    assert hr_events.apply_event(host, org_id, joiner("hr-9", unit="tuntematon"))["status"] == "rejected"
    assert hr_events.apply_event(host, org_id, joiner("hr-9"))["status"] == "applied"


def test_a_mover_changes_the_unit_and_the_registry_lists_follow(host, org_id, people, codes):
    moved = people["riikka.nieminen"]
    result = hr_events.apply_event(host, org_id, {"event_id": "m-1", "type": "mover",
                                                  "email": "riikka.nieminen@merilahti.example",
                                                  "unit": "sivistystoimi", "date": "2027-04-01"})
    assert result["status"] == "applied" and result["unit"] == "sivistystoimi"
    assert result["from_unit"] == "talouspalvelut" and result["reviews"] == []
    with host.db.reader() as s:
        person = s.get(Person, moved)
        assert s.get(Unit, person.unit_id).key == "sivistystoimi"
        assert person.supervisor_id is None  # the old unit's supervisor no longer supervises them


def test_a_mover_puts_what_they_hold_into_review_for_the_new_director(host, org_id, people, codes):
    """Needs review.review_now (the review engine)."""
    auth_id = add_authorization(host, people["riikka.nieminen"], codes[0], date.today() + timedelta(days=300))
    result = hr_events.apply_event(host, org_id, {"event_id": "m-2", "type": "mover",
                                                  "email": "riikka.nieminen@merilahti.example",
                                                  "unit": "sivistystoimi", "date": "2027-04-01"})
    assert result["status"] == "applied", result
    with host.db.reader() as s:
        row = s.get(Authorization, auth_id)
        new_unit = s.scalar(select(Unit.id).where(Unit.key == "sivistystoimi"))
    assert row.unit_id == new_unit  # the registry lists read the holder's unit from the row
    assert len(result["reviews"]) == 1 and row.open_instance_id == result["reviews"][0]


def test_a_leaver_without_authorizations_becomes_inactive_after_the_end_date(host, org_id, people):
    today = local_date(host.clock())
    end = today + timedelta(days=10)
    result = hr_events.apply_event(host, org_id, {"event_id": "l-1", "type": "leaver",
                                                  "email": "riikka.nieminen@merilahti.example",
                                                  "date": end.strftime("%d.%m.%Y")})
    assert result["status"] == "applied" and result["revocations"] == [] and result["deactivate_after"] == str(end)
    assert person_by_email(host, "riikka.nieminen@merilahti.example").active

    def noon(day):
        return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)

    assert scheduler.tick(host, noon(end))["leavers_deactivated"] == 0
    assert person_by_email(host, "riikka.nieminen@merilahti.example").active
    assert scheduler.tick(host, noon(end + timedelta(days=1)))["leavers_deactivated"] == 1
    assert not person_by_email(host, "riikka.nieminen@merilahti.example").active
    assert scheduler.tick(host, noon(end + timedelta(days=2)))["leavers_deactivated"] == 0


def test_a_leaver_whose_end_date_has_passed_is_inactive_at_once_and_a_later_joiner_brings_them_back(host, org_id):
    past = local_date(host.clock()) - timedelta(days=3)
    result = hr_events.apply_event(host, org_id, {"event_id": "l-2", "type": "leaver",
                                                  "email": "riikka.nieminen@merilahti.example",
                                                  "date": past.isoformat()})
    assert result["deactivated"] is True
    assert not person_by_email(host, "riikka.nieminen@merilahti.example").active
    hr_events.apply_event(host, org_id, joiner("j-2", email="riikka.nieminen@merilahti.example",
                                               name="Riikka Nieminen"))
    assert scheduler.tick(host)["leavers_deactivated"] == 0
    assert person_by_email(host, "riikka.nieminen@merilahti.example").active


def test_a_leaver_sends_every_active_authorization_to_revocation_effective_on_the_end_date(host, org_id, people,
                                                                                          codes):
    """Needs revocation.start_revocation (the revocation engine)."""
    today = local_date(host.clock())
    end = today + timedelta(days=14)
    held = [add_authorization(host, people["riikka.nieminen"], code, today + timedelta(days=200)) for code in codes[:2]]
    result = hr_events.apply_event(host, org_id, {"event_id": "l-3", "type": "leaver",
                                                  "email": "riikka.nieminen@merilahti.example",
                                                  "date": end.isoformat()})
    assert result["status"] == "applied", result
    assert len(result["revocations"]) == 2
    with host.db.reader() as s:
        rows = [s.get(Authorization, i) for i in held]
    assert {r.open_instance_id for r in rows} == set(result["revocations"])
    assert all(r.status in ("active", "revoking") for r in rows)  # pending until the end date and the pääkäyttäjä
    again = hr_events.apply_event(host, org_id, {"event_id": "l-3", "type": "leaver",
                                                 "email": "riikka.nieminen@merilahti.example",
                                                 "date": end.isoformat()})
    assert again["duplicate"] and again["revocations"] == result["revocations"]


def test_a_file_of_events_is_applied_row_by_row_with_a_report_per_row(host, org_id):
    text = (
        "\ufeffevent_id;type;email;name;unit;title;date\r\n"
        "f-1;joiner;aino.aaltonen@merilahti.example;Aino Äälto;talouspalvelut;Kirjanpitäjä;1.3.2027\r\n"
        "f-2;mover;aino.aaltonen@merilahti.example;;Sivistystoimi;;15.3.2027\r\n"
        "f-3;mover;tuntematon@merilahti.example;;sivistystoimi;;15.3.2027\r\n"
        "f-4;leaver;aino.aaltonen@merilahti.example;;;;2027-13-01\r\n"
    )
    data = text.encode("utf-8")

    dry = hr_events.import_events(host, org_id, data, "events.csv", dry_run=True)
    assert [r["status"] for _n, r in dry] == ["applied", "applied", "rejected", "rejected"]
    assert person_by_email(host, "aino.aaltonen@merilahti.example") is None and count(host, HrEvent) == 0

    results = hr_events.import_events(host, org_id, data, "events.csv")
    assert [(n, r["status"]) for n, r in results] == [(2, "applied"), (3, "applied"), (4, "rejected"),
                                                       (5, "rejected")]
    assert "no person" in results[2][1]["reason"] and "not a date" in results[3][1]["reason"]
    aino = person_by_email(host, "aino.aaltonen@merilahti.example")
    with host.db.reader() as s:
        assert aino.name == "Aino Äälto" and s.get(Unit, aino.unit_id).key == "sivistystoimi"

    again = hr_events.import_events(host, org_id, data, "events.csv")
    assert [r.get("duplicate", False) for _n, r in again[:2]] == [True, True]
    assert count(host, HrEvent) == 2


def test_a_windows_1252_file_with_commas_reads_too(host, org_id):
    data = ("event_id,type,email,name,unit,title,date\n"
            "w-1,joiner,soren.aberg@merilahti.example,Sören Åberg,talouspalvelut,,2027-01-02\n").encode("cp1252")
    [(_n, result)] = hr_events.import_events(host, org_id, data, "hr.csv")
    assert result["status"] == "applied"
    assert person_by_email(host, "soren.aberg@merilahti.example").name == "Sören Åberg"


def test_tokens_are_matched_by_their_sha256_per_organisation_or_from_the_environment(host, org_id):
    digest = hr_events.token_hash("s3cret-token")
    with host.db.unit_of_work() as s:
        from engine.models import Organisation

        org = s.get(Organisation, org_id)
        org.settings = {**org.settings, "hr_token_sha256": [digest]}
    with host.db.reader() as s:
        assert hr_events.organisation_for_token(s, "s3cret-token", []) == org_id
        assert hr_events.organisation_for_token(s, "wrong", []) is None
        assert hr_events.organisation_for_token(s, "", [digest]) is None
        env = hr_events.token_hash("from-env")
        assert hr_events.organisation_for_token(s, "from-env", [env]) == org_id
        assert hr_events.organisation_for_token(s, "from-env", [env], "no-such-organisation") is None
