"""The fields of an authorization code, checked and normalised before a command writes them."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import EngineError
from .models import AuthorizationCategory, AuthorizationCode, MandateType
from .models.registry import CodeStatus

LANGUAGES = ("fi", "sv", "en")
LOCKED_FIELDS = ("key", "name", "description")  # frozen once any authorization uses the code
EDITABLE_FIELDS = (
    "category_id",
    "agency",
    "mandate_type",
    "services",
    "warning",
    "confusable_with",
    "verified",
    "description_verified",
    "status",
)
KEY = re.compile(r"^[a-z0-9][a-z0-9_]{2,99}$")
MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database
LIMITS = {"name": 200, "description": 2000, "warning": 1000, "agency": 100, "service": 200}


class CatalogInputError(EngineError):
    """A code's fields are not acceptable; ``field`` names which."""

    code = "catalog_invalid"


def _texts(value, name: str, *, required: bool) -> dict:
    if not isinstance(value, dict) or set(value) - set(LANGUAGES):
        raise CatalogInputError(f"{name} must be texts in fi, sv and en", field=name)
    texts = {lang: " ".join(str(value.get(lang) or "").split()) for lang in LANGUAGES}
    limit = LIMITS[name]
    if any(len(text) > limit for text in texts.values()):
        raise CatalogInputError(f"{name} is too long", field=name, limit=limit)
    if required and not texts["fi"]:
        raise CatalogInputError(f"{name} needs at least the Finnish text", field=name)
    return {lang: text for lang, text in texts.items() if text}


def clean(session: Session, organisation_id: int, values: dict, code: AuthorizationCode | None = None) -> dict:
    """The given fields checked and normalised (CatalogInputError names the first bad one)."""
    unknown = set(values) - set(LOCKED_FIELDS) - set(EDITABLE_FIELDS)
    if unknown:
        raise CatalogInputError("unknown fields", field=sorted(unknown)[0])
    out = {}
    for name, value in values.items():
        if _has_nul(value):  # (PostgreSQL stores no NUL in text or JSON; nobody types one)
            raise CatalogInputError("a text contains a NUL character", field=name)
        out[name] = _clean_one(session, organisation_id, name, value, code)
    return out


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _clean_one(session, organisation_id, name, value, code):  # noqa: PLR0911, C901 – one branch per field
    if name == "key":
        key = str(value or "").strip()
        if not KEY.match(key):
            raise CatalogInputError("the identifier is 3–100 of a–z, 0–9 and _", field="key")
        taken = session.scalar(
            select(AuthorizationCode.id).where(
                AuthorizationCode.organisation_id == organisation_id, AuthorizationCode.key == key
            )
        )
        if taken is not None and (code is None or taken != code.id):
            raise CatalogInputError("another code has this identifier", field="key")
        return key
    if name in ("name", "description", "warning"):
        return _texts(value or {}, name, required=name == "name")
    if name == "agency":
        agency = " ".join(str(value or "").split())
        if len(agency) > LIMITS["agency"]:
            raise CatalogInputError("the agency is too long", field="agency")
        return agency
    if name == "mandate_type":
        if value not in {m.value for m in MandateType}:
            raise CatalogInputError("unknown mandate type", field="mandate_type")
        return value
    if name in ("verified", "description_verified"):
        if not isinstance(value, bool):
            raise CatalogInputError("true or false", field=name)
        return value
    if name == "category_id":
        return _category(session, organisation_id, value)
    if name == "services":
        return _services(value)
    if name == "confusable_with":
        return _confusables(session, organisation_id, value, code)
    if value not in (CodeStatus.DRAFT.value, CodeStatus.ACTIVE.value):  # status: withdrawal has its own command
        raise CatalogInputError("a code is made draft or active here; withdraw it to hide or remove it", field=name)
    return value


def _category(session, organisation_id, value):
    if value in (None, ""):
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
        raise CatalogInputError("unknown category", field="category_id")
    found = session.get(AuthorizationCategory, value)
    if found is None or found.organisation_id != organisation_id:
        raise CatalogInputError("unknown category", field="category_id")
    return value


def _services(value) -> list[str]:
    if not isinstance(value, list) or len(value) > 50 or not all(isinstance(v, str) for v in value):
        raise CatalogInputError("services are a list of at most 50 names", field="services")
    names = list(dict.fromkeys(" ".join(v.split()) for v in value if v.strip()))
    if any(len(n) > LIMITS["service"] for n in names):
        raise CatalogInputError("a service name is too long", field="services")
    return names


def _confusables(session, organisation_id, value, code) -> list[str]:
    if not isinstance(value, list) or len(value) > 20 or not all(isinstance(v, str) for v in value):
        raise CatalogInputError("confusable codes are a list of identifiers", field="confusable_with")
    keys = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    known = set(
        session.scalars(
            select(AuthorizationCode.key).where(
                AuthorizationCode.organisation_id == organisation_id, AuthorizationCode.key.in_(keys)
            )
        )
    )
    if set(keys) - known or (code is not None and code.key in keys):
        raise CatalogInputError("unknown confusable code", field="confusable_with")
    return keys
