"""Moving running instances of a process to a newer version of its diagram, after a dry run.

Running instances stay on the version they started with unless a pääkäyttäjä migrates them. SpiffWorkflow's own
diff (``SpiffWorkflow.bpmn.util.diff``) aligns the old version's steps with the new one's; an instance may move only
when every step it has reached (done or current) still exists in the new version and its current steps are
unchanged (links to other steps aside) – then only the road ahead differs, which ``migrate_workflow`` predicts anew.

The dry run (:func:`plan`) says per instance what would change or why it cannot move, with a ``token`` of the state
it looked at. :func:`migrate` moves each instance in its own transaction, locked like any command, plans it again
under the lock and refuses it when its token differs: it changed after the dry run the pääkäyttäjä confirmed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, DurationTimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, queries, tasks
from .errors import ConflictError, NotAllowedError, NotFoundError, WorkflowError
from .models import InstanceStatus, Person, ProcessInstance, ProcessSpecVersion

REACHED = TaskState.FINISHED_MASK | TaskState.READY | TaskState.WAITING | TaskState.STARTED
CURRENT = TaskState.READY | TaskState.WAITING | TaskState.STARTED
LINKS = {"inputs", "outputs"}  # links to neighbouring steps: the road ahead is predicted again anyway
MOVABLE = (InstanceStatus.RUNNING.value, InstanceStatus.WAITING.value)
PLANNED = (*MOVABLE, InstanceStatus.ERROR.value)


@dataclass(frozen=True)
class InstancePlan:
    instance_id: int
    subject: str  # whom the instance is about ("" when about nobody)
    current: list[str]  # the names of the steps it waits at
    token: str  # the state the plan looked at; :func:`migrate` refuses the instance when it differs
    changes: list[tuple] = field(default_factory=list)  # (kind, name): added|removed|changed|timer; renamed: +new
    reasons: list[tuple] = field(default_factory=list)  # why not: ("removed"|"changed", name), ("error",), …

    @property
    def migratable(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class Outcome:
    instance_id: int
    migrated: bool
    reason: str = ""  # why not, in English (the CLI prints it; the web page names the instance)


def plan(
    session: Session, host, process_id: str, from_version: int, to_version: int, organisation_id: int
) -> list[InstancePlan]:
    """The dry run: every unfinished instance of ``organisation_id`` on ``from_version``, each with what would change
    or why it cannot move. Changes nothing."""
    old, new = _versions(session, process_id, from_version, to_version)
    query = (
        select(ProcessInstance)
        .where(
            ProcessInstance.spec_version_id == old.id,
            ProcessInstance.organisation_id == organisation_id,
            ProcessInstance.status.in_(PLANNED),
        )
        .order_by(ProcessInstance.id)
    )
    return [_plan_one(session, host, instance, new)[0] for instance in session.scalars(query)]


def migrate(
    host, actor_id: int, process_id: str, from_version: int, to_version: int, instance_ids: dict[int, str]
) -> list[Outcome]:
    """Move the instances given as ``{instance id: token from the dry run}``, each in its own transaction, audited
    as ``process.migrated``. One that cannot move, or changed since the dry run, is left untouched."""
    outcomes = []
    for instance_id, token in instance_ids.items():
        try:
            with host._command() as session:
                _migrate_one(session, host, actor_id, process_id, from_version, to_version, instance_id, token)
            outcomes.append(Outcome(instance_id, True))
        except (ConflictError, NotFoundError, WorkflowError) as err:  # rolled back: the instance stays as it was
            outcomes.append(Outcome(instance_id, False, str(err)))
    return outcomes


def _migrate_one(session, host, actor_id, process_id, from_version, to_version, instance_id, token) -> None:
    actor = host._person(session, actor_id)
    if not queries.user(session, actor.id).has("administrator"):
        raise NotAllowedError("only a pääkäyttäjä may migrate running processes")
    old, new = _versions(session, process_id, from_version, to_version)
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or instance.organisation_id != actor.organisation_id:
        raise NotFoundError("process not found")
    instance = host._lock_instance(session, instance_id)
    if instance.spec_version_id != old.id or instance.status not in MOVABLE:
        raise ConflictError("the process is no longer running on this version")
    now = host.clock()
    planned, wf = _plan_one(session, host, instance, new)
    if planned.token != token:
        raise ConflictError("the process has changed since the dry run; run it again")
    if not planned.migratable:
        raise ConflictError("the process cannot be migrated: " + "; ".join(" ".join(r) for r in planned.reasons))
    loaded = host.specs.get(session, new.id)
    instance.spec_version_id = new.id
    host._run(session, instance, wf, actor.id, now, lambda w: None)
    tasks.sync(session, instance, wf, loaded, now)
    host._save(instance, wf)
    audit.record(
        session,
        instance.organisation_id,
        "process.migrated",
        actor_id=actor.id,
        instance_id=instance.id,
        details={"process": process_id, "from": from_version, "to": to_version, "changes": planned.changes},
        at=now,
    )


def _versions(session, process_id: str, from_version: int, to_version: int):
    rows = {
        row.version: row
        for row in session.scalars(
            select(ProcessSpecVersion).where(
                ProcessSpecVersion.process_id == process_id,
                ProcessSpecVersion.version.in_([from_version, to_version]),
            )
        )
    }
    if from_version not in rows or to_version not in rows:
        raise NotFoundError(f"process {process_id!r} has no version {from_version} or {to_version}")
    if to_version <= from_version:
        raise ConflictError("instances move to a newer version only")
    return rows[from_version], rows[to_version]


def _plan_one(session, host, instance: ProcessInstance, new: ProcessSpecVersion):
    """The instance's plan and, when it can move, its workflow already migrated in memory (nothing saved)."""
    old_loaded = host.specs.get(session, instance.spec_version_id)
    new_loaded = host.specs.get(session, new.id)
    wf = host._load(instance, old_loaded)
    subject = session.get(Person, instance.subject_person_id) if instance.subject_person_id else None
    current = [_name(t.task_spec) for t in wf.get_tasks(state=CURRENT) if t.task_spec.manual]
    token = hashlib.sha256(instance.state + str(instance.spec_version_id).encode()).hexdigest()[:32]
    registry = host.serializer.registry
    spec_diff = SpecDiff(registry, wf.spec, new_loaded.spec)
    top = WorkflowDiff(wf, spec_diff)
    reasons = _reasons(wf, spec_diff, top, instance)
    sub_diffs = {}
    for sub_id, sub in wf.subprocesses.items():  # none in the shipped diagrams; handled as SpiffWorkflow does
        new_sub = new_loaded.subprocess_specs.get(sub.spec.name)
        if new_sub is None:
            reasons.append(("subprocess", sub.spec.name))
        else:
            sub_diffs[sub_id] = (WorkflowDiff(sub, SpecDiff(registry, sub.spec, new_sub)), new_sub)
    changes = _changes(wf, spec_diff)  # before migrating: the steps reached are the old version's
    if not reasons:
        migrate_workflow(top, wf, new_loaded.spec)
        for sub_id, (sub_diff, new_sub) in sub_diffs.items():
            migrate_workflow(sub_diff, wf.subprocesses[sub_id], new_sub)
    result = InstancePlan(instance.id, subject.name if subject else "", current, token, changes, sorted(set(reasons)))
    return result, wf


def _reasons(wf, spec_diff: SpecDiff, top: WorkflowDiff, instance: ProcessInstance) -> list[tuple]:
    """Why the instance cannot move: a step it reached is gone, or a step it waits at works differently."""
    reasons: list[tuple] = []
    if instance.status == InstanceStatus.ERROR.value:
        reasons.append(("error",))
    for task in top.removed:
        if task.has_state(REACHED) and _shown(task.task_spec):
            reasons.append(("removed", _name(task.task_spec)))
    changed = spec_diff.changed
    for task in wf.get_tasks(state=CURRENT, skip_subprocesses=True):
        if set(changed.get(task.task_spec, [])) - LINKS and _shown(task.task_spec):
            reasons.append(("changed", _name(task.task_spec)))
    return reasons


def _changes(wf, spec_diff: SpecDiff) -> list[tuple]:
    """The user tasks not yet reached that the new version adds, removes, renames or otherwise changes."""
    reached = {t.task_spec for t in wf.get_tasks(state=REACHED, skip_subprocesses=True)}
    changes: list[tuple] = []
    for old_spec, new_spec in spec_diff.alignment.items():
        if not getattr(old_spec, "manual", False) or old_spec in reached:
            continue
        if new_spec is None:
            changes.append(("removed", _name(old_spec)))
        elif _name(new_spec) != _name(old_spec):
            changes.append(("renamed", _name(old_spec), _name(new_spec)))
        elif set(spec_diff.changed.get(old_spec, [])) - LINKS:
            changes.append(("changed", _name(old_spec)))
    changes += [("added", _name(s)) for s in spec_diff.added if getattr(s, "manual", False)]
    # migrate_workflow predicts waiting tasks anew: a duration or cycle timer starts counting again
    waiting = wf.get_tasks(state=TaskState.WAITING, skip_subprocesses=True)
    changes += [("timer", _name(t.task_spec)) for t in waiting if _restarts(t.task_spec)]
    return changes


def _restarts(task_spec) -> bool:
    definition = getattr(task_spec, "event_definition", None)
    return isinstance(definition, (DurationTimerEventDefinition, CycleTimerEventDefinition))


def _name(task_spec) -> str:
    return getattr(task_spec, "bpmn_name", None) or getattr(task_spec, "bpmn_id", None) or task_spec.name


def _shown(task_spec) -> bool:
    """A step of the diagram (not one of SpiffWorkflow's own bookkeeping specs such as Root or EndJoin)."""
    return getattr(task_spec, "bpmn_id", None) is not None


def describe(planned: InstancePlan) -> list[str]:
    """The plan of one instance in plain English words (the CLI prints them; the web page has its own)."""
    why = {
        "removed": "the step {0!r} it has reached no longer exists in the new version",
        "changed": "the step {0!r} it waits at works differently in the new version",
        "error": "it is in error: retry or resolve it first",
        "subprocess": "its subprocess {0!r} is not in the new version",
    }
    what = {
        "added": "step {0!r} is added",
        "removed": "step {0!r} is removed",
        "renamed": "step {0!r} is renamed {1!r}",
        "changed": "step {0!r} changes",
        "timer": "the timer {0!r} it waits for starts counting again",
    }
    if planned.reasons:
        return ["cannot migrate: " + why[kind].format(*rest) for kind, *rest in planned.reasons]
    return [what[kind].format(*rest) for kind, *rest in planned.changes] or ["nothing ahead of it changes"]
