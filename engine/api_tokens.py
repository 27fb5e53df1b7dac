"""Tokens of the integration API (/api/v1), their rate limit and the idempotency keys of writes.

A token is shown once when created; only its SHA-256 is stored. Each token belongs to one organisation and
carries scopes (a subset of SCOPES). The rate limit is a fixed window per token kept in this process (several
server processes each allow the limit: configure accordingly)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import audit
from .errors import NotFoundError
from .models import ApiIdempotencyKey, ApiToken

SCOPES = ("read", "hr-events", "requests", "catalog")  # catalog: PATCH /codes/<id>
TOKEN_PREFIX = "vh_"
IDEMPOTENCY_HOURS = 24


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Caller:
    token_id: int
    organisation_id: int
    name: str
    scopes: frozenset[str]


def create(
    session: Session, organisation_id: int, name: str, scopes, *, created_by: int | None, now: datetime
) -> tuple[ApiToken, str]:
    """A new token: the row and the token itself (shown once, never stored)."""
    chosen = [s for s in SCOPES if s in set(scopes)]
    if not chosen or set(scopes) - set(SCOPES):
        raise ValueError("scopes must be a non-empty subset of " + ", ".join(SCOPES))
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValueError("the name must be 1–100 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        organisation_id=organisation_id,
        name=name,
        scopes=chosen,
        token_sha256=token_hash(secret),
        created_by_id=created_by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session, organisation_id, "api.token_created", actor_id=created_by,
        details={"token_id": row.id, "name": name, "scopes": chosen}, at=now,
    )
    return row, secret


def revoke(session: Session, organisation_id: int, token_id: int, *, actor_id: int | None, now: datetime) -> None:
    row = session.get(ApiToken, token_id)
    if row is None or row.organisation_id != organisation_id:
        raise NotFoundError("token not found")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(
            session, organisation_id, "api.token_revoked", actor_id=actor_id,
            details={"token_id": row.id, "name": row.name}, at=now,
        )


def tokens(session: Session, organisation_id: int) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.organisation_id == organisation_id).order_by(ApiToken.id.desc())
        )
    )


def authenticate(session: Session, token: str) -> Caller | None:
    """The caller of a bearer token, or None (unknown or revoked). The lookup is by the hash's unique index;
    the hashes are then compared in constant time."""
    if not token or len(token) > 200:
        return None
    digest = token_hash(token)
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))
    if row is None or not hmac.compare_digest(row.token_sha256, digest) or row.revoked_at is not None:
        return None
    return Caller(row.id, row.organisation_id, row.name, frozenset(row.scopes or ()))


def touch(session: Session, token_id: int, now: datetime) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


# -- rate limit -----------------------------------------------------------------------------------------


class RateLimiter:
    """A fixed window per token: at most ``limit`` calls per ``window`` seconds. ``hit`` answers None (allowed)
    or the seconds until the window ends."""

    def __init__(self, limit: int, window: int = 60, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._counts: dict[int, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: int) -> int | None:
        now = self.clock()
        with self._lock:
            start, count = self._counts.get(key, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            if count >= self.limit:
                return max(1, int(start + self.window - now + 0.999))
            self._counts[key] = (start, count + 1)
            return None


# -- idempotency keys -----------------------------------------------------------------------------------


def request_hash(method: str, path: str, body: object) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def stored_response(session: Session, token_id: int, key: str, now: datetime) -> ApiIdempotencyKey | None:
    """The stored response for this key (younger than 24 hours); older ones are deleted on the way."""
    session.execute(
        delete(ApiIdempotencyKey).where(ApiIdempotencyKey.created_at < now - timedelta(hours=IDEMPOTENCY_HOURS))
    )
    return session.scalar(
        select(ApiIdempotencyKey).where(ApiIdempotencyKey.token_id == token_id, ApiIdempotencyKey.key == key)
    )


def store_response(
    db, caller: Caller, key: str, digest: str, status: int, response: dict, now: datetime
) -> bool:
    """Store a write's response under its key (own transaction). False when another call stored it first."""
    try:
        with db.unit_of_work() as session:
            session.add(
                ApiIdempotencyKey(
                    organisation_id=caller.organisation_id,
                    token_id=caller.token_id,
                    key=key,
                    request_sha256=digest,
                    status=status,
                    response=response,
                    created_at=now,
                )
            )
    except IntegrityError:
        return False
    return True
