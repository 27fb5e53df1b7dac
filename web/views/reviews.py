"""Tarkastelut: the reviewer's one screen – every pending review line across rounds, decided per line or in bulk.

Decisions go to ``engine.review.decide`` (all or nothing, optimistic lock per line); when the last line of a
round is decided the round's task is completed in the same request, which applies the decisions.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from engine import review
from engine.clock import local_date
from engine.models import ProcessInstance, Unit

from ..auth import login_required
from ..errors import MAX_ID, render_error
from ..host import host

bp = Blueprint("reviews", __name__, url_prefix="/reviews")
MAX_LINES = 500


def problem_text(code: str) -> str:
    return {
        "invalid_decision": _("Choose keep, change the end date or revoke."),
        "end_date_required": _("Give the new end date."),
        "end_date_not_after_today": _("The new end date must be after today."),
        "end_date_too_late": _("The end date may be at most 25 years after the start (the Suomi.fi limit)."),
        "reason_required": _("Give a reason for revoking (at least 3 characters)."),
        "reason_too_long": _("The reason is too long (at most 2000 characters)."),
        "identity_code": _("Do not write a personal identity code (henkilötunnus) in the reason: none is stored."),
        "own_authorization": _("You cannot review your own authorization."),
        "nothing_selected": _("Select at least one authorization."),
    }.get(code, _("This decision could not be recorded."))


@bp.app_context_processor
def review_navigation():
    """The navigation's "Reviews" link: for pääkäyttäjät always, for others when lines wait (one count query)."""

    def instance_processes(ids) -> dict[int, str]:
        """Process ids of the instances a registry page links to (at most a page's worth, one query)."""
        wanted = [int(i) for i in ids if i][:500]
        if not wanted or g.get("user") is None:
            return {}
        with host().db.reader() as s:
            return dict(
                s.execute(
                    select(ProcessInstance.id, ProcessInstance.process_id).where(
                        ProcessInstance.id.in_(wanted), ProcessInstance.organisation_id == g.user.organisation_id
                    )
                ).all()
            )

    user = g.get("user")
    count, show = 0, False
    if user is not None and request.endpoint and not request.endpoint.startswith("static"):
        with host().db.reader() as s:
            count = review.pending_count(s, user)
        show = bool(count) or user.has("administrator")
    return {"review_nav": {"show": show, "count": count}, "instance_processes": instance_processes}


@bp.app_errorhandler(review.ReviewPendingError)
def round_not_finished(err):
    return render_error(409, _("Decide every authorization of the round before finishing it."))


@bp.get("")
@login_required
def index():
    return _render()


def _render(errors: dict | None = None, message: str | None = None, values: dict | None = None, status: int = 200):
    with host().db.reader() as s:
        lines, total = review.pending_lines(s, g.user, limit=MAX_LINES)
        rounds = review.rounds(s, g.user)
        units = {
            u.id: u.name
            for u in s.execute(select(Unit.id, Unit.name).where(Unit.organisation_id == g.user.organisation_id))
        }
    return render_template(
        "reviews/index.html",
        lines=lines,
        total=total,
        rounds=rounds,
        units=units,
        errors={k: problem_text(v) for k, v in (errors or {}).items()},
        message=message,
        values=values or {},
        today=local_date(host().clock()),
    ), status


def _int(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        abort(400)
    if not -MAX_ID - 1 <= number <= MAX_ID:  # the database's integers: a larger number would fail there
        abort(400)
    return number


def _day(value: str | None) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return date.min  # not a date: validation says "after today"


def _decisions() -> list[review.Decision]:
    form = request.form
    if form.get("decide"):  # one line's own button: "<item id>:<decision>"
        item, _sep, decision = form["decide"].partition(":")
        item_id = _int(item)
        return [
            review.Decision(
                item_id,
                _int(form.get(f"version-{item_id}")),
                decision,
                new_valid_until=_day(form.get(f"end-{item_id}")),
                reason=form.get(f"reason-{item_id}", ""),
            )
        ]
    if form.get("bulk"):  # the selected lines, one decision for all
        decision = form["bulk"]
        return [
            review.Decision(
                item_id,
                _int(form.get(f"version-{item_id}")),
                decision,
                new_valid_until=_day(form.get("bulk_end")),
                reason=form.get("bulk_reason", ""),
            )
            for item_id in dict.fromkeys(_int(v) for v in form.getlist("selected"))
        ]
    abort(400)


@bp.post("/decide")
@login_required
def decide():
    decisions = _decisions()
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    if not decisions:
        return _render(errors={0: "nothing_selected"}, values=values, status=422)
    try:
        result = review.decide(host(), g.user.id, decisions)
    except review.ReviewInputError as err:
        return _render(errors=err.errors, values=values, status=422)
    except review.ReviewConflictError:
        return _render(
            message=_("Someone else decided on this authorization first. The list now shows what is still pending."),
            status=409,
        )
    flash(ngettext("%(num)s decision recorded.", "%(num)s decisions recorded.", len(result.decided)), "success")
    if result.finished_rounds:
        flash(_("Every authorization of the round has been decided: the round is finished."), "success")
    return redirect(url_for("reviews.index"), 303)


@bp.post("/rounds/<int:instance_id>/finish")
@login_required
def finish(instance_id: int):
    try:
        review.finish_round(host(), g.user.id, instance_id)
    except review.ReviewPendingError:
        return _render(message=_("Decide every authorization of the round before finishing it."), status=409)
    flash(_("The round is finished and its decisions have been applied."), "success")
    return redirect(url_for("reviews.index"), 303)
