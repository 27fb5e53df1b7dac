"""What runs without anyone acting: timers, expiry, renewal offers, review rounds (``valtuus tick`` / worker).

One sweep (:func:`tick`) runs its parts one after another, each in its own short transactions; a part that
fails is logged and the others still run. Several workers may sweep at once against PostgreSQL: timers are
claimed with ``FOR UPDATE SKIP LOCKED`` (one instance is advanced by one worker), expiry and renewal offers
are guarded updates, so nothing happens twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import update

from . import audit, hr_events, lifecycle, notifications, review, webhook_delivery
from .clock import local_date
from .models import Authorization, HumanTask, InstanceStatus, TaskStatus

TIMER_BATCH = 200
MAX_TIMER_ROUNDS = 10_000  # a bound, not a target: 2,000,000 timers in one sweep
log = logging.getLogger("valtuus.scheduler")


def fire_timers(host, now: datetime, limit: int = TIMER_BATCH) -> int:
    """Fire every due timer, ``limit`` instances at a time, until a round advances none."""
    fired = 0
    for _ in range(MAX_TIMER_ROUNDS):
        n = host.fire_due_timers(now, limit=limit)
        fired += n
        if n == 0:
            break
    return fired


CALENDAR_EVERY = timedelta(hours=1)


def _calendar_due(host, now: datetime) -> bool:
    """Expiry, renewal offers, review rounds and leavers follow the calendar: what they find changes when the
    Finnish date does (or when rows are edited). They run on a host's first sweep, when the date has changed
    and otherwise at most every CALENDAR_EVERY – so a sweep with nothing due costs one indexed timer query."""
    last = getattr(host, "_calendar_swept_at", None)
    return last is None or local_date(last) != local_date(now) or not timedelta(0) <= now - last < CALENDAR_EVERY


def tick(host, now: datetime | None = None, *, force: bool = False) -> dict:
    """One sweep: due timers; then – on the first sweep, a new Finnish day, hourly, or with ``force`` – expiry
    and renewal offers, due review rounds, people whose employment has ended. Returns counts per part, whether
    the calendar parts ran (``calendar``) and the names of the parts that failed (``failed``)."""
    now = now or host.clock()
    counts: dict = {
        "timers_fired": 0, "expired": 0, "renewals_offered": 0, "review_rounds": 0, "leavers_deactivated": 0,
        "emails_sent": 0, "webhooks_sent": 0, "failed": [],
    }

    def part(name: str, run) -> None:
        try:
            run()
        except Exception:  # noqa: BLE001 – one failing part must not stop the others
            log.exception("scheduler part %s failed", name)
            counts["failed"].append(name)

    def timers():
        counts["timers_fired"] = fire_timers(host, now)

    def expiry():
        counts.update(lifecycle.expire_and_offer(host, now))

    def reviews():
        counts["review_rounds"] = review.open_due_rounds(host, now) or 0

    def leavers():
        counts["leavers_deactivated"] = hr_events.deactivate_leavers(host, now)

    def delivery():  # every sweep: the morning digest (once a day), then due e-mail from the outbox
        notifications.queue_digests(host, now)
        counts["emails_sent"] = notifications.deliver(host, getattr(host, "settings", None), now)["sent"]

    def hooks():  # every sweep: registry events to the organisations' webhook endpoints
        counts["webhooks_sent"] = webhook_delivery.deliver(host, now)["sent"]

    part("timers", timers)
    counts["calendar"] = force or _calendar_due(host, now)
    if counts["calendar"]:
        failed = len(counts["failed"])
        part("expiry", expiry)
        part("reviews", reviews)
        part("leavers", leavers)
        if len(counts["failed"]) == failed:  # a failed part is tried again on the next sweep
            host._calendar_swept_at = now
    part("delivery", delivery)  # last: what this sweep's parts notified goes out in the same sweep
    part("webhooks", hooks)
    return counts


def resolve_instance(host, actor_id: int, instance_id: int, note: str = "") -> None:
    """The pääkäyttäjä closes an instance in error as resolved (fixed by hand): it is complete, its open tasks
    are cancelled, authorizations no longer show it as under way, and the audit trail says who and why."""
    now = host.clock()
    with host._command() as session:
        actor, instance = host.lock_errored_instance(session, actor_id, instance_id)
        instance.status = InstanceStatus.COMPLETE.value
        instance.outcome = "resolved"
        instance.completed_at = now
        instance.updated_at = now
        instance.next_timer_due = None
        session.execute(
            update(HumanTask)
            .where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY.value)
            .values(status=TaskStatus.CANCELLED.value, completed_at=now)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Authorization)
            .where(Authorization.open_instance_id == instance.id)
            .values(open_instance_id=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        audit.record(
            session,
            instance.organisation_id,
            "process.resolved",
            actor_id=actor.id,
            instance_id=instance.id,
            details={"error": instance.error, "note": note[:2000]},
            at=now,
        )
