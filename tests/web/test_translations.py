"""The Finnish and Swedish catalogs cover the UI: strings are extracted from web/ afresh (with web/babel.cfg,
as `pybabel extract` does), never read from the committed messages.pot. No database, no app."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[2] / "web"
TRANSLATED = ("fi", "sv")
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]")


@cache
def ui_messages() -> dict[tuple[str, str | None], str]:
    """(msgid, context) → where it is used, for every message in web/ now."""
    with open(WEB / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, str(WEB / "babel.cfg"))
    found = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
            str(WEB), method_map, options_map, keywords={**DEFAULT_KEYWORDS, "_l": None}):
        msgid = message[0] if isinstance(message, (list, tuple)) else message
        if msgid:
            found.setdefault((msgid, context), f"{filename}:{lineno}")
    return found


@cache
def catalog(lang: str):
    with open(WEB / "translations" / lang / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=lang)


def forms(value) -> list[str]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def test_the_extraction_finds_the_ui_messages_in_python_and_templates():
    places = " ".join(ui_messages().values())
    assert len(ui_messages()) > 50
    assert ".py:" in places and "templates/" in places


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_used_in_the_ui_has_a_translation(lang):
    missing = []
    for (msgid, context), where in sorted(ui_messages().items()):
        message = catalog(lang).get(msgid, context)
        if message is None or message.fuzzy or not all(forms(message.string)):
            missing.append(f"{msgid!r} ({where})")
    assert not missing, (f"{len(missing)} message(s) untranslated or fuzzy in {lang}; run the extraction and "
                         f"`pybabel update`, then translate:\n" + "\n".join(missing))


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_translation_keeps_the_placeholders_of_its_msgid(lang):
    wrong = []
    for message in catalog(lang):
        if not message.id:
            continue
        expected = set().union(*(placeholders(f) for f in forms(message.id)))
        translations = forms(message.string)
        for i, translation in enumerate(translations):
            found = placeholders(translation)
            # a singular may leave the count out ("the existing authorization"), as its msgid does; nothing may
            # appear that the msgid lacks, and the plural forms carry every placeholder
            fine = found <= expected if i == 0 and len(translations) > 1 else found == expected
            if translation and not fine:
                wrong.append(f"{forms(message.id)[0]!r} → {translation!r}: expected {sorted(expected)}")
    assert not wrong, f"placeholders differ in {lang}:\n" + "\n".join(wrong)
