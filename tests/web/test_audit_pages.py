"""The audit log's pages and commands: only the pääkäyttäjä of the organisation downloads event logs or sees the
chain's state; exports hold the right events with formulas neutralised; ``valtuus audit`` verifies and exports."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select, update

from engine.models import AuditEvent, Authorization, AuthorizationCode, Organisation, Person
from tests.engine.test_audit_chain import organisation_id, run_request
from web.cli import main


@pytest.fixture
def requested(host, people, codes) -> dict:
    """The employee's request run to registration, the supervisor's name made to look like a formula."""
    with host.db.unit_of_work() as s:
        s.get(Person, people["supervisor"]).name = '=HYPERLINK("http://evil.example","Sami")'
    instance_id = run_request(host, people, codes)
    with host.db.reader() as s:
        authorization = s.scalar(
            select(Authorization.id).where(Authorization.holder_id == people["employee"]).order_by(Authorization.id)
        )
    return {"instance": instance_id, "authorization": authorization}


@pytest.fixture
def other_organisation(host) -> tuple[int, int]:
    """A second organisation with one person who holds one authorization: (person id, authorization id)."""
    with host.db.unit_of_work() as s:
        org = Organisation(key="toinen", name={"fi": "Toinen kunta"}, business_id="1234567-8", languages=["fi"])
        s.add(org)
        s.flush()
        person = Person(organisation_id=org.id, email="joku@toinen.example", name="Joku Toinen")
        s.add(person)
        s.flush()
        code_id = s.scalar(select(AuthorizationCode.id).limit(1))
        row = Authorization(
            organisation_id=org.id, holder_id=person.id, code_id=code_id, status="active", mandate_type="transaction"
        )
        s.add(row)
        s.flush()
        return person.id, row.id


def rows_of(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


def test_the_main_administrator_downloads_the_event_log_of_a_person(web, people, requested, host):
    web.login("admin")
    response = web.client.get(f"/audit/people/{people['employee']}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    header, *rows = rows_of(response)
    assert len(header) == 12
    with host.db.reader() as s:
        held = select(Authorization.id).where(Authorization.holder_id == people["employee"])
        expected = list(
            s.scalars(
                select(AuditEvent.id)
                .where((AuditEvent.instance_id == requested["instance"]) | AuditEvent.authorization_id.in_(held))
                .order_by(AuditEvent.seq)
            )
        )
    assert [int(r[1]) for r in rows] == expected
    assert [int(r[0]) for r in rows] == sorted(int(r[0]) for r in rows)  # chain order
    actors = {r[6] for r in rows}
    assert '\'=HYPERLINK("http://evil.example","Sami")' in actors  # neutralised, never a live formula
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)


def test_the_main_administrator_downloads_the_event_log_of_an_authorization(web, requested):
    web.login("admin")
    response = web.client.get(f"/audit/authorizations/{requested['authorization']}.csv")
    assert response.status_code == 200
    _header, *rows = rows_of(response)
    assert rows and {r[7] for r in rows} == {str(requested["authorization"])}
    assert "authorization.registered" in {r[3] for r in rows}


@pytest.mark.parametrize("who", ["director", "supervisor", "employee"])
def test_nobody_but_the_main_administrator_may_download_event_logs(web, people, requested, who):
    web.login(who)
    assert web.client.get(f"/audit/people/{people['employee']}.csv").status_code == 403
    assert web.client.get(f"/audit/authorizations/{requested['authorization']}.csv").status_code == 403
    assert web.client.get("/admin/audit").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client, people):
    response = client.get(f"/audit/people/{people['employee']}.csv")
    assert response.status_code == 302 and "/login" in response.location


def test_another_organisations_person_and_authorization_are_not_found(web, other_organisation):
    person_id, authorization_id = other_organisation
    web.login("admin")
    assert web.client.get(f"/audit/people/{person_id}.csv").status_code == 404
    assert web.client.get(f"/audit/authorizations/{authorization_id}.csv").status_code == 404
    assert web.client.get("/audit/people/999999.csv").status_code == 404


def test_the_person_page_offers_the_downloads_to_the_main_administrator_only(web, people, requested):
    web.login("admin")
    page = web.client.get(f"/people/{people['employee']}").get_data(as_text=True)
    assert f"/audit/people/{people['employee']}.csv" in page
    assert f"/audit/authorizations/{requested['authorization']}.csv" in page
    web.login("director")
    page = web.client.get(f"/people/{people['employee']}").get_data(as_text=True)
    assert "/audit/" not in page


def test_the_audit_page_shows_an_unbroken_chain_then_the_first_modified_event(web, host, requested):
    web.login("admin")
    web.post("/language", {"lang": "en", "next": "/admin/audit"}, token_from="/admin/audit")
    page = web.client.get("/admin/audit").get_data(as_text=True)
    assert 'class="flash flash-success"' in page
    org = organisation_id(host)
    with host.db.reader() as s:
        first = s.scalar(select(AuditEvent).where(AuditEvent.organisation_id == org, AuditEvent.seq == 3))
        first_id, last_hash = first.id, s.scalar(select(AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1))
    assert last_hash in page
    with host.db.engine.begin() as conn:
        conn.execute(update(AuditEvent.__table__).where(AuditEvent.__table__.c.id == first_id).values(action="x"))
    page = web.client.get("/admin/audit").get_data(as_text=True)
    assert 'role="alert"' in page and f"Event 3 (id {first_id}) has been modified" in page


def test_the_verify_command_exits_1_on_a_broken_chain_and_names_the_event(runner, host, requested):
    result = runner.invoke(main, args=["audit", "verify", "--language", "en"])
    assert result.exit_code == 0, result.output
    assert "merilahti: OK" in result.output
    with host.db.reader() as s:
        victim = s.scalar(select(AuditEvent.id).order_by(AuditEvent.seq).offset(4).limit(1))
    with host.db.engine.begin() as conn:
        conn.execute(AuditEvent.__table__.delete().where(AuditEvent.__table__.c.id == victim))
    result = runner.invoke(main, args=["audit", "verify", "--organisation", "merilahti"])
    assert result.exit_code == 1
    assert "BROKEN (deleted)" in result.output and "5" in result.output


def test_the_export_command_writes_the_persons_events_to_a_file(runner, people, requested, tmp_path):
    target = tmp_path / "employee.csv"
    result = runner.invoke(main, args=["audit", "export", "--person", str(people["employee"]), "--output", str(target)])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(target.read_bytes().decode("utf-8-sig")), delimiter=";"))
    assert len(rows) > 5 and {r[3] for r in rows[1:]} >= {"process.started", "authorization.registered"}
    refused = runner.invoke(main, args=["audit", "export", "--person", "1", "--authorization", "1"])
    assert refused.exit_code == 2
