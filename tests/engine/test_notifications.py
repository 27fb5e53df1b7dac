"""Notifications (herätteet): written by the real flows in the event's transaction, delivered to a real SMTP server
(aiosmtpd on 127.0.0.1) in the recipient's language, retried with backoff while the server is down, never sent twice
in the normal path, grouped into one morning digest for those who want it daily."""

from __future__ import annotations

import dataclasses
import socket
import threading
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from engine import lifecycle, notifications, review, scheduler
from engine.models import HumanTaskOwner, Notification, NotificationPreference, Organisation, OutboxMessage, Person
from engine.runtime import Host
from tests.conftest import registration_form, request_form
from tests.engine.test_revocation import MONDAY, Clock, add_active, open_task, start

BASE_URL = "https://valtuus.merilahti.example"


class Collector:
    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 – aiosmtpd's hook
        if address.startswith("refused"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 – the aiosmtpd hook's name
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """A real SMTP server on a port chosen up front (so a test can start it after the outbox has tried it)."""

    def __init__(self):
        self.port = free_port()
        self.collector = Collector()
        self.controller = None

    @property
    def messages(self):
        return self.collector.messages

    def start(self):
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down():
    server = SmtpServer()  # nothing listens on the port until the test starts it
    yield server
    server.stop()


def mail_settings(host, server: SmtpServer):
    return dataclasses.replace(host.settings, smtp_host="127.0.0.1", smtp_port=server.port, base_url=BASE_URL)


def received(host, person_id: int, kind: str | None = None) -> list[Notification]:
    with host.db.reader() as s:
        query = select(Notification).where(Notification.recipient_id == person_id).order_by(Notification.id)
        if kind:
            query = query.where(Notification.kind == kind)
        return list(s.scalars(query))


def outbox(host) -> list[OutboxMessage]:
    with host.db.reader() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def person_id(host, email: str) -> int:
    with host.db.reader() as s:
        return s.scalars(select(Person.id).where(Person.email == email)).one()


def any_owner(host, task_id: str) -> int:
    with host.db.reader() as s:
        return min(s.scalars(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == task_id)))


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def set_daily(host, person: int) -> None:
    with host.db.unit_of_work() as s:
        notifications.set_email_mode(s, s.get(Person, person), "daily")


def no_endorsement(host) -> None:
    with host.db.unit_of_work() as s:
        org = s.scalars(select(Organisation)).one()
        org.settings = {**org.settings, "supervisor_endorsement": False}


# -- the flows write the notifications ----------------------------------------------------------------------


def test_the_supervisor_is_told_a_task_is_waiting_and_gets_an_email_linking_to_the_task(host, people, codes, smtp):
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    [task_id] = started.ready_task_ids

    [note] = received(host, people["supervisor"], "task_waiting")
    assert note.context["path"] == f"/tasks/{task_id}"
    assert received(host, people["employee"]) == []  # the requester's own first form notifies nobody

    counts = notifications.deliver(host, mail_settings(host, smtp), host.clock())

    assert counts == {"sent": 1, "retrying": 0, "failed": 0}
    [message] = smtp.messages
    assert message["To"] == "supervisor@merilahti.example"
    assert message["Subject"].startswith("Tehtävä odottaa sinua")
    assert f"{BASE_URL}/tasks/{task_id}" in text_of(message)
    assert f'href="{BASE_URL}/tasks/{task_id}"' in html_of(message)
    assert message.get_content_type() == "multipart/alternative"


def test_a_swedish_speaking_employee_gets_her_approval_in_swedish(host, people, codes, smtp):
    no_endorsement(host)
    sofia = person_id(host, "anstalld@merilahti.example")
    started = host.start_request(sofia, sofia, request_form(codes[:1]))
    task_id = started.ready_task_ids[0]
    host.complete_task(any_owner(host, task_id), task_id, {"approval_decision": "approve"})

    [note] = received(host, sofia, "request_approved")
    notifications.deliver(host, mail_settings(host, smtp), host.clock())

    [message] = [m for m in smtp.messages if m["To"] == "anstalld@merilahti.example"]
    assert message["Subject"] == "Din fullmaktsbegäran har godkänts"
    assert message["Content-Language"] == "sv"
    assert "Hej Sofia Lindqvist" in text_of(message)
    assert f"{BASE_URL}/requests/{note.context['instance_id']}" in text_of(message)


def test_the_requester_hears_that_the_request_was_returned_rejected_approved_and_registered(host, people, codes):
    no_endorsement(host)
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    returned = host.complete_task(
        people["director"], started.ready_task_ids[0], {"approval_decision": "return", "approval_reason": "Tarkenna."}
    )
    [back] = received(host, people["employee"], "request_returned")
    assert back.context["path"] == f"/tasks/{returned.ready_task_ids[0]}"
    resent = host.complete_task(people["employee"], returned.ready_task_ids[0], request_form(codes[:1]))
    approved = host.complete_task(people["director"], resent.ready_task_ids[0], {"approval_decision": "approve"})
    host.complete_task(people["admin"], approved.ready_task_ids[0], registration_form())

    kinds = [n.kind for n in received(host, people["employee"])]
    assert kinds == ["request_returned", "request_approved", "request_registered"]
    assert len(received(host, people["admin"], "task_waiting")) == 1  # the registration task

    other = host.start_request(people["employee"], people["employee"], request_form(codes[1:2]))
    host.complete_task(
        people["director"], other.ready_task_ids[0], {"approval_decision": "reject", "approval_reason": "Ei tarvetta."}
    )
    [rejected] = received(host, people["employee"], "request_rejected")
    assert rejected.context["reason"] == "Ei tarvetta."


def test_a_renewal_offer_tells_the_holder_and_the_director_naming_only_the_holder_and_the_code(host, people, codes):
    today = date(2026, 11, 20)
    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    auth = add_active(host, people["employee"], codes[0], registered=date(2024, 1, 1), until=today + timedelta(days=25))

    lifecycle.expire_and_offer(host, now)

    [mine] = received(host, people["employee"], "expiry_soon")
    [theirs] = received(host, people["director"], "expiry_soon")
    assert mine.context["path"] == "/authorizations/mine" and mine.context["days"] == 30
    assert theirs.context["path"] == f"/people/{people['employee']}"
    assert theirs.context["authorization_id"] == auth and theirs.context["holder_name"] == "Emilia Esimerkki"
    rendered = notifications.render("expiry_soon", "fi", theirs.context, BASE_URL, "Daniela")
    assert "Emilia Esimerkki" in rendered.text and "päättyy" in rendered.subject
    assert set(theirs.context) <= {"authorization_id", "holder_id", "holder_name", "code", "code_name", "days",
                                   "valid_until", "path"}


def test_a_review_round_its_reminder_and_its_escalation_each_notify_the_people_concerned(host, people, codes):
    clock = Clock(MONDAY)
    sim = Host(host.settings, db=host.db, clock=clock)
    add_active(sim, people["employee"], codes[0], registered=date(2025, 3, 22), until=date(2028, 1, 1),
               next_review=MONDAY.date() + timedelta(days=20))
    review.open_due_rounds(sim, clock.now)
    reviewers = {people["director"], people["mikael.holmstrom"]}
    for reviewer in reviewers:
        [opened] = received(sim, reviewer, "review_opened")
        assert opened.context["path"] == "/reviews" and opened.context["due_on"]

    clock.advance(days=7, minutes=1)
    sim.fire_due_timers()
    assert {n.recipient_id for n in _all(sim, "reminder")} == reviewers

    clock.advance(days=7)
    sim.fire_due_timers()
    with sim.db.reader() as s:
        admins = set(s.scalars(select(Person.id).where(Person.email == "admin@merilahti.example")))
    assert admins <= {n.recipient_id for n in _all(sim, "escalation")}


def _all(host, kind: str) -> list[Notification]:
    with host.db.reader() as s:
        return list(s.scalars(select(Notification).where(Notification.kind == kind)))


def test_a_revocation_waits_for_the_pääkäyttäjä_and_its_confirmation_tells_the_holder_and_the_director(host, people,
                                                                                                        codes):
    clock = Clock(MONDAY)
    sim = Host(host.settings, db=host.db, clock=clock)
    auth = add_active(sim, people["employee"], codes[0], registered=date(2025, 3, 1), until=date(2027, 3, 1))
    instance_id = start(sim, auth, requested_by=people["employee"])
    task = open_task(sim, instance_id)
    assert received(sim, people["admin"], "task_waiting")[0].context["path"] == f"/tasks/{task.id}"

    sim.complete_task(people["admin"], task.id, {"revocation_outcome": "invalidated", "invalidated_on": "2026-03-02"})

    assert {n.recipient_id for n in _all(sim, "authorization_revoked")} >= {people["employee"], people["director"]}
    [holder] = received(sim, people["employee"], "authorization_revoked")
    assert holder.context["on"] == "2026-03-02" and holder.context["authorization_id"] == auth


# -- the transaction ----------------------------------------------------------------------------------------


def test_an_event_rolled_back_leaves_neither_a_notification_nor_an_outbox_row(host, people):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), host.db.unit_of_work() as s:
        org = s.get(Person, people["employee"]).organisation_id
        assert notifications.notify(s, org, [people["employee"]], "reminder", {"process": "review"}, now=host.clock())
        s.flush()
        assert s.scalar(select(func.count(OutboxMessage.id))) == 1  # written, inside the transaction
        raise Boom

    assert outbox(host) == [] and received(host, people["employee"]) == []


def test_a_task_completion_that_fails_validation_notifies_nobody(host, people, codes):
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    before = len(outbox(host))
    with pytest.raises(Exception):  # noqa: B017 – whatever the validation error, nothing may be written
        host.complete_task(people["supervisor"], started.ready_task_ids[0], {"endorsement_decision": "maybe"})
    assert len(outbox(host)) == before


# -- delivery -----------------------------------------------------------------------------------------------


def notify_now(host, person: int, kind="reminder", context=None, now=None) -> None:
    with host.db.unit_of_work() as s:
        org = s.get(Person, person).organisation_id
        notifications.notify(s, org, [person], kind, context or {"process": "review", "path": "/reviews"},
                             now=now or host.clock())


def test_while_smtp_is_down_messages_wait_with_backoff_and_go_out_once_it_is_up(host, people, smtp_down):
    now = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    notify_now(host, people["employee"], now=now)
    settings = mail_settings(host, smtp_down)

    assert notifications.deliver(host, settings, now) == {"sent": 0, "retrying": 1, "failed": 0}
    [row] = outbox(host)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, now + timedelta(minutes=1))
    assert row.last_error
    assert notifications.deliver(host, settings, now + timedelta(seconds=30))["retrying"] == 0  # not yet due
    notifications.deliver(host, settings, now + timedelta(minutes=1))
    [row] = outbox(host)
    assert (row.attempts, row.next_attempt_at) == (2, now + timedelta(minutes=3))

    smtp_down.start()
    assert notifications.deliver(host, settings, now + timedelta(minutes=3))["sent"] == 1
    [row] = outbox(host)
    assert row.status == "sent" and row.sent_at == now + timedelta(minutes=3)
    assert [m["To"] for m in smtp_down.messages] == ["employee@merilahti.example"]


def test_backoff_doubles_and_is_capped():
    assert [notifications.backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert notifications.backoff(30) == notifications.MAX_BACKOFF


def test_every_message_is_sent_once_however_often_delivery_runs(host, people, smtp):
    for who in ("employee", "supervisor", "director"):
        for _ in range(3):
            notify_now(host, people[who])
    settings = mail_settings(host, smtp)
    now = host.clock()

    assert notifications.deliver(host, settings, now)["sent"] == 9
    assert notifications.deliver(host, settings, now + timedelta(hours=1))["sent"] == 0

    assert len(smtp.messages) == 9
    assert len({m["Message-ID"] for m in smtp.messages}) == 9
    assert {r.status for r in outbox(host)} == {"sent"}


def test_two_workers_delivering_at_once_send_every_message_exactly_once(host, people, smtp):
    for _ in range(60):
        notify_now(host, people["supervisor"])
    settings = mail_settings(host, smtp)
    now = host.clock()
    results, errors = [], []

    def worker():
        try:
            results.append(notifications.deliver(host, settings, now)["sent"])
        except Exception as err:  # noqa: BLE001 – reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == [] and sum(results) == 60
    assert len(smtp.messages) == 60 and len({m["Message-ID"] for m in smtp.messages}) == 60


def test_after_the_last_attempt_the_message_is_failed_and_can_be_sent_again(host, people, smtp_down):
    now = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    notify_now(host, people["employee"], now=now)
    settings = mail_settings(host, smtp_down)
    for _ in range(notifications.MAX_ATTEMPTS):
        notifications.deliver(host, settings, now)
        now += timedelta(days=1)

    [row] = outbox(host)
    assert (row.status, row.attempts) == ("failed", notifications.MAX_ATTEMPTS)
    assert notifications.deliver(host, settings, now + timedelta(days=30)) == {"sent": 0, "retrying": 0, "failed": 0}
    with host.db.reader() as s:
        [(failed, name)] = notifications.failed_messages(s, row.organisation_id)
    assert failed.id == row.id and name == "Emilia Esimerkki"

    smtp_down.start()
    with host.db.unit_of_work() as s:
        assert notifications.send_again(s, row.organisation_id, row.id, now)
    assert notifications.deliver(host, settings, now)["sent"] == 1
    assert len(smtp_down.messages) == 1


def test_an_address_the_server_refuses_is_retried_alone_and_the_others_go_out(host, people, smtp):
    with host.db.unit_of_work() as s:
        s.get(Person, people["employee"]).email = "refused@merilahti.example"
    notify_now(host, people["employee"])
    notify_now(host, people["supervisor"])

    counts = notifications.deliver(host, mail_settings(host, smtp), host.clock())

    assert counts == {"sent": 1, "retrying": 1, "failed": 0}
    assert [m["To"] for m in smtp.messages] == ["supervisor@merilahti.example"]
    refused = [r for r in outbox(host) if r.status == "pending"]
    assert [r.to_address for r in refused] == ["refused@merilahti.example"] and "550" in refused[0].last_error


def test_without_smtp_configuration_the_outbox_waits_and_loses_nothing(host, people):
    notify_now(host, people["employee"])
    assert notifications.deliver(host, host.settings, host.clock()) == {"sent": 0, "retrying": 0, "failed": 0}
    assert [(r.status, r.attempts) for r in outbox(host)] == [("pending", 0)]


def test_the_scheduler_sweep_delivers_what_the_flows_wrote(host, people, codes, smtp):
    timed = Host(mail_settings(host, smtp), db=host.db)
    timed.start_request(people["employee"], people["employee"], request_form(codes[:1]))

    counts = scheduler.tick(timed, force=True)

    assert counts["emails_sent"] == 1 and "delivery" not in counts["failed"]
    assert [m["To"] for m in smtp.messages] == ["supervisor@merilahti.example"]


# -- the daily digest ---------------------------------------------------------------------------------------


def test_the_daily_digest_groups_a_days_notifications_into_one_morning_message(host, people, smtp):
    set_daily(host, people["supervisor"])
    evening = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 17:00 in Finland
    for path in ("/tasks/a", "/tasks/b", "/reviews"):
        notify_now(host, people["supervisor"], "reminder", {"process": "review", "path": path}, now=evening)
    assert outbox(host) == []  # nothing at once for a daily person
    assert len(received(host, people["supervisor"])) == 3  # but the list in the app has them

    assert notifications.queue_digests(host, datetime(2026, 11, 24, 4, 30, tzinfo=UTC)) == 0  # 06:30 in Finland
    assert notifications.queue_digests(host, datetime(2026, 11, 24, 5, 1, tzinfo=UTC)) == 1  # 07:01
    late = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    notify_now(host, people["supervisor"], now=late)  # after the cut-off: waits for tomorrow
    assert notifications.queue_digests(host, late + timedelta(minutes=1)) == 0

    notifications.deliver(host, mail_settings(host, smtp), late + timedelta(minutes=1))

    [message] = smtp.messages
    assert message["To"] == "supervisor@merilahti.example" and "24.11.2026" in message["Subject"]
    body = text_of(message)
    assert body.count("Muistutus") == 3
    assert all(f"{BASE_URL}{p}" in body for p in ("/tasks/a", "/tasks/b", "/reviews"))
    assert notifications.queue_digests(host, datetime(2026, 11, 25, 5, 1, tzinfo=UTC)) == 1  # the late one


def test_a_person_without_preferences_gets_email_at_once_and_may_switch_back_from_daily(host, people):
    with host.db.reader() as s:
        assert notifications.email_mode(s, people["employee"]) == "immediate"
        assert s.get(NotificationPreference, people["employee"]) is None
    set_daily(host, people["employee"])
    with host.db.unit_of_work() as s:
        notifications.set_email_mode(s, s.get(Person, people["employee"]), "immediate")
        with pytest.raises(ValueError):
            notifications.set_email_mode(s, s.get(Person, people["employee"]), "hourly")
    notify_now(host, people["employee"])
    assert len(outbox(host)) == 1


def test_every_kind_renders_in_finnish_swedish_and_english_with_its_link():
    context = {"task": {"fi": "Puolla", "sv": "Tillstyrk", "en": "Endorse"}, "process": "revocation", "code": "X1",
               "holder_name": "Emilia", "days": 7, "valid_until": "2026-12-01", "on": "2026-11-22", "codes": ["X1"],
               "path": "/somewhere"}
    subjects = set()
    for kind in notifications.KINDS:
        for language in notifications.LANGUAGES:
            rendered = notifications.render(kind, language, context, BASE_URL, "Emilia")
            assert rendered.subject and "\n" not in rendered.subject
            assert f"{BASE_URL}/somewhere" in rendered.text and f'href="{BASE_URL}/somewhere"' in rendered.html
            subjects.add(rendered.subject)
    assert len(subjects) == len(notifications.KINDS) * len(notifications.LANGUAGES)


def test_html_mail_escapes_names_and_plain_text_keeps_them_as_written():
    rendered = notifications.render(
        "authorization_revoked", "en", {"code": "X1", "holder_name": "A & <B>", "on": "2026-11-22", "path": "/"},
        BASE_URL,
    )
    assert "A & <B>" in rendered.text and "A &amp; &lt;B&gt;" in rendered.html


def test_a_swedish_speaking_persons_digest_is_in_swedish(host, smtp):
    sofia = person_id(host, "anstalld@merilahti.example")
    set_daily(host, sofia)
    notify_now(host, sofia, "expiry_soon", {"code": "X1", "holder_name": "Sofia Lindqvist", "days": 30,
                                            "valid_until": "2026-12-20", "path": "/authorizations/mine"},
               now=datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    morning = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    notifications.queue_digests(host, morning)
    notifications.deliver(host, mail_settings(host, smtp), morning)

    [message] = smtp.messages
    assert message["Subject"] == "Dagens meddelanden från Valtuushallinta (24.11.2026)"
    assert "Fullmakten X1 upphör inom 30 dagar" in text_of(message)
    assert f"{BASE_URL}/authorizations/mine" in html_of(message)
