"""Home, health check, language choice and the front-end packages served from npm."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, g, redirect, request, send_from_directory, session
from sqlalchemy import text

from engine import queries

from ..auth import local_target, login_required
from ..host import host
from ..i18n import LANGUAGES

bp = Blueprint("main", __name__)
VENDOR_FILES = {
    "bpmn-navigated-viewer.js": "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
    "bpmn-js.css": "bpmn-js/dist/assets/bpmn-js.css",
    "diagram-js.css": "bpmn-js/dist/assets/diagram-js.css",
}


@bp.get("/")
@login_required
def home():
    from flask import render_template

    with host().db.reader() as s:
        tasks = queries.inbox(s, g.user)
        mine = queries.my_requests(s, g.user)[:5]
        return render_template("home.html", tasks=tasks, mine=mine)


@bp.get("/healthz")
def healthz():
    try:
        with host().db.reader() as s:
            s.execute(text("SELECT 1"))
    except Exception:  # the point of a health check is to say "no" instead of failing
        return {"status": "error", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}


@bp.post("/language")
def set_language():
    lang = request.form.get("lang", "")
    if lang not in LANGUAGES:
        abort(400)
    session["lang"] = lang
    return redirect(local_target(request.form.get("next", "")), 303)


@bp.get("/vendor/<name>")
def vendor(name: str):
    """bpmn-js as installed from npm (never vendored into the repository)."""
    relative = VENDOR_FILES.get(name)
    if relative is None:
        abort(404)
    path = Path(current_app.config["NODE_MODULES"]) / relative
    if not path.is_file():
        abort(404)
    return send_from_directory(path.parent, path.name, max_age=86400)
