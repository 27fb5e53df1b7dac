"""Herätteet: one's notifications (newest first, mark read), e-mail preference, the personal calendar link,
the calendar feed itself (no login: a secret URL for calendar apps) and, for the pääkäyttäjä, e-mail that
could not be sent (``/admin/outbox``, *Lähetä uudelleen*)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from engine import notifications
from engine.models import Person

from ..auth import login_required, role_required
from ..host import host
from ..i18n import current_language

bp = Blueprint("notifications", __name__)
NEW_TOKEN = "calendar_token"  # shown once on the page after it is created, then only its hash exists


@bp.app_context_processor
def notification_badge():
    """The header's unread count: one indexed count query per page for a signed-in person (and for the
    pääkäyttäjä the number of e-mails that could not be sent, so that they are seen)."""
    user = g.get("user")
    if user is None or not request.endpoint or request.endpoint.startswith("static"):
        return {"unread_notifications": 0, "failed_emails": 0}
    with host().db.reader() as s:
        failed = notifications.failed_count(s, user.organisation_id) if user.has("administrator") else 0
        return {"unread_notifications": notifications.unread_count(s, user.id), "failed_emails": failed}


@bp.get("/notifications")
@login_required
def index():
    language = current_language()
    with host().db.reader() as s:
        rows = notifications.for_person(s, g.user.id)
        items = [
            {
                "id": n.id,
                "subject": notifications.subject(n.kind, language, n.context),
                "path": n.context.get("path", "/"),
                "at": n.created_at,
                "read": n.read_at is not None,
            }
            for n in rows
        ]
        mode = notifications.email_mode(s, g.user.id)
        has_calendar = notifications.has_calendar(s, g.user.id)
    token = session.pop(NEW_TOKEN, None)
    feed_url = url_for("notifications.calendar", token=token, _external=True) if token else None
    return render_template(
        "notifications/index.html", items=items, mode=mode, has_calendar=has_calendar, feed_url=feed_url
    )


@bp.post("/notifications/read")
@login_required
def mark_read():
    raw = request.form.get("id", "")
    notification_id = int(raw) if raw.isdigit() and len(raw) < 10 else None  # (a database integer)
    if raw and notification_id is None:
        abort(400)
    with host().db.unit_of_work() as s:
        notifications.mark_read(s, g.user.id, host().clock(), notification_id)
    return redirect(url_for("notifications.index"), 303)


@bp.post("/notifications/preferences")
@login_required
def preferences():
    mode = request.form.get("email", "")
    if mode not in notifications.MODES:
        abort(400)
    with host().db.unit_of_work() as s:
        notifications.set_email_mode(s, s.get(Person, g.user.id), mode)
    flash(_("Your e-mail preference was saved."), "success")
    return redirect(url_for("notifications.index"), 303)


@bp.post("/notifications/calendar")
@login_required
def new_calendar_link():
    with host().db.unit_of_work() as s:
        token = notifications.new_calendar_token(s, s.get(Person, g.user.id), host().clock())
    session[NEW_TOKEN] = token
    flash(_("A new calendar link was created; the old link no longer works."), "success")
    return redirect(url_for("notifications.index"), 303)


@bp.get("/calendar/<token>.ics")
def calendar(token: str):
    h = host()
    base_url = h.settings.base_url if h.settings is not None else ""
    with h.db.reader() as s:
        feed = notifications.calendar_feed(s, token, h.clock(), base_url)
    if feed is None:
        abort(404)
    response = Response(feed, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="valtuushallinta.ics"'
    response.headers["Cache-Control"] = "private, max-age=900"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# -- e-mail that could not be sent -----------------------------------------------------------------------


@bp.get("/admin/outbox")
@role_required("administrator")
def outbox():
    with host().db.reader() as s:
        rows = notifications.failed_messages(s, g.user.organisation_id)
    return render_template("notifications/outbox.html", rows=rows, max_attempts=notifications.MAX_ATTEMPTS)


@bp.post("/admin/outbox/<int:outbox_id>/send-again")
@role_required("administrator")
def send_again(outbox_id: int):
    with host().db.unit_of_work() as s:
        found = notifications.send_again(s, g.user.organisation_id, outbox_id, host().clock())
    if not found:
        abort(404)
    flash(_("The message is queued to be sent again."), "success")
    return redirect(url_for("notifications.outbox"), 303)
