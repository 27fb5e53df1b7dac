"""Tehtäväroolit: "Mitä valtuuksia tarvitsen?" for everyone, and the pääkäyttäjä's maintenance pages.

An employee (or their supervisor, for a direct report) picks a role profile, reads why each code is needed, and
opens the ordinary new-request page prefilled with the profile's codes and a justification draft.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import queries, role_profiles
from engine.clock import local_date
from engine.errors import NotFoundError
from engine.models import Person
from engine.registry import add_months

from ..auth import login_required, role_required
from ..errors import MAX_ID
from ..host import host
from ..i18n import LANGUAGES, current_language

bp = Blueprint("profiles", __name__)


def _holder_id(value) -> int:
    try:
        return int(value) if value not in (None, "") else g.user.id
    except ValueError:
        abort(400)


@bp.get("/role-profiles")
@login_required
def index():
    with host().db.reader() as s:
        rows = role_profiles.profiles(s, g.user.organisation_id)
        me = s.get(Person, g.user.id)
        mine = role_profiles.profile_for_person(s, me) if me is not None else None
        return render_template("profiles/index.html", rows=rows, mine=mine)


@bp.get("/role-profiles/<key>")
@login_required
def show(key: str):
    with host().db.reader() as s:
        found = role_profiles.profile(s, g.user.organisation_id, key)
        reports = queries.reports(s, g.user)
        return render_template(
            "profiles/show.html",
            profile=found,
            entries=[e for e in found.codes if e.code is not None and e.code.status == "active"],
            reports=reports,
            holder_id=_holder_id(request.args.get("holder")),
        )


def request_prefill(key: str, holder: str | None) -> tuple[dict, int]:
    """The new-request page's values for a role profile, and for whom (the user or one of their direct reports,
    the people the engine lets them start a request for)."""
    holder_id = _holder_id(holder)
    with host().db.reader() as s:
        if holder_id not in {p.id for p in queries.reports(s, g.user)}:
            raise NotFoundError("person not found")
        found = role_profiles.profile(s, g.user.organisation_id, key)
        today = local_date(host().clock())
        return role_profiles.request_values(found, current_language(), today, add_months(today, 12)), holder_id


# -- the pääkäyttäjä's pages -----------------------------------------------------------------------------------


@bp.get("/admin/role-profiles")
@role_required("administrator")
def admin_index():
    with host().db.reader() as s:
        rows = role_profiles.profiles(s, g.user.organisation_id, include_inactive=True)
        return render_template("profiles/admin_index.html", rows=rows, error=None, values={})


def _texts(prefix: str) -> dict:
    return {lang: request.form.get(f"{prefix}_{lang}", "") for lang in LANGUAGES}


def _details() -> dict:
    return {
        "name": _texts("name"),
        "description": _texts("description"),
        "job_titles": [t for t in request.form.get("job_titles", "").replace("\n", ",").split(",") if t.strip()],
        "active": request.form.get("active") == "1",
    }


@bp.post("/admin/role-profiles")
@role_required("administrator")
def admin_create():
    key = request.form.get("key", "").strip().lower()
    try:
        with host().db.unit_of_work() as s:
            role_profiles.save_profile(s, g.user.id, key=key, **_details(), create=True, now=host().clock())
    except role_profiles.ProfileInputError as err:
        with host().db.reader() as s:
            rows = role_profiles.profiles(s, g.user.organisation_id, include_inactive=True)
            return render_template(
                "profiles/admin_index.html", rows=rows, error=_field_message(err), values=request.form
            ), 422
    flash(_("The role profile was created. Add its codes below."), "success")
    return redirect(url_for("profiles.admin_edit", key=key), 303)


@bp.get("/admin/role-profiles/<key>")
@role_required("administrator")
def admin_edit(key: str):
    return _render_edit(key)


def _render_edit(key: str, error: str | None = None, status: int = 200):
    with host().db.reader() as s:
        found = role_profiles.profile(s, g.user.organisation_id, key, active_only=False)
        addable = role_profiles.addable_codes(s, found)
        return render_template(
            "profiles/admin_edit.html", profile=found, addable=addable, error=error, languages=LANGUAGES
        ), status


@bp.post("/admin/role-profiles/<key>")
@role_required("administrator")
def admin_update(key: str):
    try:
        with host().db.unit_of_work() as s:
            role_profiles.save_profile(s, g.user.id, key=key, **_details(), now=host().clock())
    except role_profiles.ProfileInputError as err:
        return _render_edit(key, _field_message(err), 422)
    flash(_("The role profile was saved."), "success")
    return redirect(url_for("profiles.admin_edit", key=key), 303)


@bp.post("/admin/role-profiles/<key>/codes")
@role_required("administrator")
def admin_codes(key: str):
    entries = []
    for raw in request.form.getlist("keep"):
        code_id = _int(raw)
        entries.append((code_id, _texts(f"reason_{code_id}")))
    if request.form.get("add_code"):
        entries.append((_int(request.form["add_code"]), _texts("add_reason")))
    try:
        with host().db.unit_of_work() as s:
            role_profiles.set_codes(s, g.user.id, key, entries, now=host().clock())
    except role_profiles.ProfileInputError as err:
        return _render_edit(key, _field_message(err), 422)
    flash(_("The codes of the role profile were saved."), "success")
    return redirect(url_for("profiles.admin_edit", key=key), 303)


def _int(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        abort(400)
    if not -MAX_ID - 1 <= number <= MAX_ID:  # the database's integers: a larger number would fail there
        abort(400)
    return number


def _field_message(err: role_profiles.ProfileInputError) -> str:
    field = str(err.params.get("field", ""))
    if field == "key_taken":
        return _("A role profile with this key exists already.")
    if field == "key":
        return _("The key is 2–64 characters: lower-case letters a–z, digits or underscores.")
    if field.startswith("name"):
        return _("Give the role profile a name in Finnish.")
    if field.startswith("reason"):
        return _("Give every code a reason in Finnish.")
    if field == "codes":
        return _("Choose codes of this organisation, each only once.")
    return _("Check the values you gave.")
