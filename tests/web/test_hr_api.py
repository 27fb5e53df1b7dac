"""POST /api/hr/events: bearer tokens by their SHA-256, no CSRF (no cookies), 401/400/422/200, duplicates."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine import hr_events
from engine.models import AuditEvent, HrEvent, Organisation, Person
from web.cli import main

TOKEN = "hr-järjestelmä-2027-token"


@pytest.fixture
def token(host) -> str:
    with host.db.unit_of_work() as s:
        org = s.scalar(select(Organisation))
        org.settings = {**org.settings, "hr_token_sha256": [hr_events.token_hash(TOKEN)]}
    return TOKEN


def joiner(**extra) -> dict:
    return {"event_id": "api-1", "type": "joiner", "email": "api.tulija@merilahti.example", "name": "Api Tulija",
            "unit": "talouspalvelut", "date": "2027-02-01", **extra}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def received(host) -> int:
    with host.db.reader() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "hr_event.received"))


def test_without_a_token_or_with_a_wrong_one_the_answer_is_401_and_nothing_changes(client, host, token):
    assert client.post("/api/hr/events", json=joiner()).status_code == 401
    response = client.post("/api/hr/events", json=joiner(), headers=bearer("wrong"))
    assert response.status_code == 401 and response.json["error"]
    assert client.post("/api/hr/events", json=joiner(), headers={"Authorization": token}).status_code == 401
    with host.db.reader() as s:
        assert s.scalar(select(Person).where(Person.email == "api.tulija@merilahti.example")) is None


def test_a_valid_event_is_applied_once_and_a_duplicate_answers_the_same_result(client, host, token):
    first = client.post("/api/hr/events", json=joiner(), headers=bearer(token))  # no CSRF token: exempt
    assert first.status_code == 200 and first.json["status"] == "applied" and first.json["change"] == "created"
    again = client.post("/api/hr/events", json=joiner(), headers=bearer(token))
    assert again.status_code == 200 and again.json["duplicate"] is True
    assert {k: v for k, v in again.json.items() if k != "duplicate"} == first.json
    with host.db.reader() as s:
        assert s.scalar(select(func.count()).select_from(HrEvent)) == 1
    assert received(host) == 2


def test_malformed_events_get_400_or_422_with_the_reason_and_every_call_is_audited(client, host, token):
    not_json = client.post("/api/hr/events", data="event_id=1", headers=bearer(token))
    assert not_json.status_code == 400 and "JSON object" in not_json.json["error"]
    unknown = client.post("/api/hr/events", json={"event_id": "api-2", "type": "leaver",
                                                  "email": "ei.ketaan@merilahti.example", "date": "1.1.2027"},
                          headers=bearer(token))
    assert unknown.status_code == 422 and "no person" in unknown.json["reason"]
    bad_date = client.post("/api/hr/events", json=joiner(date="huomenna"), headers=bearer(token))
    assert bad_date.status_code == 422 and "not a date" in bad_date.json["reason"]
    assert received(host) == 3


def test_a_token_from_the_environment_works_for_the_only_organisation(client, host, monkeypatch):
    monkeypatch.setenv("VALTUUS_HR_TOKEN_SHA256", f"{'0' * 64}, {hr_events.token_hash('env-token')}")
    response = client.post("/api/hr/events", json=joiner(event_id="env-1"), headers=bearer("env-token"))
    assert response.status_code == 200 and response.json["status"] == "applied"


def test_valtuus_events_import_reports_each_row_and_a_dry_run_writes_nothing(runner, host, tmp_path):
    path = tmp_path / "hr.csv"
    path.write_text(
        "event_id;type;email;name;unit;title;date\n"
        "c-1;joiner;cli.tulija@merilahti.example;Cli Tulija;talouspalvelut;;1.2.2027\n"
        "c-2;leaver;ei.ole@merilahti.example;;;;1.2.2027\n",
        encoding="utf-8-sig",
    )
    dry = runner.invoke(main, args=["events", "import", str(path), "--dry-run"])
    assert dry.exit_code == 1 and "row 2: c-1: applied (joiner)" in dry.output
    assert "row 3: c-2: rejected: no person with the e-mail ei.ole@merilahti.example" in dry.output
    assert "dry run: nothing was written" in dry.output
    with host.db.reader() as s:
        assert s.scalar(select(Person).where(Person.email == "cli.tulija@merilahti.example")) is None

    done = runner.invoke(main, args=["events", "import", str(path)])
    assert done.exit_code == 1 and "applied 1, duplicate 0, rejected 1" in done.output
    again = runner.invoke(main, args=["events", "import", str(path)])
    assert "row 2: c-1: duplicate" in again.output


def test_valtuus_tick_prints_what_one_sweep_did(runner):
    result = runner.invoke(main, args=["tick"])
    assert result.exit_code == 0, result.output
    assert "timers fired 0" in result.output and "expired 0" in result.output
