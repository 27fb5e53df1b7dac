"""Revocation (peruminen / mitätöinti): the pääkäyttäjä invalidates a mandate in Suomi.fi and confirms it.

Interface used by reviews, HR events and (later) code withdrawal – implemented with
processes/authorization_revocation/. While the process runs the authorization is "revoking" (revocation
pending) and ``open_instance_id`` points at it; the pääkäyttäjä's confirmation makes it "revoked".

Deadlines: due = ``revocation_due_working_days`` working days (Mon–Fri; public holidays are not known here)
after the start, or after the start of ``effective_on`` (Finnish time) when that is later – the task then
waits for that day. The reminder fires ``revocation_reminder_days`` after the due time and the escalation
``revocation_escalation_days`` after it; both are boundary timers whose timeDate reads ``deadlines[…]``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from . import audit, directory, notifications
from .clock import FINNISH_TIME, local_date
from .errors import EngineError, NotAllowedError, NotFoundError, TaskConflictError
from .models import (
    Authorization,
    AuthorizationCode,
    AuthorizationStatus,
    HumanTask,
    HumanTaskOwner,
    Person,
    ReviewItem,
    TaskStatus,
)
from .operations import OperationContext, operation

PROCESS = "authorization_revocation"
TASK = "invalidate_in_suomifi"
TRIGGERS = ("review", "leaver", "mover", "code_withdrawn", "manual")
MAX_REASON = 2000
S = AuthorizationStatus


class RevocationInputError(EngineError):
    """The request to revoke is incomplete (``field`` names what is missing)."""

    code = "revocation_invalid"


def start_revocation(
    host,
    session: Session,
    organisation_id: int,
    authorization_id: int,
    *,
    reason: str,
    trigger: str,
    requested_by: int | None = None,
    effective_on=None,
) -> int | None:
    """Start the revocation process for one active authorization in the caller's transaction.

    ``trigger`` is one of "review", "leaver", "mover", "code_withdrawn", "manual". Returns the new instance's
    id, or None when the authorization is not active or a revocation is already under way (idempotent).
    ``effective_on`` (a date or ISO date string, e.g. a leaver's end date) makes the pääkäyttäjä's task wait
    until that day. A pending review decision on the authorization is closed as "superseded".
    Raises NotFoundError for an authorization of another organisation, RevocationInputError without a reason.
    """
    if trigger not in TRIGGERS:
        raise EngineError(f"unknown revocation trigger {trigger!r}")
    reason = (reason or "").strip()[:MAX_REASON]
    if not reason:
        raise RevocationInputError("a reason is required", field="reason")
    effective = _date(effective_on)
    query = select(Authorization).where(
        Authorization.id == authorization_id, Authorization.organisation_id == organisation_id
    )
    if session.get_bind().dialect.name != "sqlite":  # SQLite holds the write lock from BEGIN IMMEDIATE
        query = query.with_for_update()
    row = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if row is None:
        raise NotFoundError("authorization not found")
    if row.status != S.ACTIVE.value:
        return None
    now = host.clock()
    code = session.get(AuthorizationCode, row.code_id)
    data = {
        "authorization_id": row.id,
        "authorization": {
            "id": row.id,
            "code": code.key,
            "code_name": code.name,
            "valid_until": row.valid_until.isoformat() if row.valid_until else None,
        },
        "revocation": {
            "reason": reason,
            "trigger": trigger,
            "requested_by": requested_by,
            "effective_on": effective.isoformat() if effective else None,
        },
    }
    instance_id = host.start_system_process(
        PROCESS, organisation_id, subject_id=row.holder_id, data=data, started_by=requested_by, session=session
    )
    row.status = S.REVOKING.value
    row.open_instance_id = instance_id
    row.updated_at = now
    session.execute(
        update(ReviewItem)
        .where(ReviewItem.authorization_id == row.id, ReviewItem.decision.is_(None))
        .values(
            decision="superseded",
            reason=reason,
            decided_by_id=requested_by,
            decided_at=now,
            lock_version=ReviewItem.lock_version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        organisation_id,
        "authorization.revocation_started",
        actor_id=requested_by,
        authorization_id=row.id,
        instance_id=instance_id,
        details={
            "from": S.ACTIVE.value,
            "to": S.REVOKING.value,
            "reason": reason,
            "trigger": trigger,
            "effective_on": effective.isoformat() if effective else None,
            "code": code.key,
        },
        at=now,
    )
    return instance_id


def may_request(session: Session, actor, authorization: Authorization) -> bool:
    """The holder, a pääkäyttäjä, or a director (or deputy) of the holder's unit or a unit above it."""
    if authorization.organisation_id != actor.organisation_id:
        return False
    if actor.id == authorization.holder_id or actor.has("administrator"):
        return True
    if actor.has("director"):
        holder = session.get(Person, authorization.holder_id)
        return holder is not None and holder.unit_id in directory.directed_unit_ids(
            session, session.get(Person, actor.id)
        )
    return False


def request_revocation(host, actor_id: int, authorization_id: int, *, reason: str) -> int:
    """A person asks to revoke an authorization (trigger "manual"). Returns the revocation's instance id.

    NotFoundError when the actor may not see it (another organisation, or not theirs to ask for),
    TaskConflictError when it is not active or a revocation is already under way."""
    from . import queries

    reason = (reason or "").strip()
    if len(reason) < 3:
        raise RevocationInputError("a reason is required", field="reason")
    if len(reason) > MAX_REASON:
        raise RevocationInputError("the reason is too long", field="reason", limit=MAX_REASON)
    with host.db.unit_of_work() as session:
        actor = queries.user(session, actor_id)
        if actor is None:
            raise NotAllowedError("unknown or inactive user")
        row = session.get(Authorization, authorization_id)
        if row is None or not may_request(session, actor, row):
            raise NotFoundError("authorization not found")
        instance_id = start_revocation(
            host, session, actor.organisation_id, row.id, reason=reason, trigger="manual", requested_by=actor.id
        )
        if instance_id is None:
            raise TaskConflictError("the authorization is not active or its revocation is already under way")
        return instance_id


# --- deadlines --------------------------------------------------------------------------------------------


def add_working_days(start: datetime, days: int) -> datetime:
    """``days`` working days (Mon–Fri, counted in Finnish time) after ``start``, at the same time of day."""
    local = start.astimezone(FINNISH_TIME)
    day, left = local.date(), max(0, int(days))
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return datetime.combine(day, local.timetz().replace(tzinfo=None), FINNISH_TIME).astimezone(UTC)


def start_of_day(day: date) -> datetime:
    """The first moment of ``day`` in Finland, in UTC."""
    return datetime.combine(day, time(0), FINNISH_TIME).astimezone(UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _date(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@operation("revocation.prepare_deadlines")
def prepare_deadlines(
    ctx: OperationContext,
    due_working_days: int = 1,
    reminder_days: int = 1,
    escalation_days: int = 3,
    effective_on: str | None = None,
):
    """Compute the revocation's deadlines (ISO datetimes in UTC) into the data: wait, start_at, due_at, remind_at,
    escalate_at."""
    start, wait = ctx.now, False
    effective = _date(effective_on)
    if effective is not None and start_of_day(effective) > ctx.now:
        start, wait = start_of_day(effective), True
    due = add_working_days(start, due_working_days)
    return {
        "wait": wait,
        "start_at": _iso(start),
        "due_at": _iso(due),
        "remind_at": _iso(due + timedelta(days=int(reminder_days))),
        "escalate_at": _iso(due + timedelta(days=int(escalation_days))),
    }


def _open_tasks(ctx: OperationContext, bpmn_id: str) -> list[HumanTask]:
    return list(
        ctx.session.scalars(
            select(HumanTask).where(
                HumanTask.instance_id == ctx.instance_id,
                HumanTask.bpmn_id == bpmn_id,
                HumanTask.status == TaskStatus.READY.value,
            )
        )
    )


def add_owners(session: Session, task_ids: list[str], people: list[int]) -> list[int]:
    """Add people as potential owners of open tasks; returns who was added (to any of them)."""
    if not task_ids or not people:
        return []
    existing = {
        tuple(r)
        for r in session.execute(
            select(HumanTaskOwner.task_id, HumanTaskOwner.person_id).where(HumanTaskOwner.task_id.in_(task_ids))
        )
    }
    rows = [{"task_id": t, "person_id": p} for t in task_ids for p in people if (t, p) not in existing]
    if rows:
        session.execute(insert(HumanTaskOwner), rows)
    return sorted({r["person_id"] for r in rows})


@operation("revocation.remind")
def remind(ctx: OperationContext):
    """The revocation is overdue: remind the pääkäyttäjät who own the task (audit "revocation.reminder").

    This is the one place where the reminder notification (heräte) is sent from."""
    tasks = _open_tasks(ctx, TASK)
    owners = sorted(
        set(
            ctx.session.scalars(
                select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id.in_([t.id for t in tasks]))
            )
        )
    )
    audit.record(
        ctx.session,
        ctx.organisation_id,
        "revocation.reminder",
        authorization_id=ctx.data.get("authorization_id"),
        instance_id=ctx.instance_id,
        task_id=tasks[0].id if tasks else None,
        details={"owners": owners, "due_at": (ctx.data.get("deadlines") or {}).get("due_at")},
        at=ctx.now,
    )
    _notify_task(ctx, tasks, owners, "reminder")
    return {"reminded": owners}


@operation("revocation.escalate")
def escalate(ctx: OperationContext):
    """Still not done: every pääkäyttäjä (but the holder) becomes an owner of the open task (audit
    "revocation.escalated") and hear of it (the escalation heräte)."""
    tasks = _open_tasks(ctx, TASK)
    admins = [p for p in directory.administrators(ctx.session, ctx.organisation_id) if p != ctx.subject_person_id]
    added = add_owners(ctx.session, [t.id for t in tasks], admins)
    audit.record(
        ctx.session,
        ctx.organisation_id,
        "revocation.escalated",
        authorization_id=ctx.data.get("authorization_id"),
        instance_id=ctx.instance_id,
        task_id=tasks[0].id if tasks else None,
        details={"added": added, "owners": admins},
        at=ctx.now,
    )
    _notify_task(ctx, tasks, added, "escalation")
    return {"added": added}


def _notify_task(ctx: OperationContext, tasks: list[HumanTask], people: list[int], kind: str) -> None:
    if not people or ctx.data.get("authorization_id") is None:
        return
    context = {
        **notifications.authorization_context(ctx.session, int(ctx.data["authorization_id"])),
        "process": "revocation",
        "path": f"/tasks/{tasks[0].id}" if tasks else "/tasks",
    }
    notifications.notify(ctx.session, ctx.organisation_id, people, kind, context, now=ctx.now)


@operation("revocation.record_revoked")
def record_revoked(ctx: OperationContext, outcome: str = "invalidated"):
    """The pääkäyttäjä confirmed: the authorization is revoked (audit "authorization.revoked": who, when, why)."""
    if outcome not in ("invalidated", "not_invalidated"):
        raise EngineError(f"unknown revocation outcome {outcome!r}")
    row = ctx.session.get(Authorization, int(ctx.data["authorization_id"]))
    if row is None or row.organisation_id != ctx.organisation_id:
        raise EngineError("the revoked authorization does not exist in this organisation")
    revocation = ctx.data.get("revocation") or {}
    note = (ctx.data.get("revocation_note") or "").strip()
    old = row.status
    if row.status == S.REVOKING.value:
        row.status = S.REVOKED.value
        row.closing_reason = revocation.get("reason", "") + (f" – {note}" if note else "")
        row.next_review_on = None
        row.updated_at = ctx.now
    if row.open_instance_id == ctx.instance_id:
        row.open_instance_id = None
    code = ctx.session.get(AuthorizationCode, row.code_id)
    audit.record(
        ctx.session,
        ctx.organisation_id,
        "authorization.revoked",
        actor_id=ctx.actor_id,
        authorization_id=row.id,
        instance_id=ctx.instance_id,
        details={
            "from": old,
            "to": row.status,
            "reason": revocation.get("reason", ""),
            "trigger": revocation.get("trigger", ""),
            "requested_by": revocation.get("requested_by"),
            "suomifi": outcome,
            "invalidated_on": ctx.data.get("invalidated_on") if outcome == "invalidated" else None,
            "note": note,
            "code": code.key if code else None,
            "on": local_date(ctx.now).isoformat(),
        },
        at=ctx.now,
    )
    if old != row.status:  # the holder and their director hear of it
        holder = ctx.session.get(Person, row.holder_id)
        recipients = [row.holder_id, *(directory.directors_for(ctx.session, holder) if holder else [])]
        notifications.notify_about_authorization(
            ctx.session,
            ctx.organisation_id,
            row.id,
            recipients,
            "authorization_revoked",
            {"on": local_date(ctx.now).isoformat()},
            now=ctx.now,
        )
    return {"status": row.status}


# --- a host inside an operation ----------------------------------------------------------------------------

_SPECS = None


def command_host(ctx: OperationContext):
    """A host bound to a running command (its session and time) for operations that start processes, e.g. the
    review starting revocations. It never opens a transaction: use it only with ``session=ctx.session``."""
    global _SPECS
    from . import specs
    from .runtime import Host
    from .serializer import StateSerializer

    if _SPECS is None:
        _SPECS = specs.SpecCache()
    host = Host.__new__(Host)
    host.settings, host.db, host.specs = None, None, _SPECS
    host.serializer = StateSerializer()
    host.clock = lambda: ctx.now
    return host
