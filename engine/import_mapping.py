"""The vocabulary of the lists municipalities keep: which columns mean what (and how a mapping file renames
them), the words used for statuses and mandate types, and the problems a row can have – kept structured so the
web can say them in Finnish, Swedish or English."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import yaml

from .errors import EngineError
from .models import AuthorizationStatus, MandateType
from .tabular import FORMULA_TRIGGERS

S = AuthorizationStatus

# -- columns and mapping -----------------------------------------------------------------------

FIELDS = (
    "name",
    "email",
    "unit",
    "code",
    "mandate_type",
    "valid_from",
    "valid_until",
    "status",
    "notes",
    "registered_on",
    "next_review_on",  # written by the export, recognised so it is not mistaken for data; never imported
)

EXPORT_HEADERS = [
    "Nimi",
    "Sähköposti",
    "Yksikkö",
    "Valtuuskoodi",
    "Valtuustyyppi",
    "Alkaa",
    "Päättyy",
    "Tila",
    "Seuraava tarkastelu",
    "Huomautukset",
]

DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("Nimi", "Henkilö", "Valtuutettu", "Namn", "Person", "Fullmaktshavare", "Name"),
    "email": ("Sähköposti", "Sähköpostiosoite", "S-posti", "E-post", "E-postadress", "Email", "E-mail"),
    "unit": ("Yksikkö", "Toimiala", "Toimiala/Yksikkö", "Enhet", "Sektor", "Unit"),
    "code": ("Valtuuskoodi", "Valtuus", "Valtuusasia", "Fullmakt", "Fullmaktsärende", "Fullmaktskod", "Code"),
    "mandate_type": ("Valtuustyyppi", "Tyyppi", "Fullmaktstyp", "Typ", "Mandate type"),
    "valid_from": ("Alkaa", "Myönnetty", "Alkupäivä", "Voimassa alkaen", "Börjar", "Giltig från", "Valid from"),
    "valid_until": ("Päättyy", "Voimassa asti", "Loppupäivä", "Upphör", "Giltig till", "Valid until"),
    "status": ("Tila", "Status"),
    "notes": ("Huomautukset", "Lisätiedot", "Anmärkningar", "Tilläggsuppgifter", "Notes"),
    "registered_on": ("Rekisteröity", "Registrerad", "Registered"),
    "next_review_on": ("Seuraava tarkastelu", "Nästa granskning", "Next review"),
}

SUOMIFI_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("Valtuutettu", "Nimi", "Fullmaktshavare", "Namn"),
    "code": ("Valtuusasia", "Valtuus", "Fullmaktsärende", "Fullmakt"),
    "valid_from": ("Alkaa", "Voimassa alkaen", "Börjar", "Giltig från"),
    "valid_until": ("Päättyy", "Voimassa asti", "Upphör", "Giltig till"),
    "status": ("Tila", "Status"),
}

MAPPING_KEYS = ("columns", "sheet", "header_row", "status_values")


@dataclass(frozen=True)
class Mapping:
    """Which headers hold which field (aliases, first found wins) and how the list is laid out."""

    columns: dict[str, tuple[str, ...]]
    sheet: str | None = None
    header_row: int | None = None
    status_values: dict[str, str] = field(default_factory=dict)  # token of the file's text → status

    def known_headers(self) -> list[str]:
        return [header for aliases in self.columns.values() for header in aliases]


DEFAULT_MAPPING = Mapping(columns=DEFAULT_COLUMNS)
SUOMIFI_MAPPING = Mapping(columns=SUOMIFI_COLUMNS)


class MappingError(EngineError):
    code = "bad_mapping"


def load_mapping(text: str, *, base: Mapping | None = None) -> Mapping:
    """A mapping from YAML; fields it names replace those of ``base`` (default: DEFAULT_MAPPING).

    ``columns: {field: header or [headers]}`` (null or [] drops a column), optional ``sheet``,
    ``header_row`` (the Excel row number) and ``status_values: {text in the file: status}``.
    """
    base = base or DEFAULT_MAPPING
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise MappingError(f"the mapping is not valid YAML: {err}") from err
    if not isinstance(doc, dict):
        raise MappingError("the mapping must be a YAML mapping with keys: " + ", ".join(MAPPING_KEYS))
    unknown = sorted(set(doc) - set(MAPPING_KEYS))
    if unknown:
        raise MappingError(f"unknown keys in the mapping: {', '.join(map(str, unknown))}")
    columns = dict(base.columns)
    given = doc.get("columns") or {}
    if not isinstance(given, dict):
        raise MappingError("columns must map field names to a header or a list of headers")
    for name, headers in given.items():
        if name not in FIELDS:
            raise MappingError(f"unknown field {name!r} in columns (fields: {', '.join(FIELDS)})")
        headers = [] if headers is None else [headers] if isinstance(headers, str) else headers
        if not isinstance(headers, list) or not all(isinstance(h, str) and h.strip() for h in headers):
            raise MappingError(f"columns.{name} must be a header or a list of headers")
        columns[name] = tuple(h.strip() for h in headers)
    sheet = doc.get("sheet", base.sheet)
    if sheet is not None and not isinstance(sheet, str):
        raise MappingError("sheet must be the sheet's name")
    header_row = doc.get("header_row", base.header_row)
    if header_row is not None and (not isinstance(header_row, int) or isinstance(header_row, bool) or header_row < 1):
        raise MappingError("header_row must be a row number (1 or more)")
    statuses = dict(base.status_values)
    given_statuses = doc.get("status_values") or {}
    if not isinstance(given_statuses, dict):
        raise MappingError("status_values must map texts to statuses")
    valid = {s.value for s in S}
    for text_value, status in given_statuses.items():
        if status not in valid:
            raise MappingError(f"status_values: {status!r} is not one of {', '.join(sorted(valid))}")
        statuses[_token(str(text_value))] = status
    return Mapping(columns=columns, sheet=sheet, header_row=header_row, status_values=statuses)


# -- issues ------------------------------------------------------------------------------------

ISSUE_TEXT: dict[str, str] = {
    # file
    "missing_column": "The file has no {field} column (expected one of: {column})",
    # person
    "missing_person": "The row names no person (no name and no e-mail)",
    "unknown_person": "No person {name} {email} in the organisation",
    "ambiguous_person": "Several people are called {name}; give the e-mail address",
    "person_without_email": "{name} is not in the organisation and cannot be added without an e-mail address",
    "bad_email": "{email} is not an e-mail address",
    "person_created": "{name} <{email}> will be added to the organisation",
    "email_differs": "No one has the e-mail {email}; matched {name} by name (their e-mail is {person_email})",
    "name_differs": "The e-mail {email} belongs to {person_name}, not {name}",
    "unit_differs": "{name} was found in {person_unit}, not in {unit}",
    "unknown_unit": "Unit {unit} not found",
    "person_inactive": "{name} is marked as no longer working in the organisation",
    # code
    "missing_code": "The row names no authorization",
    "unknown_code": "Unknown authorization {code}; closest in the catalog: {suggestions}",
    "ambiguous_code": "{code} matches several authorizations ({matches}); use the code key",
    "code_withdrawn": "Authorization {code} has been withdrawn from the catalog",
    # values
    "bad_date": "{column}: {value} is not a date (write it as d.m.yyyy)",
    "end_before_start": "The end date is before the start date",
    "open_ended": "No end date: Suomi.fi requires one",
    "too_long": "Valid for more than 25 years: Suomi.fi allows at most 25",
    "expired_by_date": "The end date {valid_until} has passed: brought in as expired",
    "bad_mandate_type": "Unknown mandate type {value}",
    "bad_status": "Unknown status {value}",
    "identity_code": "{column}: contains a personal identity code (henkilötunnus); remove it, none is stored",
    "status_not_importable": (
        "Status {value} cannot be imported: only active, expired and revoked authorizations can be brought in"
    ),
    # against the registry and the rest of the file
    "duplicate_row": "Same person and authorization as row {row}",
    "request_in_progress": "A request for this authorization is in progress ({status}); finish it there",
    "was_closed": "The registry has this authorization as {status} with the same dates; it will be added as active",
}


@dataclass(frozen=True)
class Issue:
    """One problem with a row, kept structured so the web can say it in Finnish, Swedish or English."""

    code: str
    params: dict = field(default_factory=dict)

    def text(self) -> str:
        return " ".join(ISSUE_TEXT[self.code].format(**self.params).split())  # an empty param leaves no gap


class ImportRefused(EngineError):
    """The plan has rejected rows (and skipping them was not asked for), or the registry changed since."""

    code = "import_refused"

    def __init__(self, message: str, *, code: str = "import_refused", **params):
        super().__init__(message, **params)
        self.code = code


# -- normalising and matching ------------------------------------------------------------------


@lru_cache(maxsize=8192)  # the same codes, units and statuses repeat on every row
def _token(text: str) -> str:
    """Casefolded letters and digits only: "Palkkatietojen ilmoittaminen" ~ "palkkatietojen-ilmoittaminen"."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _name_key(text: str) -> str:
    return " ".join(text.replace(",", " ").casefold().split())


def _name_variants(name: str) -> set[str]:
    """The name as written and in "Sukunimi Etunimi" order (either way round), for lookups."""
    parts = _name_key(name).split()
    if not parts:
        return set()
    return {" ".join(parts), " ".join(parts[-1:] + parts[:-1]), " ".join(parts[1:] + parts[:1])}


def _text(value: object) -> str:
    """A cell as text; a quote the export added before a formula-like value is taken off again."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if text.startswith("'") and text[1:2] and text[1:].startswith(FORMULA_TRIGGERS):
        text = text[1:]
    return text


def _email(value: object) -> str:
    text = _text(value)
    return text[7:].strip() if text.lower().startswith("mailto:") else text


def _plausible_email(email: str) -> bool:
    local, _, domain = email.partition("@")
    return bool(local) and "." in domain and not any(ch.isspace() for ch in email) and len(email) <= 254


def _words(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {_token(word): value for value, words in table.items() for word in (value, *words)}


MANDATE_WORDS = _words(
    {
        MandateType.TRANSACTION.value: (
            "asiointivaltuus",
            "ärendefullmakt",
            "transaction",
            "transaction mandate",
            "Transaction mandate (asiointivaltuus)",
        ),
        MandateType.GRANTING_RIGHT.value: (
            "valtuutusoikeus",
            "fullmaktsrätt",
            "granting right",
            "right to grant mandates",
            "Right to grant mandates (valtuutusoikeus)",
        ),
        MandateType.REPRESENTATION.value: (
            "edustamisvaltuus",
            "representationsfullmakt",
            "representation",
            "mandate to represent",
            "Mandate to represent (edustamisvaltuus)",
        ),
        MandateType.REPRESENTATIVE_GRANTING_RIGHT.value: (
            "edustajan valtuutusoikeus",
            "representantens fullmaktsrätt",
            "representative granting right",
            "representative's right to grant",
            "Representative's right to grant (edustajan valtuutusoikeus)",
        ),
    }
)

STATUS_WORDS = _words(
    {
        S.ACTIVE.value: ("voimassa", "aktiivinen", "voimassaoleva", "giltig", "gällande", "aktiv"),
        S.EXPIRED.value: ("päättynyt", "vanhentunut", "umpeutunut", "utgången", "utgått"),
        S.REVOKED.value: ("peruttu", "peruutettu", "mitätöity", "återkallad"),
        S.REQUESTED.value: ("haettu", "pyydetty", "begärd"),
        S.APPROVED.value: (
            "hyväksytty",
            "godkänd",
            "Hyväksytty, odottaa rekisteröintiä",
            "Godkänd, väntar på registrering",
            "Approved, awaiting registration",
        ),
        S.REJECTED.value: ("hylätty", "avslagen"),
        S.CANCELLED.value: ("keskeytetty", "avbruten", "canceled"),
    }
)

IN_REQUEST = (S.REQUESTED.value, S.APPROVED.value)
IMPORTABLE_CLOSED = (S.EXPIRED.value, S.REVOKED.value)
MAX_YEARS = 25
