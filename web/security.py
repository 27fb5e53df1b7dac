"""CSRF on every POST, security headers on every response, the sign-in rate limit and the upload size page."""

from __future__ import annotations

import os
import threading
import time
from functools import wraps

from flask import Flask, current_app, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

csrf = CSRFProtect()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SIGN_IN_LIMIT = 10  # sign-in attempts per client address per window
SIGN_IN_WINDOW = 60  # seconds


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.config.setdefault("SIGN_IN_RATE_LIMIT", int(os.environ.get("VALTUUS_SIGN_IN_RATE_LIMIT") or SIGN_IN_LIMIT))
    app.config.setdefault("SIGN_IN_RATE_WINDOW", SIGN_IN_WINDOW)
    app.extensions["valtuus_sign_in_limiter"] = AddressLimiter()
    hops = int(os.environ.get("VALTUUS_PROXY_HOPS") or 0)
    if hops:  # behind a reverse proxy: the client's address and https come from its X-Forwarded-* headers
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(err):
        from .errors import render_error

        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        return render_error(
            413,
            _(
                "The upload is too large (at most %(mb)s MB in all). Split the file or leave out what is not "
                "needed, and try again.",
                mb=limit // (1024 * 1024),
            ),
        )


class AddressLimiter:
    """A fixed window per client address; ``hit`` answers None (allowed) or the seconds until the window ends.
    Counted in each server process; entries of ended windows are dropped as new ones arrive."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, address: str, limit: int, window: float) -> int | None:
        now = self.clock()
        with self._lock:
            if len(self._windows) > 10_000:
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window}
            start, count = self._windows.get(address, (now, 0))
            if now - start >= window:
                start, count = now, 0
            if count >= limit:
                return max(1, int(start + window - now + 0.999))
            self._windows[address] = (start, count + 1)
            return None


def sign_in_rate_limited(view):
    """At most SIGN_IN_RATE_LIMIT sign-in attempts per client address per minute; then 429 with Retry-After."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        config = current_app.config
        limiter: AddressLimiter = current_app.extensions["valtuus_sign_in_limiter"]
        wait = limiter.hit(request.remote_addr or "-", config["SIGN_IN_RATE_LIMIT"], config["SIGN_IN_RATE_WINDOW"])
        if wait is None:
            return view(*args, **kwargs)
        current_app.logger.warning("sign-in rate limit reached for %s", request.remote_addr)
        from .errors import render_error

        body, status = render_error(
            429, _("Too many sign-in attempts. Wait %(seconds)s seconds and try again.", seconds=wait)
        )
        return body, status, {"Retry-After": str(wait)}

    return wrapped
