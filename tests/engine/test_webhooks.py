"""Outgoing webhooks against a real HTTP receiver on loopback: queued in the event's transaction, signed, delivered
in order per endpoint, retried with backoff, given up and sent again, never across organisations."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select, update

from engine import scheduler, webhooks
from engine import webhook_delivery as delivery
from engine.models import AuthorizationCode, Organisation, Person
from engine.models.webhooks import WebhookDelivery
from tests.conftest import request_form
from tests.engine.test_overview import grant


class Receiver:
    """An HTTP server that records every POST and answers with the next queued status (default 200)."""

    def __init__(self):
        self.received: list[dict] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 – the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.received.append({"headers": dict(self.headers), "body": body, "status": status})
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", "/elsewhere")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, status: int | None = 200) -> list[dict]:
        return [json.loads(r["body"]) for r in self.received if status is None or r["status"] == status]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def org_id(host, people) -> int:
    with host.db.reader() as s:
        return s.get(Person, people["admin"]).organisation_id


def add_endpoint(host, org_id: int, url: str) -> tuple[int, str]:
    with host.db.unit_of_work() as s:
        row, secret = webhooks.create_endpoint(
            s, org_id, url, "IAM", created_by=None, now=host.clock(), allow_http=True
        )
        return row.id, secret


def deliveries(host, **where) -> list[WebhookDelivery]:
    with host.db.reader() as s:
        query = select(WebhookDelivery).order_by(WebhookDelivery.id)
        for name, value in where.items():
            query = query.where(getattr(WebhookDelivery, name) == value)
        return list(s.scalars(query))


def test_a_registry_event_reaches_the_endpoint_signed_with_its_secret(host, people, codes, org_id, receiver):
    endpoint_id, secret = add_endpoint(host, org_id, receiver.url)
    host.start_request(people["employee"], people["employee"], request_form(codes[:2]))
    assert len(deliveries(host, status="pending")) == 2  # written with the request, before any delivery

    now = host.clock()
    assert delivery.deliver(host, now) == {"sent": 2, "retrying": 0, "failed": 0}
    first = receiver.received[0]
    assert delivery.verify_signature(secret, first["headers"]["Valtuus-Signature"], first["body"], now)
    assert not delivery.verify_signature(secret, first["headers"]["Valtuus-Signature"], first["body"] + b" ", now)
    assert not delivery.verify_signature("wrong", first["headers"]["Valtuus-Signature"], first["body"], now)
    event = json.loads(first["body"])
    assert event["type"] == "authorization.requested" == first["headers"]["Valtuus-Event-Type"]
    assert event["id"] == first["headers"]["Valtuus-Event-Id"]
    assert event["authorization"]["status"] == "requested"
    assert event["authorization"]["holder"]["id"] == people["employee"]
    assert event["authorization"]["code"] and event["organisation"]
    assert all(d.status == "sent" for d in deliveries(host))
    assert delivery.deliver(host, now + timedelta(minutes=5))["sent"] == 0  # nothing is sent twice


def test_an_old_signature_is_refused_so_a_captured_request_cannot_be_replayed(host):
    now = host.clock()
    header = delivery.sign("s3cret", int(now.timestamp()), b"{}")
    assert delivery.verify_signature("s3cret", header, b"{}", now + timedelta(seconds=200))
    assert not delivery.verify_signature("s3cret", header, b"{}", now + timedelta(minutes=10))
    assert not delivery.verify_signature("s3cret", "garbage", b"{}", now)


def test_without_endpoints_nothing_is_queued(host, people, codes):
    host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    assert deliveries(host) == []


def test_expiry_in_bulk_queues_one_event_per_authorization_with_its_new_status(host, people, org_id, receiver):
    add_endpoint(host, org_id, receiver.url)
    yesterday = date.today() - timedelta(days=1)
    with host.db.unit_of_work() as s:
        key = s.scalar(select(AuthorizationCode.key).order_by(AuthorizationCode.id))
        ids = [grant(s, people[who], key, end=yesterday) for who in ("employee", "anstalld")]
    scheduler.tick(host, force=True)
    expired = [e for e in receiver.events() if e["type"] == "authorization.expired"]
    assert sorted(e["authorization"]["id"] for e in expired) == sorted(ids)
    assert {e["authorization"]["status"] for e in expired} == {"expired"}


def test_a_failing_receiver_gets_the_event_again_later_and_the_line_keeps_its_order(
    host, people, codes, org_id, receiver
):
    add_endpoint(host, org_id, receiver.url)
    host.start_request(people["employee"], people["employee"], request_form(codes[:3]))
    receiver.statuses = [503]
    now = host.clock()
    assert delivery.deliver(host, now) == {"sent": 0, "retrying": 1, "failed": 0}
    assert len(receiver.received) == 1  # the line stopped at its head
    assert delivery.deliver(host, now + timedelta(seconds=30))["sent"] == 0  # not due yet
    assert delivery.deliver(host, now + timedelta(minutes=1, seconds=1))["sent"] == 3
    sent = receiver.events()
    assert [e["id"] for e in sent] == [d.event_id for d in deliveries(host)]
    head = deliveries(host)[0]
    assert head.attempts == 2 and head.last_status == 200 and head.last_error == ""


def test_after_the_last_attempt_the_event_is_failed_the_line_goes_on_and_it_can_be_sent_again(
    host, people, codes, org_id, receiver
):
    add_endpoint(host, org_id, receiver.url)
    host.start_request(people["employee"], people["employee"], request_form(codes[:2]))
    first = deliveries(host)[0]
    with host.db.unit_of_work() as s:
        s.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == first.id).values(attempts=delivery.MAX_ATTEMPTS - 1)
        )
    receiver.statuses = [500]
    now = host.clock()
    assert delivery.deliver(host, now) == {"sent": 1, "retrying": 0, "failed": 1}
    with host.db.reader() as s:
        assert webhooks.failed_count(s, org_id) == 1
    with host.db.unit_of_work() as s:
        assert webhooks.send_again(s, org_id, first.id, now)
        assert not webhooks.send_again(s, org_id, first.id, now)  # (already pending)
    assert delivery.deliver(host, now)["sent"] == 1
    assert [d.status for d in deliveries(host)] == ["sent", "sent"]


def test_a_redirect_is_not_followed_but_counted_as_a_failure(host, people, codes, org_id, receiver):
    add_endpoint(host, org_id, receiver.url)
    host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    receiver.statuses = [302]
    assert delivery.deliver(host, host.clock())["retrying"] == 1
    assert len(receiver.received) == 1 and deliveries(host)[0].last_status == 302


def test_a_paused_endpoint_gets_no_new_events_and_its_queue_waits_until_resumed(host, people, codes, org_id, receiver):
    endpoint_id, _ = add_endpoint(host, org_id, receiver.url)
    host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    now = host.clock()
    with host.db.unit_of_work() as s:
        webhooks.set_active(s, org_id, endpoint_id, False, actor_id=None, now=now)
    host.start_request(people["anstalld"], people["anstalld"], request_form(codes[:1]))
    assert delivery.deliver(host, now)["sent"] == 0
    assert len(deliveries(host)) == 1
    with host.db.unit_of_work() as s:
        webhooks.set_active(s, org_id, endpoint_id, True, actor_id=None, now=now)
    assert delivery.deliver(host, now)["sent"] == 1


def test_another_organisations_endpoint_never_receives_this_organisations_events(host, people, codes, org_id, receiver):
    with host.db.unit_of_work() as s:
        other = Organisation(key="toinen", name={"fi": "Toinen kunta"}, business_id="1234567-8", languages=["fi"])
        s.add(other)
        s.flush()
        other_id = other.id
    add_endpoint(host, other_id, receiver.url)
    host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    assert deliveries(host) == []
    with host.db.unit_of_work() as s, pytest.raises(webhooks.NotFoundError):
        webhooks.rotate_secret(s, org_id, deliveries_endpoint(host, other_id), actor_id=None, now=host.clock())


def deliveries_endpoint(host, organisation_id: int) -> int:
    with host.db.reader() as s:
        return webhooks.endpoints(s, organisation_id)[0]["endpoint"].id


def test_endpoint_urls_must_be_https_without_credentials_unless_http_is_allowed():
    assert webhooks.check_url(" https://iam.example.fi/hooks ") == "https://iam.example.fi/hooks"
    for url, reason in (
        ("http://iam.example.fi/hooks", "scheme"),
        ("ftp://iam.example.fi/", "scheme"),
        ("https://user:pw@iam.example.fi/", "credentials"),
        ("https:///nohost", "host"),
        ("https://" + "a" * 500 + ".fi", "length"),
        ("javascript:alert(1)", "scheme"),
    ):
        with pytest.raises(webhooks.WebhookUrlError) as err:
            webhooks.check_url(url)
        assert err.value.reason == reason
    assert webhooks.check_url("http://127.0.0.1:8080/x", allow_http=True)


def test_two_workers_delivering_at_once_send_every_event_once_and_in_order(host, people, codes, org_id, receiver):
    add_endpoint(host, org_id, receiver.url)
    for who in ("employee", "anstalld", "supervisor"):
        host.start_request(people[who], people[who], request_form(codes[:3]))
    now = host.clock()
    start = threading.Barrier(2)
    results = []

    def work():
        start.wait()
        results.append(delivery.deliver(host, now))

    workers = [threading.Thread(target=work) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sum(r["sent"] for r in results) == 9
    assert [e["id"] for e in receiver.events()] == [d.event_id for d in deliveries(host)]
    with host.db.reader() as s:
        assert s.scalar(select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status != "sent")) == 0
