"""The registry of authorizations, and the service operations the request diagram calls."""

from __future__ import annotations

import calendar
from datetime import date

from sqlalchemy import select, update

from . import audit, notifications
from .clock import local_date
from .errors import EngineError
from .models import Authorization, AuthorizationCode, AuthorizationStatus, MandateType, Organisation, Person
from .operations import OperationContext, operation

S = AuthorizationStatus


def _rows(ctx: OperationContext, *statuses: S) -> list[Authorization]:
    query = (
        select(Authorization)
        .where(
            Authorization.request_instance_id == ctx.instance_id,
            Authorization.organisation_id == ctx.organisation_id,
            Authorization.status.in_([s.value for s in statuses]),
        )
        .order_by(Authorization.id)
    )
    return list(ctx.session.scalars(query))


DEFAULT_REVIEW_INTERVAL_MONTHS = 12


def sync_holders(session, organisation_id: int, person_ids=None) -> int:
    """Copy the holders' current name and unit onto their authorizations (the registry lists read them there).

    Call after people are renamed or move between units; rows already in step are not touched.
    """
    name = select(Person.name).where(Person.id == Authorization.holder_id).scalar_subquery()
    unit = select(Person.unit_id).where(Person.id == Authorization.holder_id).scalar_subquery()
    query = update(Authorization).where(Authorization.organisation_id == organisation_id)
    if person_ids is not None:
        query = query.where(Authorization.holder_id.in_(list(person_ids)))
    mismatch = (
        select(Person.id)
        .where(
            Person.id == Authorization.holder_id,
            (Person.name != Authorization.holder_name)
            | (Person.unit_id.is_distinct_from(Authorization.unit_id)),
        )
        .exists()
    )
    result = session.execute(
        query.where(mismatch).values(holder_name=name, unit_id=unit).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def review_interval_months(settings: dict | None) -> int:
    value = (settings or {}).get("review_interval_months", DEFAULT_REVIEW_INTERVAL_MONTHS)
    return value if isinstance(value, int) and 1 <= value <= 120 else DEFAULT_REVIEW_INTERVAL_MONTHS


def next_review_date(row: Authorization, interval_months: int) -> date | None:
    """The interval after the last review (or registration, or start), and never later than the end date."""
    if row.status != S.ACTIVE.value:
        return None
    base = row.last_reviewed_on or row.registered_on or row.valid_from
    if base is None:
        return row.valid_until
    due = add_months(base, interval_months)
    return min(due, row.valid_until) if row.valid_until else due


def _date(value) -> date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _tell_holder(ctx: OperationContext, rows: list[Authorization], kind: str, **extra) -> None:
    """The holder hears of their request's outcome (one notification per request, naming its codes)."""
    if not rows or ctx.subject_person_id is None:
        return
    keys = dict(
        ctx.session.execute(
            select(AuthorizationCode.id, AuthorizationCode.key).where(
                AuthorizationCode.id.in_({row.code_id for row in rows})
            )
        ).all()
    )
    context = {
        "instance_id": ctx.instance_id,
        "codes": sorted({keys.get(row.code_id, "") for row in rows}),
        "path": f"/requests/{ctx.instance_id}",
        **extra,
    }
    notifications.notify(ctx.session, ctx.organisation_id, [ctx.subject_person_id], kind, context, now=ctx.now)


def _change(ctx: OperationContext, row: Authorization, status: S, action: str, **details) -> None:
    old = row.status
    row.status = status.value
    row.updated_at = ctx.now
    audit.record(
        ctx.session,
        ctx.organisation_id,
        action,
        actor_id=ctx.actor_id,
        authorization_id=row.id,
        instance_id=ctx.instance_id,
        details={"from": old, "to": status.value, **details},
        at=ctx.now,
    )


@operation("registry.record_request")
def record_request(ctx: OperationContext):
    """Write the requested codes to the registry as requested authorizations (again after a return)."""
    wanted = [int(c) for c in ctx.data.get("codes", [])]
    codes = {
        c.id: c
        for c in ctx.session.scalars(
            select(AuthorizationCode).where(
                AuthorizationCode.organisation_id == ctx.organisation_id, AuthorizationCode.id.in_(wanted)
            )
        )
    }
    if set(wanted) - set(codes):
        raise EngineError("request names codes that do not exist in this organisation")
    existing = {row.code_id: row for row in _rows(ctx, S.REQUESTED)}
    holder = ctx.session.get(Person, ctx.subject_person_id)
    for code_id, row in existing.items():
        if code_id not in codes:
            _change(ctx, row, S.CANCELLED, "authorization.cancelled", reason="removed from the request")
    added = []
    for code_id in wanted:
        row = existing.get(code_id)
        if row is None:
            row = Authorization(
                organisation_id=ctx.organisation_id,
                holder_id=ctx.subject_person_id,
                holder_name=holder.name,
                unit_id=holder.unit_id,
                code_id=code_id,
                status=S.REQUESTED.value,
                request_instance_id=ctx.instance_id,
                created_at=ctx.now,
                mandate_type=codes[code_id].mandate_type,
            )
            ctx.session.add(row)
            added.append(row)
        row.justification = ctx.data.get("justification", "")
        row.valid_from = _date(ctx.data.get("valid_from"))
        row.valid_until = _date(ctx.data.get("valid_until"))
        row.updated_at = ctx.now
    if added:
        ctx.session.flush()  # the audit events need the new ids
    for row in added:
        audit.record(
            ctx.session,
            ctx.organisation_id,
            "authorization.requested",
            actor_id=ctx.actor_id,
            authorization_id=row.id,
            instance_id=ctx.instance_id,
            at=ctx.now,
            details={"code": codes[row.code_id].key},
        )
    return {"authorizations": len(wanted)}


@operation("registry.record_approval")
def record_approval(ctx: OperationContext):
    """Mark the request's authorizations approved by the director."""
    rows = _rows(ctx, S.REQUESTED)
    for row in rows:
        _change(ctx, row, S.APPROVED, "authorization.approved")
    _tell_holder(ctx, rows, "request_approved")
    return None


@operation("registry.record_rejection")
def record_rejection(ctx: OperationContext, stage: str = "approval", reason: str = ""):
    """Close the request's open authorizations as rejected (by the supervisor or the director)."""
    rows = _rows(ctx, S.REQUESTED, S.APPROVED)
    for row in rows:
        row.closing_reason = reason or ""
        _change(ctx, row, S.REJECTED, "authorization.rejected", stage=stage, reason=reason or "")
    _tell_holder(ctx, rows, "request_rejected", reason=(reason or "")[:500])
    return None


@operation("registry.record_registration")
def record_registration(ctx: OperationContext):
    """The pääkäyttäjä registered the mandate in Suomi.fi: the authorizations become active."""
    mandate_type = MandateType(ctx.data.get("mandate_type", MandateType.TRANSACTION.value)).value
    interval = review_interval_months(ctx.session.get(Organisation, ctx.organisation_id).settings)
    rows = _rows(ctx, S.APPROVED)
    for row in rows:
        row.mandate_type = mandate_type
        row.registered_on = _date(ctx.data.get("registered_on")) or local_date(ctx.now)
        row.valid_from = _date(ctx.data.get("registered_valid_from")) or row.valid_from
        row.valid_until = _date(ctx.data.get("registered_valid_until")) or row.valid_until
        _change(
            ctx,
            row,
            S.ACTIVE,
            "authorization.registered",
            mandate_type=mandate_type,
            valid_from=str(row.valid_from),
            valid_until=str(row.valid_until),
        )
        row.next_review_on = next_review_date(row, interval)
    _tell_holder(ctx, rows, "request_registered")
    return None


@operation("registry.record_registration_failure")
def record_registration_failure(ctx: OperationContext, reason: str = ""):
    """The mandate could not be registered in Suomi.fi: close the authorizations with the reason."""
    rows = _rows(ctx, S.APPROVED)
    for row in rows:
        row.closing_reason = reason or ""
        _change(ctx, row, S.REJECTED, "authorization.registration_failed", reason=reason or "")
    _tell_holder(ctx, rows, "request_rejected", reason=(reason or "")[:500])
    return None
