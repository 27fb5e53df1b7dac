"""/notifications (the list, mark read, the e-mail preference, the calendar link), the header badge, the calendar
feed at its secret URL and /admin/outbox (e-mail that could not be sent, *send again*) – through the test client."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from engine import notifications, review
from engine.models import Notification, NotificationPreference, OutboxMessage, Person
from tests.conftest import request_form
from tests.engine.test_revocation import add_active

FEED = re.compile(r'value="(http://localhost/calendar/[^"]+\.ics)"')


def notify(host, person: int, path: str = "/reviews", now=None) -> None:
    with host.db.unit_of_work() as s:
        org = s.get(Person, person).organisation_id
        notifications.notify(s, org, [person], "reminder", {"process": "review", "path": path},
                             now=now or host.clock())


def unread(host, person: int) -> int:
    with host.db.reader() as s:
        return notifications.unread_count(s, person)


def test_the_list_shows_the_newest_first_with_links_and_the_header_counts_the_unread(host, web, people, codes):
    host.start_request(people["employee"], people["employee"], request_form(codes[:1]))  # a task for the supervisor
    notify(host, people["supervisor"], "/reviews", now=host.clock() + timedelta(minutes=5))
    web.login("supervisor")

    page = web.client.get("/notifications").get_data(as_text=True)

    assert page.index("Muistutus") < page.index("Tehtävä odottaa sinua")
    assert 'href="/reviews"' in page and 'href="/tasks/' in page
    assert re.search(r'<span class="badge">2<span class="visually-hidden">', page)


def test_marking_read_needs_the_csrf_token_and_touches_only_ones_own(host, web, people):
    notify(host, people["supervisor"])
    notify(host, people["employee"])
    with host.db.reader() as s:
        mine = s.scalars(select(Notification.id).where(Notification.recipient_id == people["supervisor"])).one()
        theirs = s.scalars(select(Notification.id).where(Notification.recipient_id == people["employee"])).one()
    web.login("supervisor")

    assert web.client.post("/notifications/read", data={"id": mine}).status_code == 400
    assert web.post("/notifications/read", {"id": theirs}, token_from="/notifications").status_code == 303
    assert unread(host, people["employee"]) == 1 and unread(host, people["supervisor"]) == 1

    assert web.post("/notifications/read", {"id": mine}, token_from="/notifications").status_code == 303
    assert unread(host, people["supervisor"]) == 0
    page = web.client.get("/notifications").get_data(as_text=True)
    assert 'name="id"' not in page and 'class="badge"' not in page.split("</nav>")[0].split("<nav")[-1]


def test_mark_all_read_clears_the_badge(host, web, people):
    for _ in range(3):
        notify(host, people["employee"])
    web.login("employee")
    web.post("/notifications/read", {}, token_from="/notifications")
    assert unread(host, people["employee"]) == 0


def test_the_email_preference_is_saved_and_a_daily_person_gets_no_email_at_once(host, web, people):
    web.login("employee")
    assert 'value="immediate" checked' in web.client.get("/notifications").get_data(as_text=True)

    assert web.post("/notifications/preferences", {"email": "daily"}, token_from="/notifications").status_code == 303
    assert web.post("/notifications/preferences", {"email": "hourly"}, token_from="/notifications").status_code == 400

    assert 'value="daily" checked' in web.client.get("/notifications").get_data(as_text=True)
    notify(host, people["employee"])
    with host.db.reader() as s:
        assert s.scalars(select(OutboxMessage)).all() == []
        assert s.get(NotificationPreference, people["employee"]).email == "daily"


def test_the_calendar_feed_lists_ones_own_expiries_and_review_deadlines_and_a_new_link_revokes_the_old(
    host, web, people, codes
):
    today = datetime.now(UTC).date()
    add_active(host, people["director"], codes[0], registered=date(2024, 1, 1), until=today + timedelta(days=40))
    add_active(host, people["employee"], codes[1], registered=date(2024, 1, 1), until=today + timedelta(days=300),
               next_review=today + timedelta(days=10))
    review.open_due_rounds(host, host.clock())  # the director reviews the employee's authorization
    web.login("director")

    web.post("/notifications/calendar", {}, token_from="/notifications")
    page = web.client.get("/notifications").get_data(as_text=True)
    first = FEED.search(page).group(1)
    assert FEED.search(web.client.get("/notifications").get_data(as_text=True)) is None  # shown once

    web.client.post("/logout", data={"csrf_token": web.token("/notifications")})
    feed = web.client.get(first.removeprefix("http://localhost"))  # no login needed

    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    body = feed.get_data(as_text=True)
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert body.count("BEGIN:VEVENT") == 2
    assert f"DTSTART;VALUE=DATE:{(today + timedelta(days=40)).strftime('%Y%m%d')}" in body  # her own end date
    assert "Tarkastelu erääntyy" in body
    assert "Emilia" not in body  # the employee's authorization is not hers: only the review deadline shows
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))

    web.login("director")
    web.post("/notifications/calendar", {}, token_from="/notifications")
    second = FEED.search(web.client.get("/notifications").get_data(as_text=True)).group(1)
    assert second != first
    assert web.client.get(first.removeprefix("http://localhost")).status_code == 404
    assert web.client.get(second.removeprefix("http://localhost")).status_code == 200
    assert web.client.get("/calendar/not-a-token.ics").status_code == 404
    with host.db.reader() as s:
        stored = s.get(NotificationPreference, people["director"]).calendar_token_sha256
    assert stored and stored not in first


def test_the_pääkäyttäjä_sees_email_that_failed_and_sends_it_again(host, web, people):
    notify(host, people["employee"])
    with host.db.unit_of_work() as s:
        row = s.scalars(select(OutboxMessage)).one()
        row.status, row.attempts, row.last_error = "failed", notifications.MAX_ATTEMPTS, "SMTPRecipientsRefused: 550"
        row_id = row.id
    web.login("admin")
    home = web.client.get("/").get_data(as_text=True)
    assert 'href="/admin/outbox"' in home

    page = web.client.get("/admin/outbox").get_data(as_text=True)
    assert "employee@merilahti.example" in page and "SMTPRecipientsRefused: 550" in page

    assert web.client.post(f"/admin/outbox/{row_id}/send-again").status_code == 400  # no CSRF token
    assert web.post(f"/admin/outbox/{row_id}/send-again", {}, token_from="/admin/outbox").status_code == 303
    with host.db.reader() as s:
        again = s.get(OutboxMessage, row_id)
    assert (again.status, again.attempts) == ("pending", 0)
    assert web.post(f"/admin/outbox/{row_id}/send-again", {}, token_from="/admin/outbox").status_code == 404


def test_only_the_pääkäyttäjä_sees_the_outbox(web):
    web.login("employee")
    assert web.client.get("/admin/outbox").status_code == 403
    web.client.post("/logout", data={"csrf_token": web.token("/notifications")})
    assert web.client.get("/notifications").status_code in (302, 303)
