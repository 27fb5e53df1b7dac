"""The pääkäyttäjä's webhook pages: adding an address (secret shown once), refusing bad addresses with a clear
message, the deliveries list with sending again, pausing, rotating, removing – and nobody else gets in."""

from __future__ import annotations

from sqlalchemy import select, update

from engine import webhook_delivery, webhooks
from engine.models import AuditEvent, Organisation
from engine.models.webhooks import WebhookDelivery, WebhookEndpoint
from tests.conftest import request_form


def secret_in(html: str) -> str:
    return html.split('<code id="new-secret">')[1].split("</code>")[0]


def test_the_administrator_adds_an_address_and_sees_its_secret_only_once(web, client, host):
    web.login("admin")
    page = web.post("/admin/webhooks", {"url": "https://iam.example.fi/valtuudet", "description": "IAM"})
    assert page.status_code == 200
    secret = secret_in(page.get_data(as_text=True))
    with host.db.reader() as s:
        row = s.scalar(select(WebhookEndpoint))
        assert row.secret == secret and row.url == "https://iam.example.fi/valtuudet" and row.active
        assert s.scalar(select(AuditEvent.action).where(AuditEvent.action == "webhook.created"))
    listing = client.get("/admin/webhooks").get_data(as_text=True)
    assert "https://iam.example.fi/valtuudet" in listing and secret not in listing
    assert secret not in client.get(f"/admin/webhooks/{row.id}").get_data(as_text=True)


def test_a_bad_address_is_refused_with_a_message_in_the_users_language_and_nothing_is_stored(web, client, host):
    web.login("admin")
    page = web.post("/admin/webhooks", {"url": "http://iam.example.fi/x", "description": "IAM"})
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert 'aria-invalid="true"' in html and "http://iam.example.fi/x" in html  # kept for correcting
    assert "Osoitteen on alettava https://." in html  # Finnish, the default language
    web.post("/language", {"lang": "sv", "next": "/admin/webhooks"}, token_from="/admin/webhooks")
    swedish = web.post("/admin/webhooks", {"url": "ftp://iam.example.fi/"}).get_data(as_text=True)
    assert "Adressen måste börja med https://." in swedish
    assert web.post("/admin/webhooks", {"url": "https://user:pw@iam.example.fi/"}).status_code == 400
    with host.db.reader() as s:
        assert s.scalar(select(WebhookEndpoint)) is None


def test_a_failed_event_is_listed_and_sent_again_from_the_page(web, client, host, people, codes):
    web.login("admin")
    web.post("/admin/webhooks", {"url": "https://iam.example.fi/hooks"})
    host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    with host.db.unit_of_work() as s:
        s.execute(
            update(WebhookDelivery).values(
                status="failed", attempts=webhook_delivery.MAX_ATTEMPTS, last_error="HTTP 500"
            )
        )
        endpoint_id, delivery_id = s.execute(select(WebhookDelivery.endpoint_id, WebhookDelivery.id)).one()
    page = client.get(f"/admin/webhooks/{endpoint_id}").get_data(as_text=True)
    assert "authorization.requested" in page and "HTTP 500" in page
    assert "<strong>1</strong>" in client.get("/admin/webhooks").get_data(as_text=True)
    answer = web.post(
        f"/admin/webhooks/deliveries/{delivery_id}/retry", {}, token_from=f"/admin/webhooks/{endpoint_id}"
    )
    assert answer.status_code == 303
    with host.db.reader() as s:
        assert s.get(WebhookDelivery, delivery_id).status == "pending"


def test_pause_rotate_ping_and_remove_act_on_the_address(web, client, host):
    web.login("admin")
    web.post("/admin/webhooks", {"url": "https://iam.example.fi/hooks"})
    with host.db.reader() as s:
        row = s.scalar(select(WebhookEndpoint))
    base = f"/admin/webhooks/{row.id}"
    assert web.post(f"{base}/pause", {}, token_from=base).status_code == 303
    rotated = web.post(f"{base}/rotate", {}, token_from=base)
    assert rotated.status_code == 200
    assert web.post(f"{base}/ping", {}, token_from=base).status_code == 303
    with host.db.reader() as s:
        again = s.get(WebhookEndpoint, row.id)
        assert not again.active and again.secret == secret_in(rotated.get_data(as_text=True)) != row.secret
        assert s.scalar(select(WebhookDelivery.event_type)) == "ping"
    assert web.post(f"{base}/delete", {}, token_from=base).status_code == 303
    with host.db.reader() as s:
        assert s.scalar(select(WebhookEndpoint)) is None and s.scalar(select(WebhookDelivery)) is None


def test_only_the_administrator_of_the_same_organisation_reaches_the_pages(web, client, host):
    with host.db.unit_of_work() as s:
        other = Organisation(key="toinen", name={"fi": "Toinen kunta"}, business_id="1234567-8", languages=["fi"])
        s.add(other)
        s.flush()
        foreign, _ = webhooks.create_endpoint(
            s, other.id, "https://other.example.fi/", "", created_by=None, now=host.clock()
        )
        foreign_id = foreign.id
    web.login("admin")
    assert client.get(f"/admin/webhooks/{foreign_id}").status_code == 404
    assert web.post(f"/admin/webhooks/{foreign_id}/rotate", {}, token_from="/admin/webhooks").status_code == 404
    assert "other.example.fi" not in client.get("/admin/webhooks").get_data(as_text=True)
    assert client.post("/admin/webhooks", data={"url": "https://x.example.fi/"}).status_code == 400  # no CSRF token
    web.login("employee")
    assert client.get("/admin/webhooks").status_code == 403
    assert web.post("/admin/webhooks", {"url": "https://x.example.fi/"}, token_from="/").status_code == 403
