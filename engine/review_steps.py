"""The review diagram's service operations (processes/authorization_review): deadlines, reminder, escalation,
the default decision on silence, and applying the decisions when a round ends."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from . import audit, notifications
from .clock import local_date
from .errors import EngineError
from .models import Authorization, HumanTask, HumanTaskOwner, Organisation, ReviewItem, TaskStatus
from .operations import OperationContext, operation
from .policy import REVIEW_DEFAULTS, policy_for
from .registry import next_review_date, review_interval_months
from .review import DEFAULT_REVOKE_REASON, TASK, Reviewers, ReviewPendingError, S
from .revocation import add_owners, command_host, start_revocation


def _iso(value: datetime) -> str:
    from datetime import UTC

    return value.astimezone(UTC).isoformat()


@operation("review.prepare_deadlines")
def prepare_deadlines(
    ctx: OperationContext, reminder_days: int = 7, escalation_days: int = 14, deadline_days: int = 30
):
    """Compute the round's reminder, escalation and deadline times (ISO datetimes in UTC) from now."""
    return {
        "opened_at": _iso(ctx.now),
        "remind_at": _iso(ctx.now + timedelta(days=int(reminder_days))),
        "escalate_at": _iso(ctx.now + timedelta(days=int(escalation_days))),
        "deadline_at": _iso(ctx.now + timedelta(days=int(deadline_days))),
    }


def _round_task(ctx: OperationContext) -> HumanTask | None:
    return ctx.session.scalars(
        select(HumanTask).where(
            HumanTask.instance_id == ctx.instance_id,
            HumanTask.bpmn_id == TASK,
            HumanTask.status == TaskStatus.READY.value,
        )
    ).first()


def _pending(ctx: OperationContext) -> int:
    return (
        ctx.session.scalar(
            select(func.count(ReviewItem.id)).where(
                ReviewItem.instance_id == ctx.instance_id, ReviewItem.decision.is_(None)
            )
        )
        or 0
    )


@operation("review.remind")
def remind(ctx: OperationContext):
    """The round is still open: remind its reviewers (audit "review.reminder" and the reminder heräte)."""
    task = _round_task(ctx)
    owners = (
        sorted(ctx.session.scalars(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == task.id)))
        if task
        else []
    )
    audit.record(
        ctx.session,
        ctx.organisation_id,
        "review.reminder",
        instance_id=ctx.instance_id,
        task_id=task.id if task else None,
        details={"owners": owners, "pending": _pending(ctx)},
        at=ctx.now,
    )
    notifications.notify(
        ctx.session, ctx.organisation_id, owners, "reminder", {"process": "review", "path": "/reviews"}, now=ctx.now
    )
    return {"reminded": owners}


@operation("review.escalate")
def escalate(ctx: OperationContext):
    """Ask more people: the deputy of each reviewer's unit and the pääkäyttäjät become owners of the open task
    (audit "review.escalated"). Returns the widened reviewer list (the diagram keeps it as reviewer_ids)."""
    reviewers = [int(i) for i in ctx.data.get("reviewer_ids", [])]
    org = ctx.session.get(Organisation, ctx.organisation_id)
    extra = Reviewers(ctx.session, ctx.organisation_id, policy_for(org.settings)).escalation_for(reviewers)
    task = _round_task(ctx)
    added = add_owners(ctx.session, [task.id], extra) if task else []
    audit.record(
        ctx.session,
        ctx.organisation_id,
        "review.escalated",
        instance_id=ctx.instance_id,
        task_id=task.id if task else None,
        details={"added": added, "reviewers": reviewers, "pending": _pending(ctx)},
        at=ctx.now,
    )
    notifications.notify(
        ctx.session, ctx.organisation_id, added, "escalation", {"process": "review", "path": "/reviews"}, now=ctx.now
    )
    return list(dict.fromkeys([*reviewers, *extra]))


@operation("review.apply_default")
def apply_default(ctx: OperationContext, decision: str = "keep"):
    """Nobody decided by the deadline: every pending line gets the default decision (decided_by empty, audit
    "review.default_applied"). With "escalate" nothing is decided and the round goes on (continue)."""
    if decision not in REVIEW_DEFAULTS:
        raise EngineError(f"unknown default review decision {decision!r}")
    pending = list(
        ctx.session.execute(
            select(ReviewItem.id, ReviewItem.authorization_id).where(
                ReviewItem.instance_id == ctx.instance_id, ReviewItem.decision.is_(None)
            )
        ).all()
    )
    if decision == "escalate":
        if pending:
            audit.record(
                ctx.session,
                ctx.organisation_id,
                "review.default_applied",
                instance_id=ctx.instance_id,
                details={"decision": "escalate", "pending": len(pending)},
                at=ctx.now,
            )
        return {"continue": bool(pending), "decision": decision, "applied": 0}
    reason = DEFAULT_REVOKE_REASON if decision == "revoke" else ""
    ctx.session.execute(
        update(ReviewItem)
        .where(ReviewItem.instance_id == ctx.instance_id, ReviewItem.decision.is_(None))
        .values(
            decision=decision,
            reason=reason,
            decided_by_id=None,
            decided_at=ctx.now,
            lock_version=ReviewItem.lock_version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    audit.record_many(
        ctx.session,
        ctx.organisation_id,
        [
            {
                "action": "review.default_applied",
                "authorization_id": auth_id,
                "instance_id": ctx.instance_id,
                "details": {"decision": decision, "default": True, "reason": reason},
            }
            for _item_id, auth_id in pending
        ],
        at=ctx.now,
    )
    return {"continue": False, "decision": decision, "applied": len(pending)}


@operation("review.apply_decisions")
def apply_decisions(ctx: OperationContext):
    """Carry out the round's decisions: keep (reviewed today, next review recomputed), change_end (new end date),
    revoke (the revocation process starts). Refuses (ReviewPendingError) while any line is pending."""
    pending = _pending(ctx)
    if pending:
        raise ReviewPendingError("decide every authorization before finishing the round", pending=pending)
    org = ctx.session.get(Organisation, ctx.organisation_id)
    interval = review_interval_months(org.settings)
    today = local_date(ctx.now)
    counts: dict[str, int] = defaultdict(int)
    host = None
    items = list(
        ctx.session.execute(
            select(ReviewItem, Authorization)
            .join(Authorization, Authorization.id == ReviewItem.authorization_id)
            .where(ReviewItem.instance_id == ctx.instance_id)
            .order_by(ReviewItem.id)
            .execution_options(populate_existing=True)
        ).all()
    )
    events = []
    for item, row in items:
        if row.status == S.ACTIVE.value and item.decision in ("keep", "change_end"):
            details = {"decision": item.decision, "default": item.decided_by_id is None}
            if item.decision == "change_end" and item.new_valid_until:
                details.update(old_valid_until=str(row.valid_until), new_valid_until=str(item.new_valid_until))
                row.valid_until = item.new_valid_until
                row.renewal_offered_days = None  # renewal is offered again before the new end date
            row.last_reviewed_on = today
            row.next_review_on = next_review_date(row, interval)
            row.updated_at = ctx.now
            details["next_review_on"] = str(row.next_review_on) if row.next_review_on else None
            action = "authorization.review_kept" if item.decision == "keep" else "authorization.review_end_changed"
            events.append(
                {
                    "action": action,
                    "actor_id": item.decided_by_id,
                    "authorization_id": row.id,
                    "instance_id": ctx.instance_id,
                    "details": details,
                }
            )
            counts[item.decision] += 1
        if row.open_instance_id == ctx.instance_id:
            row.open_instance_id = None
        if row.status == S.ACTIVE.value and item.decision == "revoke":
            host = host or command_host(ctx)
            ctx.session.flush()
            started = start_revocation(
                host,
                ctx.session,
                ctx.organisation_id,
                row.id,
                reason=item.reason or DEFAULT_REVOKE_REASON,
                trigger="review",
                requested_by=item.decided_by_id,
            )
            counts["revoke" if started else "skipped"] += 1
        elif item.decision not in ("keep", "change_end"):
            counts["skipped" if item.decision != "superseded" else "superseded"] += 1
    audit.record_many(ctx.session, ctx.organisation_id, events, at=ctx.now)
    audit.record(
        ctx.session,
        ctx.organisation_id,
        "review.round_completed",
        instance_id=ctx.instance_id,
        details=dict(counts),
        at=ctx.now,
    )
    return dict(counts)
