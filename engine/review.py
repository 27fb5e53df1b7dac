"""Periodic review (määräaikaistarkastelu): review rounds per reviewer, decisions per line or in bulk.

Implemented with processes/authorization_review/. A round is one process instance for one reviewer group
(the director and deputy of the holders' unit, or a supervisor – policy ``reviewer``) holding one
``ReviewItem`` per authorization; instances never loop over years (the next review is a new round).

- ``open_due_rounds`` (the scheduler's tick) opens rounds for active authorizations whose review date or end
  date is within ``review_lead_days`` and that are in no round and under no revocation.
- ``review_now`` opens rounds at once (e.g. a mover's authorizations, for the new director).
- ``decide`` records per-line decisions (optimistic ``lock_version``: of two people deciding one line exactly
  one wins); when the last line of a round is decided its task is completed, which applies the decisions.
- The diagram's service operations (review_steps.py): ``review.prepare_deadlines``, ``review.remind``,
  ``review.escalate``, ``review.apply_default`` (the default decision on silence, ``review_default``:
  keep | revoke | escalate – "escalate" keeps asking, each deadline period adding one loop iteration) and
  ``review.apply_decisions``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, insert, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import audit, directory
from .clock import local_date
from .errors import ConflictError, EngineError, NotAllowedError, NotFoundError, TaskConflictError
from .models import (
    Authorization,
    AuthorizationCode,
    AuthorizationStatus,
    HumanTask,
    HumanTaskOwner,
    Organisation,
    Person,
    ProcessInstance,
    ReviewItem,
    TaskStatus,
    Unit,
)
from .policy import policy_for
from .privacy import contains_identity_code
from .registry import add_months
from .revocation import add_owners

PROCESS = "authorization_review"
TASK = "review_authorizations"
DECISIONS = ("keep", "change_end", "revoke")
MAX_REASON = 2000
MAX_VALID_YEARS = 25
CHUNK = 500  # ids per IN (…) list
DEFAULT_REVOKE_REASON = "Oletuspäätös: valtuutta ei tarkasteltu määräpäivään mennessä"
S = AuthorizationStatus


class ReviewPendingError(ConflictError):
    """The round still has undecided authorizations, so it cannot be finished."""

    code = "review_pending"


class ReviewConflictError(ConflictError):
    """Someone else decided (one of) these lines first."""

    code = "review_conflict"


class ReviewInputError(EngineError):
    """Decisions that cannot be recorded: ``errors`` maps item id → problem code."""

    code = "review_invalid"

    def __init__(self, errors: dict[int, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# --- who reviews -----------------------------------------------------------------------------------------


class Reviewers:
    """Resolves holders to reviewer groups from the directory, read once per organisation (no query per row)."""

    def __init__(self, session: Session, organisation_id: int, policy: dict):
        self.mode = policy.get("reviewer", "director")
        people = session.execute(
            select(Person.id, Person.unit_id, Person.supervisor_id, Person.active).where(
                Person.organisation_id == organisation_id
            )
        ).all()
        self.unit_of = {p.id: p.unit_id for p in people}
        self.supervisor_of = {p.id: p.supervisor_id for p in people}
        self.active = {p.id for p in people if p.active}
        self.units = {
            u.id: u
            for u in session.execute(
                select(Unit.id, Unit.parent_id, Unit.director_id, Unit.deputy_id).where(
                    Unit.organisation_id == organisation_id
                )
            ).all()
        }
        self.administrators = directory.administrators(session, organisation_id)
        self._cache: dict[int, tuple[int, ...]] = {}

    def directors(self, holder_id: int) -> list[int]:
        """Director and deputy of the holder's unit, walking up; never the holder themself; active people only."""
        unit, seen = self.units.get(self.unit_of.get(holder_id)), set()
        while unit is not None and unit.id not in seen:
            seen.add(unit.id)
            found = [p for p in (unit.director_id, unit.deputy_id) if p and p != holder_id and p in self.active]
            if found:
                return found
            unit = self.units.get(unit.parent_id)
        return []

    def for_holder(self, holder_id: int) -> tuple[int, ...]:
        cached = self._cache.get(holder_id)
        if cached is None:
            found: list[int] = []
            if self.mode == "supervisor":
                sup = self.supervisor_of.get(holder_id)
                found = [sup] if sup and sup != holder_id and sup in self.active else []
            found = found or self.directors(holder_id)
            found = found or [p for p in self.administrators if p != holder_id]  # nobody above: the pääkäyttäjät
            cached = self._cache[holder_id] = tuple(dict.fromkeys(found))
        return cached

    def escalation_for(self, reviewer_ids: list[int]) -> list[int]:
        """The deputy of each reviewer's unit (its director when the reviewer is the deputy), and the pääkäyttäjät."""
        extra = []
        for rid in reviewer_ids:
            unit = self.units.get(self.unit_of.get(rid))
            if unit is None:
                continue
            for pid in (unit.deputy_id,) if unit.deputy_id != rid else (unit.director_id,):
                if pid and pid != rid and pid in self.active:
                    extra.append(pid)
        return [p for p in dict.fromkeys([*extra, *self.administrators]) if p not in reviewer_ids]


# --- opening rounds ------------------------------------------------------------------------------------------


def _chunks(values: list, size: int = CHUNK):
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _free(organisation_id: int):
    """Active, and in no round and under no revocation.

    ``open_instance_id`` is set with every pending review line and every revocation (and cleared when they end),
    so it alone says whether an authorization is taken – no anti-join against review_items, whose planner
    estimates lag behind a round of 100,000 lines just inserted (a nested loop there made opening quadratic)."""
    return and_(
        Authorization.organisation_id == organisation_id,
        Authorization.status == S.ACTIVE.value,
        Authorization.open_instance_id.is_(None),
    )


def due_groups(session: Session, organisation_id: int, policy: dict, today: date) -> dict[tuple, list[int]]:
    """Authorizations due for review (review or end date within the lead time), grouped by reviewers."""
    horizon = today + timedelta(days=int(policy.get("review_lead_days", 30)))
    rows = session.execute(
        select(Authorization.id, Authorization.holder_id)
        .where(
            _free(organisation_id),
            (Authorization.next_review_on <= horizon) | (Authorization.valid_until <= horizon),
        )
        .order_by(Authorization.id)
    ).all()
    if not rows:
        return {}
    resolver = Reviewers(session, organisation_id, policy)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for auth_id, holder_id in rows:
        groups[resolver.for_holder(holder_id)].append(auth_id)
    return dict(groups)


def open_due_rounds(host, now: datetime) -> int:
    """Open review rounds for every active authorization whose review is due (within the lead time) and that
    is not already in a round. Returns the number of rounds (process instances) started.

    Each round is its own transaction (one instance per reviewer group, its items inserted in bulk); rows that
    another worker claimed meanwhile are skipped, so running it twice opens nothing twice."""
    today = local_date(now)
    started = 0
    with host.db.reader() as session:
        organisations = session.execute(select(Organisation.id, Organisation.settings).order_by(Organisation.id)).all()
    for organisation_id, settings in organisations:
        policy = policy_for(settings)
        with host.db.reader() as session:
            groups = due_groups(session, organisation_id, policy, today)
        for reviewer_ids, auth_ids in groups.items():
            with host.db.unit_of_work() as session:
                if _open_round(host, session, organisation_id, list(reviewer_ids), auth_ids, kind="due", reason=""):
                    started += 1
    return started


def review_now(host, session: Session, organisation_id: int, authorization_ids: list[int], *, reason: str) -> list[int]:
    """Put these authorizations into review right away (e.g. a mover's, for the new director), in the caller's
    transaction. Returns the started instance ids.

    Active authorizations only; one waiting in an older round is taken out of it (its line there is closed as
    "superseded") and reviewed in the new round by the holder's current reviewers."""
    ids = sorted({int(i) for i in authorization_ids})
    if not ids:
        return []
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFoundError("organisation not found")
    now = host.clock()
    rows = []
    for chunk in _chunks(ids):
        rows += session.execute(
            select(Authorization.id, Authorization.holder_id, Authorization.open_instance_id).where(
                Authorization.id.in_(chunk),
                Authorization.organisation_id == organisation_id,
                Authorization.status == S.ACTIVE.value,
            )
        ).all()
    if not rows:
        return []
    taken = [r.id for r in rows if r.open_instance_id is not None]
    for chunk in _chunks(taken):
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.authorization_id.in_(chunk), ReviewItem.decision.is_(None))
            .values(
                decision="superseded", reason=reason or "", decided_at=now, lock_version=ReviewItem.lock_version + 1
            )
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Authorization)
            .where(Authorization.id.in_(chunk))
            .values(open_instance_id=None)
            .execution_options(synchronize_session=False)
        )
    resolver = Reviewers(session, organisation_id, policy_for(org.settings))
    groups: dict[tuple, list[int]] = defaultdict(list)
    for r in rows:
        groups[resolver.for_holder(r.holder_id)].append(r.id)
    started = []
    for reviewer_ids, auth_ids in groups.items():
        instance_id = _open_round(
            host, session, organisation_id, list(reviewer_ids), auth_ids, kind="now", reason=reason or ""
        )
        if instance_id:
            started.append(instance_id)
    return started


def _open_round(host, session, organisation_id, reviewer_ids, auth_ids, *, kind, reason) -> int | None:
    claimed: list[int] = []
    is_sqlite = session.get_bind().dialect.name == "sqlite"
    for chunk in _chunks(sorted(auth_ids)):
        query = select(Authorization.id).where(Authorization.id.in_(chunk), _free(organisation_id))
        if not is_sqlite:  # another worker opening the same rows skips them (SQLite: writers queue)
            query = query.with_for_update(skip_locked=True, of=Authorization)
        claimed += session.scalars(query)
    if not claimed:
        return None
    claimed.sort()  # PostgreSQL returns locked rows in no particular order
    now = host.clock()
    data = {
        "reviewer_ids": reviewer_ids,
        "round": {"kind": kind, "reason": reason, "opened_on": local_date(now).isoformat(), "size": len(claimed)},
        "authorization_ids": claimed,
    }
    instance_id = host.start_system_process(PROCESS, organisation_id, data=data, session=session)
    for chunk in _chunks(claimed):
        session.execute(
            update(Authorization)
            .where(Authorization.id.in_(chunk))
            .values(open_instance_id=instance_id)
            .execution_options(synchronize_session=False)
        )
    session.execute(
        insert(ReviewItem),
        [
            {"organisation_id": organisation_id, "instance_id": instance_id, "authorization_id": a, "lock_version": 1}
            for a in claimed
        ],
    )
    audit.record(
        session,
        organisation_id,
        "review.round_opened",
        instance_id=instance_id,
        details={"kind": kind, "reason": reason, "reviewers": reviewer_ids, "size": len(claimed)},
        at=now,
    )
    return instance_id


# --- deciding --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    item_id: int
    lock_version: int
    decision: str
    new_valid_until: date | None = None
    reason: str = ""


@dataclass
class DecideResult:
    decided: list[int] = field(default_factory=list)
    finished_rounds: list[int] = field(default_factory=list)


def _owned_instances(actor_id: int):
    """Instances whose open review task the person may complete."""
    return (
        select(HumanTask.instance_id)
        .join(HumanTaskOwner, HumanTaskOwner.task_id == HumanTask.id)
        .where(
            HumanTaskOwner.person_id == actor_id,
            HumanTask.status == TaskStatus.READY.value,
            HumanTask.bpmn_id == TASK,
        )
    )


def _visible_items(actor):
    """Pending lines the person may decide: in rounds they own, or anywhere in the organisation for a pääkäyttäjä;
    never their own authorizations."""
    query = (
        select(ReviewItem, Authorization)
        .join(Authorization, Authorization.id == ReviewItem.authorization_id)
        .where(
            ReviewItem.organisation_id == actor.organisation_id,
            ReviewItem.decision.is_(None),
            Authorization.holder_id != actor.id,
        )
    )
    if not actor.has("administrator"):
        query = query.where(ReviewItem.instance_id.in_(_owned_instances(actor.id)))
    else:  # rounds still waiting for a decision (not ones the default is being applied to)
        open_tasks = select(HumanTask.instance_id).where(
            HumanTask.organisation_id == actor.organisation_id,
            HumanTask.status == TaskStatus.READY.value,
            HumanTask.bpmn_id == TASK,
        )
        query = query.where(ReviewItem.instance_id.in_(open_tasks))
    return query


def validate(decision: Decision, authorization: Authorization, today: date) -> str | None:
    """Why a decision cannot be recorded (a problem code), or None."""
    if decision.decision not in DECISIONS:
        return "invalid_decision"
    if decision.decision == "change_end":
        end = decision.new_valid_until
        if end is None:
            return "end_date_required"
        if end <= today:
            return "end_date_not_after_today"
        start = authorization.valid_from or today
        if end > add_months(start, 12 * MAX_VALID_YEARS):
            return "end_date_too_late"
    if decision.decision == "revoke":
        if len((decision.reason or "").strip()) < 3:
            return "reason_required"
    if len(decision.reason or "") > MAX_REASON:
        return "reason_too_long"
    if contains_identity_code(decision.reason):  # never stored (engine/privacy.py)
        return "identity_code"
    return None


def decide(host, actor_id: int, decisions: list[Decision]) -> DecideResult:
    """Record decisions on review lines, all or nothing, then finish every round that has none pending.

    NotFoundError for lines the actor may not decide (another organisation, a round they do not own),
    ReviewConflictError when someone decided a line first (its ``lock_version`` moved on),
    ReviewInputError (per line) for a missing date or reason, a date out of range, or the actor's own line."""
    from . import queries

    if not decisions:
        raise ReviewInputError({0: "nothing_selected"})
    now = host.clock()
    today = local_date(now)
    result = DecideResult()
    to_complete: list[str] = []
    try:
        with host.db.unit_of_work() as session:
            actor = queries.user(session, actor_id)
            if actor is None:
                raise NotAllowedError("unknown or inactive user")
            ids = [d.item_id for d in decisions]
            found = {}
            for chunk in _chunks(ids):
                found.update(
                    {
                        item.id: (item, auth)
                        for item, auth in session.execute(
                            select(ReviewItem, Authorization)
                            .join(Authorization, Authorization.id == ReviewItem.authorization_id)
                            .where(ReviewItem.id.in_(chunk), ReviewItem.organisation_id == actor.organisation_id)
                            .execution_options(populate_existing=True)
                        ).all()
                    }
                )
            if set(ids) - set(found):
                raise NotFoundError("review item not found")
            instances = {item.instance_id for item, _a in found.values()}
            if not actor.has("administrator"):
                owned = set(session.scalars(_owned_instances(actor.id).where(HumanTask.instance_id.in_(instances))))
                if instances - owned:
                    if any(item.decision is not None for item, _a in found.values()):
                        raise ReviewConflictError("already decided")  # the round finished meanwhile
                    raise NotFoundError("review item not found")
            errors = {}
            for d in decisions:
                item, auth = found[d.item_id]
                if item.decision is not None or item.lock_version != d.lock_version:
                    raise ReviewConflictError("someone else decided this line first", item=item.id)
                problem = "own_authorization" if auth.holder_id == actor.id else validate(d, auth, today)
                if problem:
                    errors[item.id] = problem
            if errors:
                raise ReviewInputError(errors)
            events = []
            for d in decisions:
                item, auth = found[d.item_id]
                item.decision = d.decision
                item.new_valid_until = d.new_valid_until if d.decision == "change_end" else None
                item.reason = (d.reason or "").strip()
                item.decided_by_id = actor.id
                item.decided_at = now
                events.append(
                    {
                        "action": "review.decided",
                        "actor_id": actor.id,
                        "authorization_id": auth.id,
                        "instance_id": item.instance_id,
                        "details": {
                            "decision": d.decision,
                            "new_valid_until": item.new_valid_until.isoformat() if item.new_valid_until else None,
                            "reason": item.reason,
                        },
                    }
                )
                result.decided.append(item.id)
            session.flush()  # the optimistic lock: a line decided meanwhile raises StaleDataError
            audit.record_many(session, actor.organisation_id, events, at=now)
            to_complete = _finishable(session, actor, instances)
    except StaleDataError as err:
        raise ReviewConflictError("someone else decided this line first") from err
    except OperationalError as err:
        if "locked" in str(err).lower() or "could not serialize" in str(err).lower():
            raise ReviewConflictError("someone else decided at the same time") from err
        raise
    for instance_id, task_id in to_complete:
        try:
            host.complete_task(actor_id, task_id, {})
            result.finished_rounds.append(instance_id)
        except (TaskConflictError, ReviewPendingError):
            pass  # someone else finished it, or a line came back meanwhile: the round stays on the page
    return result


def _finishable(session: Session, actor, instances: set[int]) -> list[tuple[int, str]]:
    """Rounds among ``instances`` with nothing pending and an open task the actor may complete (a pääkäyttäjä
    deciding the last line of someone's round becomes an owner of its task)."""
    pending = set(
        session.scalars(
            select(ReviewItem.instance_id)
            .where(ReviewItem.instance_id.in_(instances), ReviewItem.decision.is_(None))
            .group_by(ReviewItem.instance_id)
        )
    )
    result = []
    for task in session.scalars(
        select(HumanTask).where(
            HumanTask.instance_id.in_(instances - pending),
            HumanTask.status == TaskStatus.READY.value,
            HumanTask.bpmn_id == TASK,
        )
    ):
        owners = set(session.scalars(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == task.id)))
        if actor.id not in owners:
            if not actor.has("administrator"):
                continue
            add_owners(session, [task.id], [actor.id])
        result.append((task.instance_id, task.id))
    return result


def finish_round(host, actor_id: int, instance_id: int) -> None:
    """Complete a round's task (its decisions are then applied). ReviewPendingError while lines are pending."""
    from . import queries

    with host.db.unit_of_work() as session:
        actor = queries.user(session, actor_id)
        if actor is None:
            raise NotAllowedError("unknown or inactive user")
        instance = session.get(ProcessInstance, instance_id)
        if instance is None or instance.organisation_id != actor.organisation_id or instance.process_id != PROCESS:
            raise NotFoundError("review round not found")
        pending = session.scalar(
            select(func.count(ReviewItem.id)).where(
                ReviewItem.instance_id == instance_id, ReviewItem.decision.is_(None)
            )
        )
        task = session.scalars(
            select(HumanTask).where(
                HumanTask.instance_id == instance_id,
                HumanTask.status == TaskStatus.READY.value,
                HumanTask.bpmn_id == TASK,
            )
        ).first()
        if task is None:
            raise TaskConflictError("the round has already finished")
        owners = set(session.scalars(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == task.id)))
        if actor.id not in owners and not actor.has("administrator"):
            raise NotFoundError("review round not found")
        if pending:
            raise ReviewPendingError("decide every authorization before finishing the round", pending=pending)
        if actor.id not in owners:
            add_owners(session, [task.id], [actor.id])
        task_id = task.id
    host.complete_task(actor_id, task_id, {})


# --- what the reviewer's page reads ----------------------------------------------------------------------------


@dataclass
class PendingLine:
    item: ReviewItem
    authorization: Authorization
    code: AuthorizationCode


@dataclass
class Round:
    instance_id: int
    opened_at: datetime
    task_id: str
    pending: int
    total: int
    owner: bool


def pending_lines(session: Session, actor, limit: int = 500) -> tuple[list[PendingLine], int]:
    """The person's pending lines across rounds (at most ``limit``, by holder and code) and how many there are."""
    query = _visible_items(actor)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.execute(
        query.add_columns(AuthorizationCode)
        .join(AuthorizationCode, AuthorizationCode.id == Authorization.code_id)
        .order_by(Authorization.holder_name, AuthorizationCode.key, ReviewItem.id)
        .limit(limit)
    ).all()
    return [PendingLine(item, auth, code) for item, auth, code in rows], total or 0


def rounds(session: Session, actor) -> list[Round]:
    """Open rounds the person may act on, with their pending and total line counts."""
    query = select(HumanTask.instance_id, HumanTask.id, HumanTask.created_at).where(
        HumanTask.organisation_id == actor.organisation_id,
        HumanTask.status == TaskStatus.READY.value,
        HumanTask.bpmn_id == TASK,
    )
    if not actor.has("administrator"):
        query = query.where(HumanTask.instance_id.in_(_owned_instances(actor.id)))
    tasks = session.execute(query.order_by(HumanTask.created_at)).all()
    if not tasks:
        return []
    ids = [t.instance_id for t in tasks]
    counts = {
        r.instance_id: (r.pending or 0, r.total)
        for r in session.execute(
            select(
                ReviewItem.instance_id,
                func.count(ReviewItem.id).label("total"),
                func.sum(case((ReviewItem.decision.is_(None), 1), else_=0)).label("pending"),
            )
            .where(ReviewItem.instance_id.in_(ids))
            .group_by(ReviewItem.instance_id)
        )
    }
    owned = set(session.scalars(_owned_instances(actor.id).where(HumanTask.instance_id.in_(ids))))
    return [
        Round(t.instance_id, t.created_at, t.id, *counts.get(t.instance_id, (0, 0)), owner=t.instance_id in owned)
        for t in tasks
    ]


def pending_count(session: Session, actor) -> int:
    """How many lines wait for the person (the navigation's badge): one query."""
    if actor.has("administrator"):
        query = select(func.count(ReviewItem.id)).where(
            ReviewItem.organisation_id == actor.organisation_id, ReviewItem.decision.is_(None)
        )
    else:
        query = (
            select(func.count(ReviewItem.id))
            .join(
                HumanTask,
                and_(
                    HumanTask.instance_id == ReviewItem.instance_id,
                    HumanTask.status == TaskStatus.READY.value,
                    HumanTask.bpmn_id == TASK,
                ),
            )
            .join(
                HumanTaskOwner,
                and_(HumanTaskOwner.task_id == HumanTask.id, HumanTaskOwner.person_id == actor.id),
            )
            .where(ReviewItem.decision.is_(None), ReviewItem.organisation_id == actor.organisation_id)
        )
    return session.scalar(query) or 0
