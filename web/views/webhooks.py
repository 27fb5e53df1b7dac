"""The pääkäyttäjä's outgoing webhooks: endpoints (the signing secret is shown once), their deliveries, sending a
failed event again, a test event, pausing, rotating the secret and removing an endpoint."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import webhooks
from engine.errors import NotFoundError

from ..auth import role_required
from ..host import host

bp = Blueprint("webhooks", __name__)


def url_problem(reason: str) -> str:
    return {
        "scheme": _("The address must start with https://."),
        "credentials": _("Do not put a user name or password in the address: the secret signs every message."),
        "host": _("The address has no server name, or it contains spaces."),
        "length": _("The address is too long (at most 500 characters)."),
    }[reason]


def _index(status: int = 200, created=None, error: str = "", form=None):
    with host().db.reader() as s:
        rows = webhooks.endpoints(s, g.user.organisation_id)
    page = render_template(
        "webhooks/index.html",
        rows=rows,
        created=created,
        error=error,
        form=form or {},
        allow_http=host().settings.webhook_allow_http,
    )
    return page, status


@bp.get("/admin/webhooks")
@role_required("administrator")
def index():
    return _index()


@bp.post("/admin/webhooks")
@role_required("administrator")
def create():
    url, description = request.form.get("url", ""), request.form.get("description", "")
    try:
        with host().db.unit_of_work() as s:
            row, secret = webhooks.create_endpoint(
                s,
                g.user.organisation_id,
                url,
                description,
                created_by=g.user.id,
                now=host().clock(),
                allow_http=host().settings.webhook_allow_http,
            )
            created = {"id": row.id, "url": row.url, "secret": secret}
    except webhooks.WebhookUrlError as err:
        return _index(400, error=url_problem(err.reason), form={"url": url, "description": description})
    return _index(created=created)  # the only response that ever shows the secret


@bp.get("/admin/webhooks/<int:endpoint_id>")
@role_required("administrator")
def show(endpoint_id: int):
    return _show(endpoint_id)


def _show(endpoint_id: int, secret: str | None = None):
    try:
        with host().db.reader() as s:
            row = webhooks.endpoint(s, g.user.organisation_id, endpoint_id)
            rows = webhooks.deliveries(s, g.user.organisation_id, endpoint_id)
    except NotFoundError:
        abort(404)
    return render_template("webhooks/show.html", endpoint=row, deliveries=rows, secret=secret)


@bp.post("/admin/webhooks/<int:endpoint_id>/rotate")
@role_required("administrator")
def rotate(endpoint_id: int):
    try:
        with host().db.unit_of_work() as s:
            secret = webhooks.rotate_secret(
                s, g.user.organisation_id, endpoint_id, actor_id=g.user.id, now=host().clock()
            )
    except NotFoundError:
        abort(404)
    return _show(endpoint_id, secret=secret)


@bp.post("/admin/webhooks/<int:endpoint_id>/<any(pause, resume):action>")
@role_required("administrator")
def pause_or_resume(endpoint_id: int, action: str):
    try:
        with host().db.unit_of_work() as s:
            webhooks.set_active(
                s, g.user.organisation_id, endpoint_id, action == "resume", actor_id=g.user.id, now=host().clock()
            )
    except NotFoundError:
        abort(404)
    flash(
        _("Events go to the address again.")
        if action == "resume"
        else _("Paused: new events are not queued for this address until you resume it."),
        "success",
    )
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id), 303)


@bp.post("/admin/webhooks/<int:endpoint_id>/ping")
@role_required("administrator")
def ping(endpoint_id: int):
    try:
        with host().db.unit_of_work() as s:
            webhooks.ping(s, g.user.organisation_id, endpoint_id, host().clock())
    except NotFoundError:
        abort(404)
    flash(_("A test event was queued; the worker sends it within a minute."), "success")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id), 303)


@bp.post("/admin/webhooks/<int:endpoint_id>/delete")
@role_required("administrator")
def delete(endpoint_id: int):
    try:
        with host().db.unit_of_work() as s:
            webhooks.delete_endpoint(s, g.user.organisation_id, endpoint_id, actor_id=g.user.id, now=host().clock())
    except NotFoundError:
        abort(404)
    flash(_("The address was removed with its queued events."), "success")
    return redirect(url_for("webhooks.index"), 303)


@bp.post("/admin/webhooks/deliveries/<int:delivery_id>/retry")
@role_required("administrator")
def retry(delivery_id: int):
    with host().db.unit_of_work() as s:
        row = s.get(webhooks.WebhookDelivery, delivery_id)
        if row is None or row.organisation_id != g.user.organisation_id:
            abort(404)
        endpoint_id = row.endpoint_id
        if webhooks.send_again(s, g.user.organisation_id, delivery_id, host().clock()):
            flash(_("The event will be sent again."), "success")
        else:
            flash(_("The event is not waiting to be sent again: it was sent or is already queued."), "error")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id), 303)
