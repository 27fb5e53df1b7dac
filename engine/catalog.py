"""The catalog of authorization codes (valtuuskoodit) and the rules by which codes change.

DVV's guide: once any authorization uses a code, its identifier, name and description stay as they are – a
change means a new code that replaces the old one (:func:`replace_code`), and the old one is withdrawn
(:func:`withdraw_code`) by one of two policies: "hidden" (no new requests, existing authorizations stay valid until
they end – DVV's current practice) or "removed" (existing authorizations are invalidated – the guide's rule: a
revocation starts for each and the holders and their directors hear which code replaces it).

Commands take the caller's session (one unit of work) and the organisation; they audit every change. Searching and
browsing are in engine/catalog_read.py, loading the shipped file in engine/catalog_load.py, the fields' checks in
engine/catalog_fields.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit, directory, notifications, revocation
from .catalog_fields import EDITABLE_FIELDS, LOCKED_FIELDS, CatalogInputError, clean  # noqa: F401 (re-exported)
from .clock import local_date
from .errors import ConflictError, NotFoundError
from .models import Authorization, AuthorizationCode, AuthorizationStatus, Person
from .models.registry import CodeStatus

POLICIES = ("hidden", "removed")
EDITOR_ROLES = ("administrator", "process_owner")
OPEN = (AuthorizationStatus.REQUESTED.value, AuthorizationStatus.APPROVED.value)


class CodeInUseError(ConflictError):
    """A locked field (identifier, name, description) would change on a code that authorizations use.
    ``fields`` lists them and ``authorizations`` says how many use the code: the reason shown to the author."""

    code = "code_in_use"


def may_edit(user) -> bool:
    """The pääkäyttäjä and the process owner maintain the catalog."""
    return any(user.has(role) for role in EDITOR_ROLES)


def uses(session: Session, code_id: int) -> int:
    """How many authorizations – in any status, also ended ones – use the code."""
    return session.scalar(select(func.count(Authorization.id)).where(Authorization.code_id == code_id)) or 0


def get_code(session: Session, organisation_id: int, code_id: int, *, lock: bool = False) -> AuthorizationCode:
    query = select(AuthorizationCode).where(
        AuthorizationCode.id == code_id, AuthorizationCode.organisation_id == organisation_id
    )
    if lock and session.get_bind().dialect.name != "sqlite":  # SQLite holds the write lock already
        query = query.with_for_update()
    code = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if code is None:
        raise NotFoundError("code not found")
    return code


# --- commands -----------------------------------------------------------------------------------------------


def _snapshot(code: AuthorizationCode, names) -> dict:
    return {name: getattr(code, name) for name in names}


def create_code(
    session: Session, organisation_id: int, values: dict, *, actor_id: int | None, now: datetime
) -> AuthorizationCode:
    """A new code (draft unless ``status`` says active). Needs key, name (at least in Finnish)."""
    if "key" not in values or "name" not in values:
        raise CatalogInputError("identifier and name are required", field="key" if "key" not in values else "name")
    data = clean(session, organisation_id, values)
    code = AuthorizationCode(organisation_id=organisation_id, status=CodeStatus.DRAFT.value, updated_at=now)
    for name, value in data.items():
        setattr(code, name, value)
    code.description = code.description or {}
    session.add(code)
    session.flush()
    audit.record(
        session,
        organisation_id,
        "catalog.code_created",
        actor_id=actor_id,
        details={"code_id": code.id, "code": code.key, "values": data},
        at=now,
    )
    return code


def update_code(
    session: Session,
    organisation_id: int,
    code_id: int,
    changes: dict,
    *,
    actor_id: int | None,
    now: datetime,
    via: dict | None = None,
) -> AuthorizationCode:
    """Change a code's fields. Identifier, name and description only while no authorization uses it
    (CodeInUseError otherwise, with nothing written); the others at any time. Withdrawn codes are final.
    ``via`` (e.g. the API token) goes into the audit event."""
    code = get_code(session, organisation_id, code_id, lock=True)
    data = clean(session, organisation_id, changes, code)
    changed = {name: value for name, value in data.items() if getattr(code, name) != value}
    if not changed:
        return code
    if code.status == CodeStatus.WITHDRAWN.value:
        raise ConflictError("a withdrawn code is not changed")
    locked = [name for name in LOCKED_FIELDS if name in changed]
    used = uses(session, code.id) if locked or changed.get("status") == CodeStatus.DRAFT.value else 0
    if locked and used:
        raise CodeInUseError("authorizations use this code", fields=locked, authorizations=used)
    if changed.get("status") == CodeStatus.DRAFT.value and used:
        raise CodeInUseError("authorizations use this code", fields=["status"], authorizations=used)
    before = _snapshot(code, changed)
    if "key" in changed:
        _rename_in_confusables(session, organisation_id, code.key, changed["key"], now)
    for name, value in changed.items():
        setattr(code, name, value)
    code.updated_at = now
    details = {"code_id": code.id, "code": code.key, "before": before, "after": changed}
    if via:
        details["via"] = via
    audit.record(session, organisation_id, "catalog.code_updated", actor_id=actor_id, details=details, at=now)
    return code


def _rename_in_confusables(session: Session, organisation_id: int, old: str, new: str, now: datetime) -> None:
    """Other codes name confusable codes by identifier: a draft's new identifier follows into their lists."""
    for other in session.scalars(select(AuthorizationCode).where(AuthorizationCode.organisation_id == organisation_id)):
        if old in (other.confusable_with or []):
            other.confusable_with = [new if key == old else key for key in other.confusable_with]
            other.updated_at = now


def replace_code(
    session: Session, organisation_id: int, old_id: int, values: dict, *, actor_id: int | None, now: datetime
) -> AuthorizationCode:
    """A new active code replacing ``old_id`` (the way to change a code in use). Unless given, it keeps the old
    code's category, agency, mandate type, services and warnings. The old code is withdrawn separately."""
    old = get_code(session, organisation_id, old_id, lock=True)
    if old.replaced_by_id is not None:
        raise ConflictError("the code has already been replaced")
    inherited = {
        "category_id": old.category_id,
        "agency": old.agency,
        "mandate_type": old.mandate_type,
        "services": list(old.services or []),
        "warning": dict(old.warning or {}),
        "confusable_with": list(old.confusable_with or []),
    }
    new = create_code(
        session,
        organisation_id,
        {**inherited, "status": CodeStatus.ACTIVE.value, **values},
        actor_id=actor_id,
        now=now,
    )
    new.replaces_id, old.replaced_by_id, old.updated_at = old.id, new.id, now
    audit.record(
        session,
        organisation_id,
        "catalog.code_replaced",
        actor_id=actor_id,
        details={"code_id": old.id, "code": old.key, "replaced_by_id": new.id, "replaced_by": new.key},
        at=now,
    )
    return new


@dataclass(frozen=True)
class Impact:
    """What withdrawing a code touches: its active authorizations, their holders, requests under way."""

    active: int
    holders: int
    open_requests: int


def impact(session: Session, organisation_id: int, code_id: int) -> Impact:
    code = get_code(session, organisation_id, code_id)
    active, holders = session.execute(
        select(func.count(Authorization.id), func.count(func.distinct(Authorization.holder_id))).where(
            Authorization.code_id == code.id, Authorization.status == AuthorizationStatus.ACTIVE.value
        )
    ).one()
    pending = session.scalar(
        select(func.count(Authorization.id)).where(Authorization.code_id == code.id, Authorization.status.in_(OPEN))
    )
    return Impact(active or 0, holders or 0, pending or 0)


@dataclass
class Withdrawal:
    policy: str
    revocations: list[int] = field(default_factory=list)  # instance ids started
    notified: int = 0


def withdraw_code(
    host, session: Session, organisation_id: int, code_id: int, *, policy: str, actor_id: int | None
) -> Withdrawal:
    """Withdraw a code: "hidden" offers it no more (authorizations stay valid); "removed" also starts a
    revocation for each active authorization and tells holders and their directors what replaces it.
    A hidden code may later be removed; a removed one is final (ConflictError)."""
    if policy not in POLICIES:
        raise CatalogInputError("the policy is hidden or removed", field="policy")
    code = get_code(session, organisation_id, code_id, lock=True)
    if code.status == CodeStatus.WITHDRAWN.value or (policy == "hidden" and code.status == CodeStatus.HIDDEN.value):
        raise ConflictError("the code has already been withdrawn so")
    now = host.clock()
    before = code.status
    code.status = CodeStatus.HIDDEN.value if policy == "hidden" else CodeStatus.WITHDRAWN.value
    code.withdrawal_policy, code.withdrawn_on, code.updated_at = policy, local_date(now), now
    result = Withdrawal(policy)
    if policy == "removed":
        _revoke_all(host, session, code, actor_id, now, result)
    audit.record(
        session,
        organisation_id,
        "catalog.code_withdrawn",
        actor_id=actor_id,
        details={
            "code_id": code.id,
            "code": code.key,
            "from": before,
            "to": code.status,
            "policy": policy,
            "revocations": result.revocations,
            "replaced_by_id": code.replaced_by_id,
        },
        at=now,
    )
    return result


def _revoke_all(host, session: Session, code: AuthorizationCode, actor_id, now, result: Withdrawal) -> None:
    replacement = session.get(AuthorizationCode, code.replaced_by_id) if code.replaced_by_id else None
    extra = {
        "replacement": {"id": replacement.id, "key": replacement.key, "name": replacement.name} if replacement else None
    }
    reason = f"Valtuuskoodi {code.key} poistettu käytöstä"  # (stored in the registry, as other reasons: Finnish)
    if replacement is not None:
        reason += f"; korvaava koodi {replacement.key}"
    rows = session.execute(
        select(Authorization.id, Authorization.holder_id)
        .where(Authorization.code_id == code.id, Authorization.status == AuthorizationStatus.ACTIVE.value)
        .order_by(Authorization.id)
    ).all()
    for authorization_id, holder_id in rows:
        instance_id = revocation.start_revocation(
            host,
            session,
            code.organisation_id,
            authorization_id,
            reason=reason,
            trigger="code_withdrawn",
            requested_by=actor_id,
        )
        if instance_id is None:
            continue
        result.revocations.append(instance_id)
        holder = session.get(Person, holder_id)
        recipients = [holder_id, *directory.directors_for(session, holder)]
        result.notified += notifications.notify_about_authorization(
            session, code.organisation_id, authorization_id, recipients, "code_withdrawn", extra, now=now
        )
