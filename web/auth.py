"""Sign-in. Demo mode lets a visitor choose a demo person; the session and role checks are real."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from engine import queries

from .host import host
from .security import sign_in_rate_limited
from .sessions import begin as begin_session
from .sessions import end as end_session

bp = Blueprint("auth", __name__)


def init_app(app: Flask) -> None:
    @app.before_request
    def load_user():
        g.user = None
        person_id = session.get("person_id")
        if person_id is not None:
            with host().db.reader() as s:
                g.user = queries.user(s, person_id)
            if g.user is None:
                session.clear()

    @app.context_processor
    def inject_user():
        return {"user": g.get("user"), "demo_sign_in": app.config["DEMO_SIGN_IN"]}


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
        return view(*args, **kwargs)

    return wrapped


def role_required(role: str):
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not g.user.has(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


@bp.get("/login")
def login():
    from flask import current_app

    from . import oidc

    if not current_app.config["DEMO_SIGN_IN"] and not oidc.configured():
        abort(404)
    organisations = []
    if current_app.config["DEMO_SIGN_IN"]:
        with host().db.reader() as s:
            organisations = queries.demo_users(s)
    return render_template(
        "auth/login.html", organisations=organisations, next=request.args.get("next", ""), oidc=oidc.configured()
    )


@bp.post("/login")
@sign_in_rate_limited
def login_post():
    from flask import current_app

    if not current_app.config["DEMO_SIGN_IN"]:
        abort(404)
    try:
        person_id = int(request.form.get("person_id", ""))
    except ValueError:
        flash(_("Choose a person to sign in as."), "error")
        return redirect(url_for("auth.login")), 303
    with host().db.reader() as s:
        found = queries.user(s, person_id)
    if found is None:
        flash(_("Choose a person to sign in as."), "error")
        return redirect(url_for("auth.login")), 303
    begin_session(found.id)  # a fresh session at sign-in: nothing from before is carried over but the language
    return redirect(local_target(request.form.get("next", "")), 303)


def local_target(target: str) -> str:
    """A redirect target on this site only (no //host or /\\host tricks); the front page otherwise."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or "\n" in target:
        return url_for("main.home")
    return target


@bp.post("/logout")
def logout():
    from . import oidc

    provider_end = oidc.end_session_url()  # read before the session (and its ID token) is gone
    end_session()
    flash(_("You have signed out."), "info")
    if provider_end:
        return redirect(provider_end, 303)  # the provider ends its own session and sends the person back to /login
    return redirect(url_for("auth.login") if _demo() or oidc.configured() else url_for("main.home"), 303)


def _demo() -> bool:
    from flask import current_app

    return current_app.config["DEMO_SIGN_IN"]
