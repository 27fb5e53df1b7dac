"""The description checker: DVV's guide to authorization codes (Valtuuskoodien määritysohje) as advice.

Each check quotes the rule of the guide it applies. The checks are word lists and simple patterns, tuned so that
the official names and descriptions in the shipped catalog pass (see tests/engine/test_code_guide.py for the few
pieces of advice the shipped catalog gets on purpose). Finnish and Swedish are checked in full, English lighter
(no check of the parties' words, nor that the name is an action). The result is advice to the author, never a
refusal: nothing here stops a code from being saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .code_guide_messages import message
from .errors import EngineError

LANGUAGES = ("fi", "sv", "en")
REQUIRED_LANGUAGES = ("fi", "sv")  # Suomi.fi shows every code in Finnish and Swedish
# The longest names DVV has accepted (the Incomes Register's, KEHA's) are 7 words in Finnish and 10 in Swedish;
# past that a name is no longer "lyhyt ja ytimekäs".
NAME_MAX_WORDS = {"fi": 7, "sv": 10, "en": 12}
NAME_MAX_CHARS = 100
SENTENCE_MAX_WORDS = 40

MAX_FILE_BYTES = 2_000_000
_WORD = re.compile(r"[\wÅÄÖåäö:.-]+", re.UNICODE)


@dataclass(frozen=True)
class Advice:
    rule: str  # a stable id, e.g. "mentions_valtuus"
    field: str  # "name" | "description"
    language: str  # "fi" | "sv" | "en"
    message: dict = field(default_factory=dict)  # {fi, sv, en}: advice for the author in plain language


def check_code(name: dict, description: dict, key: str = "") -> list[Advice]:
    """Advice on a code's name and description (per language) by the rules of DVV's guide.

    ``key`` is accepted so that callers can pass a code as they hold it; no rule depends on it."""
    name = name if isinstance(name, dict) else {}
    description = description if isinstance(description, dict) else {}
    found: list[Advice] = []
    for lang in LANGUAGES:
        title = _text(name.get(lang))
        text = _text(description.get(lang))
        for rule, detail in _name_problems(title, lang) if title else []:
            found.append(Advice(rule, "name", lang, message(rule, detail)))
        for rule, detail in _description_problems(text, lang) if text else []:
            found.append(Advice(rule, "description", lang, message(rule, detail)))
        if lang in REQUIRED_LANGUAGES:
            # Guide, Valtuuskoodien käyttöönottoprosessi 1: the proposal gives "valtuuskoodin nimestä ja
            # toimivallan kuvauksesta" – a name and a description, and Suomi.fi shows both in Finnish and Swedish.
            if not title:
                found.append(Advice("name_missing", "name", lang, message("name_missing", lang)))
            if not text:
                found.append(Advice("description_missing", "description", lang, message("description_missing", lang)))
    return found


@dataclass(frozen=True)
class CodeReport:
    key: str
    name: dict
    advice: list[Advice]


class CatalogFileError(EngineError):
    """A catalog file that cannot be checked (unreadable, not YAML, or not shaped like the shipped catalog)."""

    code = "catalog_file_invalid"


def check_catalog(entries: list[dict]) -> list[CodeReport]:
    """Each code of a catalog (as in engine/data/authorization_codes.yaml) with its advice, in file order."""
    return [
        CodeReport(
            str(e.get("key", "")),
            e.get("name") or {},
            check_code(e.get("name"), e.get("description"), str(e.get("key", ""))),
        )
        for e in entries
    ]


def read_catalog_file(path: Path) -> list[dict]:
    """The codes of a catalog file, checked for shape only; CatalogFileError says plainly what is wrong."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise CatalogFileError(f"cannot read {path}: {err.strerror or err}") from None
    if len(data) > MAX_FILE_BYTES:
        raise CatalogFileError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        doc = yaml.safe_load(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CatalogFileError(f"{path} is not UTF-8 text") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        raise CatalogFileError(f"{path} is not valid YAML{line}: {getattr(err, 'problem', None) or err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("codes"), list):
        raise CatalogFileError(f"{path} has no list of codes (expected a mapping with 'codes:')")
    for number, entry in enumerate(doc["codes"], start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise CatalogFileError(f"code #{number} in {path} is not a mapping with a 'key'")
        for part in ("name", "description"):
            texts = entry.get(part)
            if texts is not None and (
                not isinstance(texts, dict) or not all(isinstance(v, str | None) for v in texts.values())
            ):
                raise CatalogFileError(f"{entry['key']}: '{part}' must be texts by language (fi, sv, en)")
    return doc["codes"]


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _words(text: str) -> list[str]:
    return [w.strip(".:-").lower() for w in _WORD.findall(text) if w.strip(".:-")]


# --- names -------------------------------------------------------------------------------------------------

# Finnish nouns of action ("opintotuen haku", "palkkatietojen ilmoittaminen", "ajoneuvon rekisteröinti").
_FI_ACTION_ENDINGS = ("minen", "nti", "lu", "ly", "nta", "ntä", "us", "ys", "hoito", "haku", "pito", "nto")
# Swedish names start with the action: "Granskning av …", "Ansökan om …", "Behandla …" (FPA's verb form).
_SV_ACTION_ENDINGS = ("ning", "ing", "ande", "ende", "an", "else")
# fmt: off
_SV_ACTION_VERBS = {"ansöka", "granska", "skicka", "behandla", "registrera", "anmäla", "lämna", "meddela", "sköta",
                    "se", "ge", "upprätthålla", "bereda", "ändra"}
# fmt: on
_SENTENCE_WORDS = {
    "fi": {"voi", "voit", "saa", "saat", "on", "ovat", "pitää", "tulee", "tällä"},
    "sv": {"kan", "får", "är", "ska", "måste", "denna", "du"},
    "en": {"can", "may", "is", "are", "must", "will", "you", "this"},
}


def _name_problems(title: str, lang: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    words = _words(title)
    # Guide: "Valtuuskoodien on oltava mahdollisimman lyhyitä, ytimekkäitä ja yksiselitteisiä. Asiaa voi
    # selkeyttää valtuuskoodin kuvauksessa."
    if len(title.split()) > NAME_MAX_WORDS[lang] or len(title) > NAME_MAX_CHARS:
        problems.append(("name_too_long", str(len(title.split()))))
    # A name is a heading, not a sentence: no full stop at the end, no verb of a sentence (same rule as above).
    if title.endswith((".", "!", "?")) and not title.endswith("..."):
        problems.append(("name_full_stop", title[-1]))
    sentence = sorted(set(words) & _SENTENCE_WORDS[lang])
    if sentence or re.search(r"[.!?]\s+\S", title):
        problems.append(("name_is_sentence", ", ".join(sentence) or "."))
    # Guide: "Valtuuskoodien on oltava tekemistä kuvaavia asioita, joita valtuus koskee, esim. 'opintotuen haku'".
    if lang in ("fi", "sv") and words and not sentence and not _is_action(words, lang):
        problems.append(("name_not_action", words[-1] if lang == "fi" else words[0]))
    return problems


def _is_action(words: list[str], lang: str) -> bool:
    if lang == "fi":  # the action may come first: "Tilinumeron ilmoittaminen … maksamista varten"
        return any(word.rsplit("-", 1)[-1].endswith(_FI_ACTION_ENDINGS) for word in words)
    head = words[0].rsplit("-", 1)[-1]
    return head in _SV_ACTION_VERBS or head.endswith(_SV_ACTION_ENDINGS)


# --- descriptions ------------------------------------------------------------------------------------------

# "valtuus" in any inflection or compound (valtuudella, valtuuden, valtuutta, asiointivaltuus) but not the
# parties (valtuutettu, valtuuttaja) or the act (valtuutus, valtuuttaminen).
_FI_VALTUUS = re.compile(r"valtuu(?:s|d|k)|valtuu(?:tta|teen|tena)\b")
_SV_PARTY = ("fullmaktsgivar", "fullmaktshavar")
_EN_MANDATE = re.compile(r"\b(mandate|authori[sz]ation|authority)\b")
_HOLDER = {"fi": re.compile(r"valtuutet"), "sv": re.compile(r"fullmaktshavar|befullmäktigade")}
_GRANTOR = {"fi": re.compile(r"valtuuttaj|valtuuttane"), "sv": re.compile(r"fullmaktsgivar")}
# Guide: refer to the parties "(ei esimerkiksi palveluntarjoajaan)" – not the service provider or "the user".
_OTHER_PARTY = {
    "fi": re.compile(r"\b(palveluntarjoaj\w*|käyttäjä\w*)"),
    "sv": re.compile(r"\b(tjänsteleverantör\w*|användare\w*|användaren)"),
    "en": re.compile(r"\b(service provider|the user|users)\b"),
}
# Guide: "kuvataan valtuus, ei valtuuttamista toimintana".
_AUTHORIZING = {
    "fi": re.compile(r"\b(valtuuttami\w*|valtuuttamalla|valtuutat|valtuuta)\b"),
    "sv": re.compile(r"\b(befullmäktigande\w*|befullmäktiga|befullmäktigar|ge fullmakt|ger fullmakt)\b"),
    "en": re.compile(r"\b(authorising|authorizing|to grant a mandate|you grant)\b"),
}
# Guide: answer "mitä" (ei "miten") – no steps or screen instructions.
_HOW = {
    "fi": re.compile(
        r"\b(klika\w*|klikk\w*|napsaut\w*|painik\w*|paina|valitse|valikko\w*|valikos\w*|"
        r"välileh\w*|kirjaudu|syötä|täytä|siirry|tallenna|vaihe \d)\b"
    ),
    "sv": re.compile(r"\b(klicka\w*|tryck|knapp\w*|välj|menyn|menyer\w*|fliken|logga in|fyll i|steg \d)\b"),
    "en": re.compile(r"\b(click\w*|press|button\w*|select from|menu\w*|tab|log in|step \d)\b"),
}
_NUMBERED_STEP = re.compile(r"(?m)^\s*\d+[.)]\s")
# Guide: "Kuvauksessa ei tule viitata mihinkään yksittäiseen palveluun tai sen toimintoon" and "ei kuvata
# palvelua, johon valtuus liittyy" and "Valtuuskoodit eivät ole järjestelmäriippuvaisia". Known e-services, and
# capitalised service-like words in the middle of a sentence.
# fmt: off
_SERVICES = {"kelmu", "emava", "ilmoitin.fi", "omavero", "mittfpa", "omakela", "vipu", "lupapiste", "kanta",
             "omakanta", "hilma", "tyrsky", "etotu", "e-lupa", "elupa", "kiila", "kanta.fi", "suomi.fi"}
# fmt: on
_SERVICE_WORD = re.compile(r"(palvelu|tjänst|portaali|portal|sovellus|applikation|\.fi$|\.com$)")
_CAMEL = re.compile(r"^[a-zåäö]+[A-ZÅÄÖ][a-zåäö]|^[A-ZÅÄÖ][a-zåäö]+[A-ZÅÄÖ]")


def _description_problems(text: str, lang: str) -> list[tuple[str, str]]:
    low = text.lower()
    words = _words(text)
    problems: list[tuple[str, str]] = []
    # Guide: "käytetään aina valtuus-sanaa, vaikka kuvattavan kohteen nimityksessä esiintyisi valtuuden sijaan
    # esim. suostumus- tai lupa-sana."
    if not _mentions_mandate(low, words, lang):
        problems.append(("mentions_valtuus", ""))
    # Guide: "viitataan aina valtuuttajaan ja valtuutettuun".
    if lang in _HOLDER and not _HOLDER[lang].search(low):
        problems.append(("mentions_holder", ""))
    if lang in _GRANTOR and not _GRANTOR[lang].search(low):
        problems.append(("mentions_grantor", ""))
    if hit := _OTHER_PARTY[lang].search(low):
        problems.append(("names_other_party", hit.group(0)))
    if hit := _AUTHORIZING[lang].search(low):
        problems.append(("describes_authorizing", hit.group(0)))
    if hit := _HOW[lang].search(low):
        problems.append(("how_not_what", hit.group(0)))
    elif len(_NUMBERED_STEP.findall(text)) >= 2:
        problems.append(("how_not_what", "1. 2."))
    if service := _named_service(text):
        problems.append(("names_service", service))
    # Guide: descriptions "on oltava selkeitä, helposti ymmärrettäviä" – long sentences are the usual obstacle.
    longest = max((len(s.split()) for s in re.split(r"[.!?;:]\s", text)), default=0)
    if longest > SENTENCE_MAX_WORDS:
        problems.append(("long_sentence", str(longest)))
    return problems


def _mentions_mandate(low: str, words: list[str], lang: str) -> bool:
    if lang == "fi":
        return bool(_FI_VALTUUS.search(low))
    if lang == "sv":
        return any("fullmakt" in w and not w.startswith(_SV_PARTY) for w in words)
    return bool(_EN_MANDATE.search(low))


def _named_service(text: str) -> str:
    """The first named e-service in the text: a known name, a ".fi" address, or a capitalised word in the middle
    of a sentence that looks like a product (OmaVero, eMava) or a service ("Tulliselvityspalvelu")."""
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        tokens = [t.strip(",;()\"'”“") for t in sentence.split()]
        for position, token in enumerate(tokens):
            bare = token.rstrip(".:")
            if _is_known_service(bare):
                return bare
            if position == 0 or not bare[:1].isupper():
                continue
            if _CAMEL.match(bare) or _SERVICE_WORD.search(bare.lower()):
                return bare
    return ""


def _is_known_service(token: str) -> bool:
    """A known e-service, also inflected (Kelmussa, Kelmuun, Ilmoitin.fi:ssä) – written with a capital or as an
    address, since "kanta" is also an ordinary word (and Katso is left out: "katso" means "look")."""
    low = token.lower()
    if low.islower() and token == low and ".fi" not in low:
        return False
    base = re.split(r":", low, maxsplit=1)[0]
    return any(base == name or (base.startswith(name) and len(base) - len(name) <= 4) for name in _SERVICES)
