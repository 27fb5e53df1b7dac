"""Languages: Finnish by default, Swedish and English beside it."""

from __future__ import annotations

from flask import Flask, g, request, session
from flask_babel import Babel

LANGUAGES = ("fi", "sv", "en")
LANGUAGE_NAMES = {"fi": "Suomeksi", "sv": "På svenska", "en": "In English"}


def current_language() -> str:
    cached = g.get("_language")
    if cached is not None:
        return cached
    lang = _choose_language()
    if "user" in g:  # known once the signed-in person is loaded; the same for the rest of the request
        g._language = lang
    return lang


def _choose_language() -> str:
    lang = session.get("lang")
    if lang in LANGUAGES:
        return lang
    user = g.get("user")
    if user is not None and user.language in LANGUAGES:
        return user.language
    return request.accept_languages.best_match(LANGUAGES) or "fi"


def localized(value, lang: str | None = None) -> str:
    """Pick the current language from a {"fi": …, "sv": …, "en": …} dict (Finnish as fallback)."""
    if not isinstance(value, dict):
        return "" if value is None else str(value)
    lang = lang or current_language()
    return value.get(lang) or value.get("fi") or next(iter(value.values()), "")


def init_app(app: Flask) -> None:
    Babel(
        app,
        locale_selector=current_language,
        default_locale="fi",
        default_timezone="Europe/Helsinki",
        default_translation_directories="translations",
    )
    app.jinja_env.filters["loc"] = localized
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, LANGUAGE_NAMES=LANGUAGE_NAMES, current_language=current_language)
