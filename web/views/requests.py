"""Valtuuspyynnöt: start a request, follow its status and history."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from engine import queries, role_profiles
from engine.clock import local_date
from engine.errors import FormValidationError
from engine.forms import prefill
from engine.models import ProcessSpecVersion

from .. import formrender
from ..auth import login_required
from ..errors import MAX_ID
from ..host import host

bp = Blueprint("requests", __name__, url_prefix="/requests")


@bp.get("")
@login_required
def mine():
    with host().db.reader() as s:
        return render_template("requests/mine.html", rows=queries.my_requests(s, g.user))


@bp.get("/new")
@login_required
def new():
    if request.args.get("renew"):
        return _render_renewal(request.args["renew"])
    if request.args.get("profile"):  # "Mitä valtuuksia tarvitsen?": a role profile's codes and justification draft
        from .profiles import request_prefill

        values, holder_id = request_prefill(request.args["profile"], request.args.get("holder"))
        return _render_new(values=values, holder_id=holder_id)
    return _render_new()


def _render_renewal(renew: str):
    """The new-request form prefilled from an authorization to renew (the same code and justification, from the
    day after its end for a year); only its holder or their supervisor may start it, as for any request."""
    from datetime import timedelta

    from engine.models import Authorization, Person
    from engine.registry import add_months

    try:
        authorization_id = int(renew)
    except ValueError:
        abort(404)
    if not 1 <= authorization_id <= MAX_ID:  # the database would refuse the number
        abort(404)
    today = local_date(host().clock())
    with host().db.reader() as s:
        row = s.get(Authorization, authorization_id)
        holder = s.get(Person, row.holder_id) if row is not None else None
        if row is None or row.organisation_id != g.user.organisation_id or holder is None or not holder.active:
            abort(404)
        if g.user.id not in (holder.id, holder.supervisor_id) or row.status not in ("active", "expired"):
            abort(404)
        start = max(row.valid_until + timedelta(days=1), today) if row.valid_until else today
        values = {
            "codes": [row.code_id],
            "justification": row.justification or "",
            "valid_from": start.isoformat(),
            "valid_until": add_months(start, 12).isoformat(),
        }
    return _render_new(values=values, holder_id=holder.id, renewing=row)


@bp.post("/new")
@login_required
def create():
    try:
        holder_id = int(request.form.get("holder_id") or g.user.id)
    except ValueError:
        abort(400)
    if not 1 <= holder_id <= MAX_ID:  # nobody has it (and the database would refuse the number)
        abort(404)
    try:
        result = host().start_request(g.user.id, holder_id, lambda schema: formrender.parse(schema, request.form))
    except FormValidationError as err:
        return _render_new(values=err.data, errors=err.errors, holder_id=holder_id, status=422)
    flash(_("Your request has been sent."), "success")
    return redirect(url_for("requests.show", instance_id=result.instance_id), 303)


def _render_new(values=None, errors=None, holder_id=None, status=200, renewing=None):
    with host().db.reader() as s:
        schema, ui, info = host().start_form(s, g.user.organisation_id)
        schema = role_profiles.with_profile_choices(s, g.user.organisation_id, schema)
        reports = queries.reports(s, g.user)
        today = local_date(host().clock())
        form_fields = formrender.fields(
            schema, ui, values if values is not None else prefill(schema, {}, today), errors
        )
        return render_template(
            "requests/new.html",
            fields=form_fields,
            reports=reports,
            schema=schema,
            holder_id=holder_id or g.user.id,
            errors=errors or {},
            renewing=renewing,
        ), status


@bp.get("/<int:instance_id>")
@login_required
def show(instance_id: int):
    with host().db.reader() as s:
        view = queries.request_view(s, g.user, instance_id)
        code_names = {a.code.key: a.code.name for a in view.authorizations}
        return render_template(
            "requests/show.html", view=view, done=view.instance.completed_steps or [], code_names=code_names
        )


@bp.get("/<int:instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id: int):
    """The diagram version this request runs on, for the bpmn-js viewer."""
    with host().db.reader() as s:
        view = queries.request_view(s, g.user, instance_id)
        bpmn = s.scalar(select(ProcessSpecVersion.bpmn).where(ProcessSpecVersion.id == view.instance.spec_version_id))
    return Response(bpmn, mimetype="application/xml")
