"""Reading the catalog: search in Finnish, Swedish or English (ä/ö typed as a/o also match), categories, and
the codes a code page links to."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .catalog import may_edit
from .models import AuthorizationCategory, AuthorizationCode
from .models.registry import CodeStatus


def _plain(text: str) -> str:
    """Casefolded without accents and with whitespace collapsed: "tyomarkkinatuki" finds "Työmarkkinatuki"."""
    decomposed = unicodedata.normalize("NFD", text or "").casefold()
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def _rank(code: AuthorizationCode, words: list[str], phrase: str) -> int | None:
    """None when some word is found nowhere; else 0 (the phrase in a name) … 2 (found only in other texts)."""
    names = " | ".join(_plain(v) for v in (code.name or {}).values())
    others = " | ".join(
        [_plain(code.key.replace("_", " ")), _plain(code.key), _plain(code.agency)]
        + [_plain(v) for v in (code.description or {}).values()]
        + [_plain(s) for s in code.services or []]
    )
    if not all(w in names or w in others for w in words):
        return None
    return 0 if phrase in names else 1 if all(w in names for w in words) else 2


def visible_statuses(user) -> tuple[str, ...]:
    """Everyone sees active and hidden codes (people still hold hidden ones); editors also drafts."""
    base = (CodeStatus.ACTIVE.value, CodeStatus.HIDDEN.value)
    return (*base, CodeStatus.DRAFT.value) if may_edit(user) else base


def search(
    session: Session,
    organisation_id: int,
    q: str = "",
    *,
    category_id: int | None = None,
    statuses: tuple[str, ...] = (CodeStatus.ACTIVE.value,),
    language: str = "fi",
) -> list[AuthorizationCode]:
    """Codes whose name (any language), identifier, agency, description or services contain every word of
    ``q``; those with the words in a name first, then by name in ``language``."""
    query = select(AuthorizationCode).where(
        AuthorizationCode.organisation_id == organisation_id, AuthorizationCode.status.in_(statuses)
    )
    if category_id is not None:
        query = query.where(AuthorizationCode.category_id == category_id)
    phrase = _plain(q)[:200]
    words = phrase.split()
    found = []
    for code in session.scalars(query):  # a few hundred rows at most: matched here, where accents are known
        rank = _rank(code, words, phrase) if words else 0
        if rank is not None:
            found.append((rank, _plain(_local(code.name, language)), code.id, code))
    return [code for *_key, code in sorted(found, key=lambda item: item[:3])]


def _local(texts: dict | None, language: str) -> str:
    texts = texts or {}
    return texts.get(language) or texts.get("fi") or next(iter(texts.values()), "")


def categories(session: Session, organisation_id: int) -> list[AuthorizationCategory]:
    return list(
        session.scalars(
            select(AuthorizationCategory)
            .where(AuthorizationCategory.organisation_id == organisation_id)
            .order_by(AuthorizationCategory.key)
        )
    )


@dataclass(frozen=True)
class Related:
    replaces: AuthorizationCode | None
    replaced_by: AuthorizationCode | None
    confusables: list[AuthorizationCode]


def related(session: Session, code: AuthorizationCode) -> Related:
    """The codes a code page links to: what it replaces, what replaces it, what it is confused with."""
    keys = list(code.confusable_with or [])
    confusables = (
        list(
            session.scalars(
                select(AuthorizationCode).where(
                    AuthorizationCode.organisation_id == code.organisation_id, AuthorizationCode.key.in_(keys)
                )
            )
        )
        if keys
        else []
    )
    confusables.sort(key=lambda c: keys.index(c.key))
    return Related(
        session.get(AuthorizationCode, code.replaces_id) if code.replaces_id else None,
        session.get(AuthorizationCode, code.replaced_by_id) if code.replaced_by_id else None,
        confusables,
    )
