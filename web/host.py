"""Access to the engine host from views (created by the app factory, never at import time)."""

from __future__ import annotations

from flask import current_app, g

from engine import queries
from engine.runtime import Host


def host() -> Host:
    return current_app.extensions["valtuus"]


def user() -> queries.User | None:
    return g.get("user")
