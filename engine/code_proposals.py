"""The read side of code introductions: proposals with their current step and dates, for process owners and
pääkäyttäjät. Reads the instance rows, the task projection and the audit events – never the workflows."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from .clock import local_date
from .code_introduction import PROCESS, may_start
from .errors import NotFoundError
from .models import (
    AuditEvent,
    AuthorizationCategory,
    AuthorizationCode,
    HumanTask,
    InstanceStatus,
    ProcessInstance,
    TaskStatus,
)
from .queries import User

UNDER_WAY = (InstanceStatus.RUNNING.value, InstanceStatus.WAITING.value, InstanceStatus.ERROR.value)


@dataclass
class Proposal:
    instance: ProcessInstance
    code: AuthorizationCode | None = None
    category: AuthorizationCategory | None = None
    open_tasks: list[HumanTask] = field(default_factory=list)
    dates: dict[str, str] = field(default_factory=dict)  # proposed_on, sent_to_dvv_on (latest), customer_test_on …
    rounds: list[dict] = field(default_factory=list)  # DVV's validation rounds, oldest first
    postponed: list[dict] = field(default_factory=list)
    details: dict = field(default_factory=dict)  # the proposal as last drafted: e_service, rationale

    @property
    def waiting_for_production(self) -> bool:
        return self.instance.status == InstanceStatus.WAITING.value


def may_see(actor: User) -> bool:
    """The page is for those who may propose codes: process owners and pääkäyttäjät."""
    return may_start(actor)


def proposals(session: Session, actor: User, *, under_way: bool = True, limit: int = 100) -> list[Proposal]:
    """The organisation's proposals under way (or finished), newest first."""
    statuses = UNDER_WAY if under_way else (InstanceStatus.COMPLETE.value,)
    instances = list(
        session.scalars(
            select(ProcessInstance)
            .where(
                ProcessInstance.organisation_id == actor.organisation_id,
                ProcessInstance.process_id == PROCESS,
                ProcessInstance.status.in_(statuses),
            )
            .order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
            .limit(limit)
        )
    )
    return _fill(session, instances)


def proposal(session: Session, actor: User, instance_id: int) -> Proposal:
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or instance.process_id != PROCESS or instance.organisation_id != actor.organisation_id:
        raise NotFoundError("proposal not found")
    return _fill(session, [instance])[0]


def _fill(session: Session, instances: list[ProcessInstance]) -> list[Proposal]:
    if not instances:
        return []
    rows = {i.id: Proposal(i) for i in instances}
    ids = list(rows)
    for task in session.scalars(
        select(HumanTask)
        .where(HumanTask.instance_id.in_(ids), HumanTask.status == TaskStatus.READY.value)
        .order_by(HumanTask.created_at)
    ):
        rows[task.instance_id].open_tasks.append(task)
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.instance_id.in_(ids), AuditEvent.action.startswith(f"{PROCESS}.", autoescape=True))
        .order_by(AuditEvent.id)
    )
    code_ids = {}
    for event in events:
        row = rows[event.instance_id]
        _apply(row, event.action.split(".", 1)[1], event)
        code_ids[event.instance_id] = event.details.get("code_id")
    codes = {
        c.id: c
        for c in session.scalars(
            select(AuthorizationCode).where(AuthorizationCode.id.in_([c for c in code_ids.values() if c]))
        )
    }
    for instance_id, code_id in code_ids.items():
        row = rows[instance_id]
        row.code = codes.get(code_id)
        if row.code is not None and row.code.category_id:
            row.category = session.get(AuthorizationCategory, row.code.category_id)
    return [rows[i.id] for i in instances]


def _apply(row: Proposal, step: str, event: AuditEvent) -> None:
    """One recorded step into the proposal's dates (the latest of a repeated step wins)."""
    details = event.details or {}
    if step in ("proposed", "corrected"):
        row.dates.setdefault("proposed_on", local_date(event.at).isoformat())
        if step == "corrected":
            row.dates["corrected_on"] = local_date(event.at).isoformat()
        row.details.update({k: details[k] for k in ("e_service", "rationale") if k in details})
    elif step == "validated":
        row.rounds.append(details)
        if details.get("result") == "accepted":
            row.dates["validated_on"] = details.get("received_on")
    elif step == "production_postponed":
        row.postponed.append(details)
    elif step in ("sent_to_dvv", "customer_test", "production_agreed", "in_production"):
        key = {"production_agreed": "production_on"}.get(step, f"{step}_on")
        row.dates[key] = details.get("on")
