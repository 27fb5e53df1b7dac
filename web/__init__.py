"""Valtuushallinta web: the Flask face of the engine. Data flows web → engine → database."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from engine.config import Settings
from engine.runtime import Host

from . import api, auth, errors, i18n, labels, oidc, security, sessions
from .views import (
    api_admin,
    audit,
    catalog,
    code_proposals,
    help,
    hr,
    imports,
    main,
    notifications,
    processes,
    profiles,
    registry,
    requests,
    reviews,
    revocations,
    tasks,
    webhooks,
)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("SECRET_KEY", ""),
        DEMO_SIGN_IN=os.environ.get("VALTUUS_DEMO_SIGN_IN", "0") == "1",  # off unless asked for (make run does)
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("VALTUUS_SECURE_COOKIES", "0") == "1",
        MAX_CONTENT_LENGTH=9 * 1024 * 1024,  # spreadsheet uploads are at most 8 MB; forms are far smaller
        WTF_CSRF_TIME_LIMIT=None,
        NODE_MODULES=str(Path(__file__).resolve().parent.parent / "node_modules"),
    )
    if test_config:
        app.config.update(test_config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    settings = app.config.get("VALTUUS_SETTINGS") or Settings.from_env()
    app.extensions["valtuus"] = app.config.get("VALTUUS_HOST") or Host(settings)

    i18n.init_app(app)
    labels.init_app(app)
    security.init_app(app)
    sessions.init_app(app)  # before auth: an expired session signs nobody in
    auth.init_app(app)
    oidc.init_app(app)
    errors.init_app(app)
    for blueprint in (
        main.bp, auth.bp, tasks.bp, requests.bp, registry.bp, imports.bp, reviews.bp, revocations.bp, hr.bp,
        notifications.bp, api.bp, api_admin.bp, webhooks.bp, help.bp, processes.bp, profiles.bp,
        catalog.bp, audit.bp, code_proposals.bp, oidc.bp,
    ):
        app.register_blueprint(blueprint)
    return app


def _instance_secret(instance: Path) -> str:
    """A per-installation secret kept in the instance folder, created on first start."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(os.urandom(32).hex())
        path.chmod(0o600)
    return path.read_text().strip()
