"""Sign-in sessions: a fresh session at sign-in, idle and absolute timeouts, and sign-out that ends it.

The session is Flask's signed cookie (Secure with VALTUUS_SECURE_COOKIES=1, always HttpOnly and SameSite=Lax).
A cookie cannot be taken back from the browser, so each signed-in session carries a random id; sign-out puts the
id on this process's list of ended sessions until the session would have expired anyway, so a copy of the cookie
taken before sign-out no longer signs anyone in. Every sign-in method starts its session with ``begin`` and ends
it with ``end``.
"""

from __future__ import annotations

import os
import secrets
import threading
import time

from flask import Flask, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _

IDLE_MINUTES = 30
MAX_HOURS = 10
SEEN_RESOLUTION = 60  # seconds: the last-seen time is written at most once a minute, not on every request
KEYS_KEPT = ("lang",)  # what survives sign-in and sign-out: the chosen language, nothing else


class EndedSessions:
    """Ids of sessions signed out in this process, each kept until it would have expired on its own."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, sid: str, until: float) -> None:
        now = time.time()
        with self._lock:
            self._until = {k: v for k, v in self._until.items() if v > now}
            self._until[sid] = until

    def __contains__(self, sid: str) -> bool:
        with self._lock:
            return self._until.get(sid, 0) > time.time()


def init_app(app: Flask) -> None:
    app.config.setdefault("SESSION_IDLE_MINUTES", float(os.environ.get("VALTUUS_SESSION_IDLE_MINUTES") or IDLE_MINUTES))
    app.config.setdefault("SESSION_MAX_HOURS", float(os.environ.get("VALTUUS_SESSION_MAX_HOURS") or MAX_HOURS))
    app.extensions["valtuus_ended_sessions"] = EndedSessions()
    if app.config.get("SESSION_COOKIE_SECURE") and app.config.get("SESSION_COOKIE_NAME") == "session":
        app.config["SESSION_COOKIE_NAME"] = "__Host-session"  # the browser keeps it to https, this host, path /
    app.before_request(_check_session)  # registered before auth's load_user, so an expired session signs nobody in


def begin(person_id: int) -> None:
    """A new session for this person: nothing from before sign-in is carried over but the language."""
    kept = {key: session[key] for key in KEYS_KEPT if key in session}
    session.clear()
    session.update(kept)
    now = int(time.time())
    session["person_id"] = person_id
    session["sid"] = secrets.token_urlsafe(24)
    session["started"] = now
    session["seen"] = now


def end() -> None:
    """Sign out: the session's id is refused from now on and the cookie is emptied (the language stays)."""
    sid, started = session.get("sid"), session.get("started")
    if isinstance(sid, str) and isinstance(started, int):
        _ended().add(sid, started + _max_seconds())
    kept = {key: session[key] for key in KEYS_KEPT if key in session}
    session.clear()
    session.update(kept)


def _ended() -> EndedSessions:
    return current_app.extensions["valtuus_ended_sessions"]


def _max_seconds() -> float:
    return current_app.config["SESSION_MAX_HOURS"] * 3600


def expiry_reason(now: float) -> str | None:
    """Why the signed-in session may no longer be used ("ended", "idle", "absolute"), or None when it may."""
    sid, started, seen = session.get("sid"), session.get("started"), session.get("seen")
    if not isinstance(sid, str) or not isinstance(started, int) or not isinstance(seen, int) or sid in _ended():
        return "ended"  # signed out, or a cookie from before sessions had ids
    if now - started > _max_seconds():
        return "absolute"
    if now - seen > current_app.config["SESSION_IDLE_MINUTES"] * 60:
        return "idle"
    return None


def _check_session():
    if "person_id" not in session or request.endpoint == "static":
        return None
    now = time.time()
    reason = expiry_reason(now)
    if reason is None:
        if now - session["seen"] >= SEEN_RESOLUTION:
            session["seen"] = int(now)
        return None
    end()
    if reason == "ended" or request.path.startswith("/api/"):
        return None  # carry on signed out (the API authenticates with tokens; the stale cookie is just dropped)
    if reason == "idle":
        flash(_("You were signed out because the session was idle for too long. Please sign in again."), "info")
    else:
        flash(_("You were signed out because the session reached its maximum length. Please sign in again."), "info")
    target = request.full_path if request.method == "GET" else None
    return redirect(url_for("auth.login", next=target), 303 if request.method != "GET" else 302)
