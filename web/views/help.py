"""Ohjeet: the guides for the employee, the director and the pääkäyttäjä, in the UI language.

The text lives in docs/ohjeet/<slug>.<lang>.md (config ``HELP_DIR``); a guide missing in the UI language is
shown in Finnish. The guides hold nothing organisation-specific, so they are readable before signing in too.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from .. import helpdocs
from ..i18n import current_language

bp = Blueprint("help", __name__, url_prefix="/help")

# the guide that explains a task's step (tasks/task.html links to it)
STEP_GUIDES = {
    "fill_request": "hakeminen",
    "endorse_request": "johtaja",
    "approve_request": "johtaja",
    "confirm_suggested_request": "johtaja",
    "review_authorizations": "johtaja",
    "register_in_suomifi": "paakayttaja",
    "invalidate_in_suomifi": "paakayttaja",
}


def help_dir() -> Path:
    return Path(current_app.config.get("HELP_DIR") or helpdocs.DEFAULT_DIR)


def page_url(slug: str) -> str:
    return url_for("help.page", slug=slug)


@bp.get("")
def index():
    directory, lang = help_dir(), current_language()
    guides = [helpdocs.load(directory, slug, lang, page_url) for slug in helpdocs.slugs(directory)]
    return render_template("help/index.html", guides=[g for g in guides if g is not None])


@bp.get("/<slug>")
def page(slug: str):
    guide = helpdocs.load(help_dir(), slug, current_language(), page_url)
    if guide is None:
        abort(404)
    return render_template("help/page.html", guide=guide)


def _link_text(slug: str) -> str:
    texts = {
        "hakeminen": _("Guide: how to apply for an authorization, step by step"),
        "johtaja": _("Guide for supervisors and directors: endorsing, deciding and reviewing"),
        "paakayttaja": _("Guide for the main administrator: registering and invalidating in Suomi.fi"),
    }
    return texts.get(slug, _("Help"))


def help_link(slug: str | None = None, step: str | None = None) -> Markup:
    """A paragraph linking to a guide (by slug, or the guide for a task's step); nothing when there is none."""
    slug = slug or STEP_GUIDES.get(step or "")
    if not slug:
        return Markup("")
    return Markup('<p class="help-link"><a href="{}">{}</a></p>').format(page_url(slug), _link_text(slug))


@bp.app_context_processor
def inject_help_link():
    return {"help_link": help_link}
