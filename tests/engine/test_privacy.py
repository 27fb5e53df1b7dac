"""Data protection: identity codes are refused wherever free text comes in, ``valtuus privacy export`` holds
everything about a person (and a new table pointing at people cannot be forgotten), and ``valtuus retention``
pseudonymises people who left long ago while the audit chain still verifies."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale
from markupsafe import escape
from openpyxl import Workbook
from sqlalchemy import func, select

from engine import api_tokens, forms, hr_events, notifications, privacy, review, webhooks
from engine import webhook_delivery as delivery
from engine.audit_verify import verify
from engine.clock import local_date
from engine.errors import FormValidationError
from engine.importer import plan_import
from engine.models import (
    ApiToken,
    AuditEvent,
    Authorization,
    Base,
    HrEvent,
    HumanTask,
    HumanTaskOwner,
    ImportUpload,
    Notification,
    NotificationPreference,
    Organisation,
    OutboxMessage,
    Person,
    ProcessInstance,
    ReviewItem,
    WebhookDelivery,
    WebhookEndpoint,
)
from engine.policy import policy_for
from engine.retention import PSEUDONYM_DOMAIN, apply_retention
from tests.conftest import request_form
from tests.engine.test_audit_chain import run_request
from tests.engine.test_webhooks import Receiver
from web import formrender
from web.cli import main

HETU = "131052-308T"  # DVV's example identity code (valid check character)
FORMS_DIR = Path(__file__).resolve().parents[2] / "forms"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def org_id(host) -> int:
    with host.db.reader() as s:
        return s.scalar(select(Organisation.id).where(Organisation.key == "merilahti"))


def count(host, model, *where) -> int:
    with host.db.reader() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def csrf(client, path: str) -> str:
    from tests.conftest import CSRF

    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def upload(client, people, who: str, filename: str, content: bytes):
    """A spreadsheet uploaded for import by ``who`` through the site (kept until the preview is confirmed)."""
    client.post("/login", data={"person_id": people[who], "csrf_token": csrf(client, "/login")})
    token = csrf(client, "/registry/import")
    response = client.post(
        "/registry/import",
        data={"csrf_token": token, "file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# -- identity codes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        HETU,
        f"Hetu {HETU}, ks. liite",
        HETU.lower(),
        # DVV's examples of the century signs added in 2023
        "010594Y9032",
        "020594X903P",
        "050594U902L",
        "010516B903X",
        "020516C902J",
        "030516D9037",
    ],
)
def test_a_valid_identity_code_is_found_in_text(text):
    assert privacy.contains_identity_code(text)


@pytest.mark.parametrize(
    "text",
    [
        "131052-308U",  # wrong check character
        "310252-308T",  # 31 February
        "puh. 040-1234567",
        "lasku 2024-123456",
        "13105-2308T",
        "x131052-308T",
        "131052-308TT",
        "",
        None,
        131052,
        "Voimassa 1.1.2025–31.12.2025",
    ],
)
def test_text_that_only_looks_like_an_identity_code_is_not_refused(text):
    assert not privacy.contains_identity_code(text)


def text_fields() -> list[tuple[str, str]]:
    found = []
    for path in sorted(FORMS_DIR.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        for name, prop in schema.get("properties", {}).items():
            if prop.get("type") == "string" and not ({"enum", "oneOf", "format", "const"} & set(prop)):
                found.append((path.name, name))
    return found


@pytest.mark.parametrize(("form", "field"), text_fields())
def test_every_text_field_of_every_user_task_form_refuses_an_identity_code(form, field):
    schema = json.loads((FORMS_DIR / form).read_text(encoding="utf-8"))
    with pytest.raises(FormValidationError) as refused:
        forms.validate(schema, {field: f"Asiakkaan hetu {HETU}"}, date(2026, 1, 1))
    assert {"code": "identity_code"} in refused.value.errors[field]


def test_a_request_whose_justification_has_an_identity_code_is_refused_and_nothing_is_written(host, people, codes):
    before = count(host, AuditEvent), count(host, ProcessInstance)
    with pytest.raises(FormValidationError) as refused:
        host.start_request(
            people["employee"],
            people["employee"],
            request_form(codes[:1], justification=f"Hoidan asiakkaan {HETU} asioita"),
        )
    assert refused.value.errors["justification"] == [{"code": "identity_code"}]
    assert (count(host, AuditEvent), count(host, ProcessInstance)) == before


def test_the_request_page_says_why_an_identity_code_is_refused(web, codes):
    web.login("employee")
    today = date.today()
    response = web.post(
        "/requests/new",
        {
            "codes": str(codes[0]),
            "justification": f"Asiakas {HETU}",
            "valid_from": (today + timedelta(days=1)).isoformat(),
            "valid_until": (today + timedelta(days=300)).isoformat(),
        },
    )
    assert response.status_code == 422  # the form comes back with the text, for the employee to correct
    with web.client.application.test_request_context(), force_locale("fi"):
        message = formrender.error_message({"code": "identity_code"})
    assert message != formrender.error_message({"code": "no such code"})
    assert str(escape(message)) in response.get_data(as_text=True)


def test_an_imported_row_with_an_identity_code_is_rejected_naming_the_column_not_the_code(host, people):
    headers = ["Nimi", "Sähköposti", "Valtuus", "Voimassa asti", "Huomautukset"]
    rows = [
        ["Sanna Laine", "sanna.laine@merilahti.example", "Palkkatietojen ilmoittaminen", "31.12.2026", f"hetu {HETU}"],
        ["Tiina Mäkelä", "tiina.makela@merilahti.example", "Palkkatietojen ilmoittaminen", "31.12.2026", "ok"],
    ]
    with host.db.reader() as s:
        plan = plan_import(s, org_id(host), xlsx([headers, *rows]), "lista.xlsx", today=date(2026, 1, 1))
    first, second = plan.rows
    assert first.action == "rejected" and [i.code for i in first.issues] == ["identity_code"]
    assert first.issues[0].params == {"column": "Huomautukset"}
    assert "Huomautukset" in first.issues[0].text() and HETU not in first.issues[0].text()
    assert second.action == "create"


def test_an_hr_event_with_an_identity_code_is_rejected_and_nothing_of_it_is_kept(host):
    result = hr_events.apply_event(
        host,
        org_id(host),
        {
            "event_id": "j-hetu",
            "type": "joiner",
            "email": "uusi@merilahti.example",
            "name": "Uusi Työntekijä",
            "unit": "talouspalvelut",
            "title": f"Palkanlaskija {HETU}",
            "date": "2026-01-01",
        },
    )
    assert result["status"] == "rejected" and "identity code" in result["reason"] and HETU not in result["reason"]
    assert count(host, HrEvent) == 0 and count(host, Person, Person.email == "uusi@merilahti.example") == 0


def test_a_review_reason_with_an_identity_code_is_refused_and_the_line_stays_pending(host, people, codes):
    run_request(host, people, codes, who="employee")
    moved = hr_events.apply_event(
        host,
        org_id(host),
        {
            "event_id": "m-hetu",
            "type": "mover",
            "email": "employee@merilahti.example",
            "unit": "sivistystoimi",
            "date": date.today().isoformat(),
        },
    )
    with host.db.reader() as s:
        item = s.scalar(select(ReviewItem).where(ReviewItem.instance_id == moved["reviews"][0]))
        reviewer = s.scalar(
            select(HumanTaskOwner.person_id)
            .join(HumanTask, HumanTask.id == HumanTaskOwner.task_id)
            .where(HumanTask.instance_id == item.instance_id)
            .limit(1)
        )
    with pytest.raises(review.ReviewInputError) as refused:
        review.decide(
            host, reviewer, [review.Decision(item.id, item.lock_version, "revoke", reason=f"Ei tarvita, ks. {HETU}")]
        )
    assert refused.value.errors == {item.id: "identity_code"}
    assert count(host, ReviewItem, ReviewItem.id == item.id, ReviewItem.decision.is_(None)) == 1


# -- the export ----------------------------------------------------------------------------------------------


def test_every_column_pointing_at_a_person_is_covered_by_the_privacy_export(host, people):
    """A new table (or column) with a foreign key to people.id must be added to privacy.PERSON_REFERENCES."""
    references = {
        (table.name, fk.parent.name)
        for table in Base.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name == "people"
    }
    missing = references - set(privacy.PERSON_REFERENCES)
    assert not missing, f"not in the privacy export (engine/privacy.py PERSON_REFERENCES): {sorted(missing)}"
    assert not set(privacy.PERSON_REFERENCES) - references, "PERSON_REFERENCES names a column that is gone"
    with host.db.reader() as s:
        document = privacy.export_person(host, s, people["employee"])
    assert set(privacy.PERSON_REFERENCES.values()) <= set(document)


def build_everything_about_admin(host, people, codes, client, receiver) -> int:
    """Pia Pääkäyttäjä with a row in every table that can refer to a person, each made by a real command."""
    admin, org = people["admin"], org_id(host)
    now = host.clock()
    with host.db.unit_of_work() as s:
        webhooks.create_endpoint(s, org, receiver.url, "IAM", created_by=admin, now=now, allow_http=True)
        api_tokens.create(s, org, "Raportointi", ["read"], created_by=admin, now=now)
    run_request(host, people, codes, who="admin")  # notified and e-mailed at once on the way
    with host.db.unit_of_work() as s:
        person = s.get(Person, admin)
        notifications.set_email_mode(s, person, "daily")
        notifications.new_calendar_token(s, person, now)
    delivery.deliver(host, host.clock())
    moved = hr_events.apply_event(
        host,
        org,
        {
            "event_id": "m-pia",
            "type": "mover",
            "email": "admin@merilahti.example",
            "unit": "talouspalvelut",
            "date": date.today().isoformat(),
        },
    )
    assert moved["status"] == "applied" and moved["reviews"], moved
    upload(client, people, "admin", "oma.csv", "Nimi;Valtuus\nSanna Laine;Tulliselvittäminen\n".encode())
    upload(client, people, "jonas.ekholm", "pian.xlsx", xlsx([["Sähköposti"], ["ADMIN@merilahti.example"]]))
    return admin


def test_the_privacy_export_holds_the_person_in_every_table_and_no_secrets(
    host, people, codes, app, receiver, tmp_path
):
    admin = build_everything_about_admin(host, people, codes, app.test_client(), receiver)
    out = tmp_path / "pia.json"
    result = app.test_cli_runner().invoke(
        main, args=["privacy", "export", "admin@merilahti.example", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc["person"]["id"] == admin and doc["person"]["name"] == "Pia Pääkäyttäjä"
    assert set(doc["roles"]) == {"administrator", "process_owner"}
    assert doc["unit"]["key"] == "talouspalvelut" and doc["supervisor"] is None  # the mover cleared the supervisor
    for section in (
        "authorizations",
        "review_items",
        "hr_events",
        "notifications",
        "outbox",
        "api_tokens_created",
        "webhook_endpoints_created",
        "tasks",
        "processes",
        "webhook_deliveries",
        "audit_events",
        "audit_events_by_person",
        "import_uploads",
    ):
        assert doc[section], f"nothing in {section}"
    held = doc["authorizations"][0]
    assert held["holder_id"] == admin and held["code"]["key"] and held["history"]
    assert {e["action"] for e in held["history"]} >= {"authorization.requested", "authorization.registered"}
    assert doc["hr_events"][0]["kind"] == "mover"
    assert {r["authorization_id"] for r in doc["review_items"]} == {a["id"] for a in doc["authorizations"]}
    request = next(p for p in doc["processes"] if p["process_id"] == "authorization_request")
    assert request["forms"][0]["by"] == admin and request["forms"][0]["data"]["justification"]
    assert request["workflow_data"]["requester"]["name"] == "Pia Pääkäyttäjä"
    assert any(t["completed_by_person"] and t["bpmn_id"] == "fill_request" for t in doc["tasks"])
    assert all(d["payload"]["authorization"]["holder"]["id"] == admin for d in doc["webhook_deliveries"])
    assert doc["notification_preferences"]["email"] == "daily" and doc["notification_preferences"]["calendar_link"]
    uploads = {u["filename"]: u for u in doc["import_uploads"]}
    assert uploads["oma.csv"]["uploaded_by_person"] and not uploads["oma.csv"]["mentions_email"]
    assert uploads["pian.xlsx"]["mentions_email"] and not uploads["pian.xlsx"]["uploaded_by_person"]
    assert {e["action"] for e in doc["audit_events"]} >= {"process.started", "person.moved"}
    # no secrets and no file contents
    with host.db.reader() as s:
        secrets = [
            s.get(NotificationPreference, admin).calendar_token_sha256,
            *s.scalars(select(ApiToken.token_sha256)),
            *s.scalars(select(WebhookEndpoint.secret)),
        ]
    assert len(secrets) == 3 and not [secret for secret in secrets if secret in text]
    for key in ("token_sha256", "calendar_token_sha256", "secret", "content", "state"):
        assert f'"{key}"' not in text


def test_the_export_finds_a_person_by_id_or_email_and_asks_for_the_organisation_when_the_email_is_in_two(
    host, people, app
):
    runner = app.test_cli_runner()
    by_id = runner.invoke(main, args=["privacy", "export", str(people["employee"])])
    assert by_id.exit_code == 0 and json.loads(by_id.output)["person"]["email"] == "employee@merilahti.example"
    unknown = runner.invoke(main, args=["privacy", "export", "nobody@merilahti.example"])
    assert unknown.exit_code == 2 and "no person" in unknown.output
    with host.db.unit_of_work() as s:  # the same address in a second organisation (e.g. a shared service centre)
        other = Organisation(key="naapurikunta", name={"fi": "Naapurikunta"}, business_id="0000000-0", languages=["sv"])
        s.add(other)
        s.flush()
        s.add(Person(organisation_id=other.id, email="employee@merilahti.example", name="Emilia Naapurista"))
    ambiguous = runner.invoke(main, args=["privacy", "export", "Employee@merilahti.example"])
    assert ambiguous.exit_code == 2 and "several organisations" in ambiguous.output
    chosen = runner.invoke(
        main, args=["privacy", "export", "employee@merilahti.example", "--organisation", "naapurikunta"]
    )
    assert chosen.exit_code == 0 and json.loads(chosen.output)["person"]["name"] == "Emilia Naapurista"


# -- retention -----------------------------------------------------------------------------------------------


def leave_and_close(host, people, org: int, who: str, email: str) -> None:
    """``who`` leaves (yesterday); the pääkäyttäjä invalidates what they held, so nothing of theirs is open."""
    yesterday = local_date(host.clock()) - timedelta(days=1)
    left = hr_events.apply_event(
        host, org, {"event_id": f"l-{who}", "type": "leaver", "email": email, "date": yesterday.isoformat()}
    )
    assert left["deactivated"] and left["revocations"], left
    for instance_id in left["revocations"]:
        with host.db.reader() as s:
            task = s.scalar(
                select(HumanTask.id).where(HumanTask.instance_id == instance_id, HumanTask.status == "ready")
            )
            owner = s.scalar(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == task).limit(1))
        host.complete_task(owner, task, {"revocation_outcome": "invalidated", "invalidated_on": yesterday.isoformat()})


def test_retention_pseudonymises_a_leaver_after_the_years_and_the_audit_chain_still_verifies(
    host, people, codes, app, receiver
):
    org, employee = org_id(host), people["employee"]
    with host.db.unit_of_work() as s:
        webhooks.create_endpoint(s, org, receiver.url, "IAM", created_by=None, now=host.clock(), allow_http=True)
    run_request(host, people, codes, who="employee")
    upload(app.test_client(), people, "admin", "vanha.xlsx", xlsx([["Sähköposti"], ["employee@merilahti.example"]]))
    leave_and_close(host, people, org, "employee", "employee@merilahti.example")
    delivery.deliver(host, host.clock())
    assert count(host, Notification, Notification.recipient_id == employee) > 0
    later = host.clock() + timedelta(days=365 * 6 + 30)

    assert apply_retention(host, org, now=later, years=7).pseudonymised == []  # not yet 7 years
    dry = apply_retention(host, org, now=later, dry_run=True)
    assert dry.years == 6 and dry.pseudonymised == [employee] and dry.uploads_deleted == 1
    with host.db.reader() as s:
        assert s.get(Person, employee).name == "Emilia Esimerkki"  # a dry run writes nothing

    done = apply_retention(host, org, now=later)
    assert done.pseudonymised == [employee] and done.uploads_deleted == 1 and done.deliveries_deleted > 0
    with host.db.reader() as s:
        person = s.get(Person, employee)
        assert person.name == f"Poistettu henkilö #{employee}" and person.email.endswith("@" + PSEUDONYM_DOMAIN)
        assert person.title == {} and person.supervisor_id is None
        assert set(s.scalars(select(Authorization.holder_name).where(Authorization.holder_id == employee))) == {
            person.name
        }
        assert all(
            set(p) <= {"event_id", "kind", "day"}
            for p in s.scalars(select(HrEvent.payload).where(HrEvent.person_id == employee))
        )
        assert verify(s, org).ok  # the audit log was not rewritten
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "person.pseudonymised"))
        assert event.details["person_id"] == employee and event.at == later
        document = privacy.export_person(host, s, employee)
    for model, column in (
        (Notification, Notification.recipient_id),
        (OutboxMessage, OutboxMessage.recipient_id),
        (NotificationPreference, NotificationPreference.person_id),
    ):
        assert count(host, model, column == employee) == 0
    assert count(host, ImportUpload) == 0 and count(host, WebhookDelivery, WebhookDelivery.status == "sent") == 0
    with host.db.reader() as s:  # the director's notices about her revoked authorizations name the pseudonym
        messages = [*s.scalars(select(Notification.context)), *s.scalars(select(OutboxMessage.context))]
    assert any(m.get("holder_id") == employee for m in messages)
    assert "Emilia" not in json.dumps(messages, ensure_ascii=False)
    # outside the audit trail (kept whole on purpose), nothing held about her names her any more
    document.pop("audit_events"), document.pop("audit_events_by_person")
    for held in document["authorizations"]:
        held.pop("history")
    text = json.dumps(document, ensure_ascii=False)
    assert "Emilia" not in text and "employee@merilahti.example" not in text
    assert apply_retention(host, org, now=later).pseudonymised == []  # once is enough

    verified = app.test_cli_runner().invoke(main, args=["audit", "verify"])
    assert verified.exit_code == 0 and "OK" in verified.output


def test_retention_leaves_alone_someone_still_holding_an_authorization_or_whose_leaving_date_is_unknown(
    host, people, codes
):
    org = org_id(host)
    run_request(host, people, codes, who="employee")
    left = hr_events.apply_event(
        host,
        org,
        {
            "event_id": "l-open",
            "type": "leaver",
            "email": "employee@merilahti.example",
            "date": (local_date(host.clock()) - timedelta(days=1)).isoformat(),
        },
    )
    assert left["revocations"]  # waiting for the pääkäyttäjä
    with host.db.unit_of_work() as s:
        s.get(Person, people["riikka.nieminen"]).active = False  # inactive, but no leaver event nor deactivation
    result = apply_retention(host, org, now=host.clock() + timedelta(days=365 * 10))
    assert result.pseudonymised == []
    assert result.kept == {
        people["employee"]: "holds authorizations that are not closed",
        people["riikka.nieminen"]: "leaving date unknown",
    }


def test_the_retention_period_is_an_organisation_setting_six_years_by_default(host, app):
    assert policy_for({})["retention_years"] == 6
    assert policy_for({"retention_years": 10})["retention_years"] == 10
    assert policy_for({"retention_years": 0})["retention_years"] == 6  # nonsense falls back to the default
    with host.db.unit_of_work() as s:
        org = s.get(Organisation, org_id(host))
        org.settings = {**org.settings, "retention_years": 10}
    result = app.test_cli_runner().invoke(main, args=["retention", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "(10 years)" in result.output and "would pseudonymise nobody" in result.output
    assert "dry run: nothing was written" in result.output
