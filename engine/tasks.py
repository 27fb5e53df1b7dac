"""The human-task projection: kept in step with the workflow inside every command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import directory, forms, notifications
from .clock import local_date
from .models import HumanTask, HumanTaskOwner, InstanceStatus, ProcessInstance, TaskStatus
from .specs import LoadedSpec


def sync(
    session: Session, instance: ProcessInstance, wf: BpmnWorkflow, loaded: LoadedSpec, now: datetime, new: bool = False
) -> list[tuple[HumanTask, list[int]]]:
    """Project the workflow's ready user tasks and status onto the instance's rows.
    Returns the tasks that became ready in this step, each with its potential owners."""
    ready = {str(t.id): t for t in wf.get_tasks(state=TaskState.READY, manual=True)}
    query = select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY.value)
    rows = {} if new else {row.id: row for row in session.scalars(query)}
    for task_id, row in rows.items():
        if task_id not in ready and row.status == TaskStatus.READY.value:  # (completed in memory: keep)
            row.status = TaskStatus.CANCELLED.value
            row.completed_at = now
    created = []
    for task_id, task in ready.items():
        if task_id in rows:
            continue
        info = loaded.tasks.get(task.task_spec.bpmn_id)
        row = HumanTask(
            id=task_id,
            organisation_id=instance.organisation_id,
            instance_id=instance.id,
            bpmn_id=task.task_spec.bpmn_id,
            name=(info.name if info else task.task_spec.bpmn_name) or "",
            names=info.names if info else {},
            lane=task.task_spec.lane or "",
            role=info.role if info else "",
            form=info.form if info else "",
            ui_form=info.ui_form if info else "",
            status=TaskStatus.READY.value,
            created_at=now,
            due_at=now + timedelta(days=info.due_days) if info and info.due_days else None,
            prefill=forms.prefill(loaded.forms.get(info.form, {}), task.data, local_date(now)) if info else {},
        )
        session.add(row)
        owners = (
            list(dict.fromkeys(directory.potential_owners(session, row.role, instance, task.data))) if row.role else []
        )
        session.add_all(HumanTaskOwner(task_id=task_id, person_id=pid) for pid in owners)
        created.append((row, owners))
        notifications.task_ready(session, row, owners, now, new=new)  # "a task is waiting for you"
    _project_instance(instance, wf, ready, now)
    return created


def _project_instance(instance: ProcessInstance, wf: BpmnWorkflow, ready: dict, now: datetime) -> None:
    instance.current_step = ",".join(sorted({t.task_spec.bpmn_id for t in ready.values()}))[:200]
    instance.completed_steps = sorted(
        {t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id}
    )
    instance.updated_at = now
    if wf.is_completed():
        instance.status = InstanceStatus.COMPLETE.value
        instance.completed_at = now
        instance.next_timer_due = None
        ends = [t for t in wf.get_tasks(state=TaskState.COMPLETED) if isinstance(t.task_spec, EndEvent)]
        ends.sort(key=lambda t: t.last_state_change)  # the end reached last (not a boundary timer's side branch)
        instance.outcome = ends[-1].task_spec.bpmn_id if ends else ""
        return
    instance.status = (InstanceStatus.RUNNING if ready else InstanceStatus.WAITING).value
    instance.next_timer_due = next_timer_due(wf)


def next_timer_due(wf: BpmnWorkflow) -> datetime | None:
    due = []
    for event in wf.waiting_events():
        # TimeDateEventDefinition (timeDate) does not end in "TimerEventDefinition" like the duration and cycle ones
        timer = event.event_type.endswith(("TimerEventDefinition", "TimeDateEventDefinition"))
        if timer and isinstance(event.value, str):
            try:
                value = datetime.fromisoformat(event.value)
            except ValueError:
                continue
            due.append(value if value.tzinfo else value.replace(tzinfo=UTC))
    return min(due) if due else None
