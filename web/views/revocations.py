"""Peru valtuus: the holder, their director or a pääkäyttäjä asks to revoke an authorization, with a reason."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import revocation
from engine.errors import NotFoundError, TaskConflictError
from engine.models import Authorization, AuthorizationCode, Person

from ..auth import login_required
from ..errors import MAX_ID
from ..host import host

bp = Blueprint("revocations", __name__, url_prefix="/revocations")


def _authorization_id(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        abort(400)
    if not 1 <= number <= MAX_ID:  # no authorization has it (and the database would refuse the number)
        abort(404)
    return number


def _render(authorization_id: int, reason: str = "", error: str | None = None, status: int = 200):
    with host().db.reader() as s:
        row = s.get(Authorization, authorization_id)
        if row is None or not revocation.may_request(s, g.user, row):
            raise NotFoundError("authorization not found")
        return render_template(
            "revocations/new.html",
            authorization=row,
            code=s.get(AuthorizationCode, row.code_id),
            holder=s.get(Person, row.holder_id),
            reason=reason,
            error=error,
        ), status


@bp.get("/new")
@login_required
def new():
    return _render(_authorization_id(request.args.get("authorization")))


@bp.post("/new")
@login_required
def create():
    authorization_id = _authorization_id(request.form.get("authorization"))
    reason = request.form.get("reason", "")
    try:
        instance_id = revocation.request_revocation(host(), g.user.id, authorization_id, reason=reason)
    except revocation.RevocationInputError as err:
        message = (
            _("The reason is too long (at most 2000 characters).")
            if err.params.get("limit")
            else _("Give a reason for revoking (at least 3 characters).")
        )
        return _render(authorization_id, reason, message, 422)
    except TaskConflictError:
        return _render(
            authorization_id, reason, _("The authorization is not active, or its revocation is already under way."), 409
        )
    flash(
        _("The revocation has been started. A main administrator will invalidate the mandate in Suomi.fi."), "success"
    )
    return redirect(url_for("requests.show", instance_id=instance_id), 303)
