"""Valtuusasiaehdotukset: process owners and pääkäyttäjät propose new authorization codes to DVV and follow them
through the five introduction steps (processes/code_introduction)."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from engine import code_introduction, code_proposals

from ..auth import login_required
from ..host import host

bp = Blueprint("code_proposals", __name__, url_prefix="/code-proposals")


def proposer_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not code_proposals.may_see(g.user):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


@bp.get("")
@proposer_required
def index():
    with host().db.reader() as s:
        return render_template(
            "code_proposals/index.html",
            under_way=code_proposals.proposals(s, g.user),
            finished=code_proposals.proposals(s, g.user, under_way=False, limit=50),
        )


@bp.get("/<int:instance_id>")
@proposer_required
def show(instance_id: int):
    with host().db.reader() as s:
        return render_template("code_proposals/show.html", p=code_proposals.proposal(s, g.user, instance_id))


@bp.post("/new")
@proposer_required
def create():
    instance_id, task_id = code_introduction.start_code_introduction(host(), g.user.id)
    flash(_("A new proposal has been started. Fill in the proposal first."), "success")
    if task_id:
        return redirect(url_for("tasks.show", task_id=task_id), 303)
    return redirect(url_for("code_proposals.show", instance_id=instance_id), 303)
