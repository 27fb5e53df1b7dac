"""Valtuudet: the registry list (whole organisation for the pääkäyttäjä, own unit for directors)."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request

from engine import queries
from engine.models import AuthorizationStatus

from ..auth import login_required
from ..host import host

bp = Blueprint("registry", __name__, url_prefix="/authorizations")


@bp.get("")
@login_required
def index():
    status = request.args.get("status") or None
    if status and status not in {s.value for s in AuthorizationStatus}:
        status = None
    with host().db.reader() as s:
        rows = queries.authorizations(s, g.user, status=status)
        return render_template(
            "registry/index.html",
            rows=rows,
            status=status,
            statuses=[s.value for s in AuthorizationStatus if s.value != "cancelled"],
        )
