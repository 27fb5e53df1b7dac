"""The pääkäyttäjä's page for integration API tokens: create (the token is shown once), list and revoke."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import api_tokens
from engine.errors import NotFoundError

from ..auth import role_required
from ..host import host

bp = Blueprint("api_admin", __name__)


@bp.get("/admin/api-tokens")
@role_required("administrator")
def index():
    with host().db.reader() as s:
        rows = api_tokens.tokens(s, g.user.organisation_id)
        return render_template("api/tokens.html", rows=rows, scopes=api_tokens.SCOPES, created=None)


@bp.post("/admin/api-tokens")
@role_required("administrator")
def create():
    name = request.form.get("name", "")
    scopes = request.form.getlist("scopes")
    try:
        with host().db.unit_of_work() as s:
            row, secret = api_tokens.create(
                s, g.user.organisation_id, name, scopes, created_by=g.user.id, now=host().clock()
            )
            created = {"id": row.id, "name": row.name, "secret": secret}
    except ValueError:
        flash(_("Give the token a name and choose at least one scope."), "error")
        return redirect(url_for("api_admin.index"), 303)
    with host().db.reader() as s:  # shown once: this response is the only place the token ever appears
        rows = api_tokens.tokens(s, g.user.organisation_id)
        return render_template("api/tokens.html", rows=rows, scopes=api_tokens.SCOPES, created=created)


@bp.post("/admin/api-tokens/<int:token_id>/revoke")
@role_required("administrator")
def revoke(token_id: int):
    try:
        with host().db.unit_of_work() as s:
            api_tokens.revoke(s, g.user.organisation_id, token_id, actor_id=g.user.id, now=host().clock())
    except NotFoundError:
        abort(404)
    flash(_("The token was revoked."), "success")
    return redirect(url_for("api_admin.index"), 303)
