"""The workflow host: start instances, complete tasks, fire timers – each in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import TaskState
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import audit, forms, operations, queries, specs, tasks
from .clock import frozen_at, local_date, system_now
from .clock import install as install_clock
from .config import Settings
from .db import Database
from .errors import (
    NotAllowedError,
    NotFoundError,
    TaskConflictError,
    TaskNotFoundError,
    WorkflowError,
)
from .models import (
    HumanTask,
    HumanTaskOwner,
    InstanceStatus,
    Organisation,
    Person,
    ProcessInstance,
    TaskStatus,
)
from .options import invalid_values, option_sources
from .policy import policy_for
from .script_engine import SafeScriptEngine
from .serializer import StateSerializer

REQUEST_PROCESS = "authorization_request"
FormData = dict | Callable[[dict], dict]


@dataclass(frozen=True)
class StepResult:
    instance_id: int
    status: str
    ready_task_ids: list[str]  # tasks that became ready in this step
    next_task_for_actor: str | None  # a ready task the actor may do next, if any


class Host:
    def __init__(self, settings: Settings, db: Database | None = None, clock: Callable[[], datetime] | None = None):
        self.settings = settings
        self.db = db or Database(settings.database_url)
        self.specs = specs.SpecCache()
        self.serializer = StateSerializer()
        self.clock = clock or system_now
        operations.load_all()
        install_clock()

    # -- processes -------------------------------------------------------------------------
    def load_processes(self) -> list:
        """Check every diagram in processes/ and store new versions (raises DiagramError)."""
        with self.db.unit_of_work() as session:
            rows = specs.sync(session, self.settings.processes_dir, self.settings.forms_dir)
            return [(r.process_id, r.version, r.content_hash) for r in rows]

    # -- commands --------------------------------------------------------------------------
    def start_request(self, actor_id: int, holder_id: int, data: FormData) -> StepResult:
        """Start an authorization request for ``holder_id`` and submit its first form, atomically."""
        return self.start_process(REQUEST_PROCESS, actor_id, holder_id, data)

    def start_request_for(self, organisation_id: int, holder_id: int, data: FormData, *, via: dict) -> StepResult:
        """Start a request on the holder's behalf for an integration (no person signed in): the instance is
        started by the system (``started_by`` empty), the holder's first form is submitted with their data,
        and ``via`` (e.g. ``{"api_token": 3}``) is recorded in the audit. Same form validation as in the UI."""
        return self.start_process(REQUEST_PROCESS, None, holder_id, data, organisation_id=organisation_id, via=via)

    def start_process(
        self,
        process_id: str,
        actor_id: int | None,
        subject_id: int,
        data: FormData,
        *,
        organisation_id: int | None = None,
        via: dict | None = None,
    ) -> StepResult:
        now = self.clock()
        with self._command() as session:
            if actor_id is None:  # the system on the subject's behalf (integration API)
                if organisation_id is None:
                    raise NotAllowedError("a start without a person needs the organisation")
                subject = session.get(Person, subject_id)
                if subject is None or subject.organisation_id != organisation_id or not subject.active:
                    raise NotFoundError("person not found")
                actor = subject
            else:
                actor = self._person(session, actor_id)
                subject = session.get(Person, subject_id)
                if subject is None or subject.organisation_id != actor.organisation_id or not subject.active:
                    raise NotFoundError("person not found")
                if actor.id != subject.id and subject.supervisor_id != actor.id:
                    raise NotAllowedError("only the person or their supervisor may start a request for them")
            loaded = self.specs.latest(session, process_id)
            org = session.get(Organisation, actor.organisation_id)
            instance, wf = self._new_instance(session, org.id, loaded, subject.id, actor_id, now)
            wf.data.update(self._initial_data(org, subject, actor))
            wf.task_tree.data.update(wf.data)
            self._run(session, instance, wf, actor.id, now, lambda w: None)
            details = {"process": process_id, "version": loaded.version, "subject": subject.id}
            if via:
                details["via"] = via
            audit.record(
                session,
                org.id,
                "process.started",
                actor_id=actor_id,
                instance_id=instance.id,
                details=details,
                at=now,
            )
            ready = tasks.sync(session, instance, wf, loaded, now, new=True)
            if len(ready) != 1:
                raise WorkflowError(f"{process_id} must begin with exactly one user task")
            row, owners = ready[0]
            return self._complete(session, instance, wf, loaded, row, set(owners), actor, data, now)

    def complete_task(self, actor_id: int, task_id: str, data: FormData) -> StepResult:
        """Complete a ready task with submitted form data. Exactly one of concurrent completions wins.
        ``data`` is a dict, or a function that reads it given the task's form schema (HTML forms)."""
        now = self.clock()
        with self._command() as session:
            actor = self._person(session, actor_id)
            row = session.get(HumanTask, task_id)
            if row is None or row.organisation_id != actor.organisation_id:
                raise TaskNotFoundError("task not found")
            instance = self._lock_instance(session, row.instance_id)
            if not self.db.is_sqlite:  # read again under the lock (SQLite held the lock from BEGIN)
                session.refresh(row)
            if row.status != TaskStatus.READY.value:
                raise TaskConflictError("the task has already been completed", status=row.status)
            owners = set(session.scalars(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == row.id)))
            if actor.id not in owners:
                if not queries.can_see_instance(session, queries.user(session, actor.id), instance):
                    raise TaskNotFoundError("task not found")  # do not reveal that it exists
                raise NotAllowedError("you are not among the people who may complete this task")
            loaded = self.specs.get(session, instance.spec_version_id)
            wf = self._load(instance, loaded)
            return self._complete(session, instance, wf, loaded, row, owners, actor, data, now)

    def start_system_process(
        self,
        process_id: str,
        organisation_id: int,
        *,
        subject_id: int | None = None,
        data: dict | None = None,
        started_by: int | None = None,
        session: Session | None = None,
    ) -> int:
        """Start a process the system opens (a review round, a revocation): no first form, the diagram runs
        until it waits for people or a timer. Runs in ``session`` when given (the caller's transaction)."""
        if session is None:
            with self._command() as own:
                return self.start_system_process(
                    process_id, organisation_id, subject_id=subject_id, data=data, started_by=started_by, session=own
                )
        now = self.clock()
        org = session.get(Organisation, organisation_id)
        subject = session.get(Person, subject_id) if subject_id is not None else None
        if org is None or (subject is not None and subject.organisation_id != organisation_id):
            raise NotFoundError("organisation or person not found")
        loaded = self.specs.latest(session, process_id)
        instance, wf = self._new_instance(session, org.id, loaded, subject.id if subject else None, started_by, now)
        wf.data.update({"policy": policy_for(org.settings), **(data or {})})
        if subject is not None:
            wf.data.setdefault("holder", {"id": subject.id, "name": subject.name, "unit_id": subject.unit_id})
        wf.task_tree.data.update(wf.data)
        audit.record(
            session,
            org.id,
            "process.started",
            actor_id=started_by,
            instance_id=instance.id,
            details={"process": process_id, "version": loaded.version, "subject": subject.id if subject else None},
            at=now,
        )
        self._run(session, instance, wf, started_by, now, lambda w: None)
        tasks.sync(session, instance, wf, loaded, now, new=True)
        self._save(instance, wf)
        return instance.id

    def fire_due_timers(self, now: datetime | None = None, limit: int = 200) -> int:
        """Advance every instance whose next timer is due. Costs O(due), not O(waiting).

        Each instance advances in its own transaction, claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL
        (several workers never advance the same instance twice; on SQLite writers queue). An instance whose
        step fails is marked in error with the reason and left for the pääkäyttäjä; the sweep goes on.
        """
        now = now or self.clock()
        with self.db.reader() as session:
            due = list(
                session.scalars(
                    select(ProcessInstance.id)
                    .where(ProcessInstance.next_timer_due <= now)
                    .order_by(ProcessInstance.next_timer_due)
                    .limit(limit)
                )
            )
        fired = 0
        for instance_id in due:
            try:
                fired += self._fire(instance_id, now)
            except TaskConflictError:
                continue  # another worker or a person advanced it meanwhile
            except Exception as err:  # noqa: BLE001 – one broken instance must not stop the sweep
                self._mark_error(instance_id, err, now)
        return fired

    def _fire(self, instance_id: int, now: datetime) -> int:
        with self._command() as session:
            query = select(ProcessInstance).where(
                ProcessInstance.id == instance_id, ProcessInstance.next_timer_due <= now
            )
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            instance = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
            if instance is None:
                return 0  # claimed by another worker, or fired already
            loaded = self.specs.get(session, instance.spec_version_id)
            wf = self._load(instance, loaded)
            had_tasks = instance.status != InstanceStatus.WAITING.value  # waiting: no ready task rows to look up
            self._run(session, instance, wf, None, now, lambda w: w.refresh_timers())
            tasks.sync(session, instance, wf, loaded, now, new=not had_tasks)
            self._save(instance, wf)
            audit.record(session, instance.organisation_id, "timer.fired", instance_id=instance.id, at=now)
            return 1

    def _mark_error(self, instance_id: int, err: Exception, now: datetime) -> None:
        logging.getLogger("valtuus.timers").warning("instance %s failed: %s", instance_id, err)
        with self._command() as session:
            instance = session.get(ProcessInstance, instance_id)
            if instance is None:
                return
            instance.status = InstanceStatus.ERROR.value
            instance.error = f"{type(err).__name__}: {err}"[:2000]
            instance.error_count = (instance.error_count or 0) + 1
            instance.next_timer_due = None  # not retried by every sweep: the pääkäyttäjä retries or resolves it
            instance.updated_at = now
            audit.record(
                session,
                instance.organisation_id,
                "process.error",
                instance_id=instance.id,
                details={"error": instance.error},
                at=now,
            )

    def retry_instance(self, actor_id: int, instance_id: int) -> None:
        """The pääkäyttäjä retries an instance in error: its timers are looked at again now."""
        now = self.clock()
        with self._command() as session:
            actor, instance = self.lock_errored_instance(session, actor_id, instance_id)
            loaded = self.specs.get(session, instance.spec_version_id)
            wf = self._load(instance, loaded)
            self._run(session, instance, wf, actor.id, now, lambda w: w.refresh_timers())
            tasks.sync(session, instance, wf, loaded, now)
            self._save(instance, wf)
            instance.error = ""
            audit.record(session, instance.organisation_id, "process.retried", actor_id=actor.id,
                         instance_id=instance.id, at=now)

    def lock_errored_instance(self, session, actor_id: int, instance_id: int) -> tuple[Person, ProcessInstance]:
        """An instance in error, locked, for a pääkäyttäjä of its organisation to retry or resolve."""
        actor = self._person(session, actor_id)
        instance = self._lock_instance(session, instance_id)
        if instance.organisation_id != actor.organisation_id:
            raise NotFoundError("process not found")
        if not queries.user(session, actor.id).has("administrator"):
            raise NotAllowedError("only a pääkäyttäjä may retry or resolve a process")
        if instance.status != InstanceStatus.ERROR.value:
            raise TaskConflictError("the process is not in error")
        return actor, instance

    # -- internals -------------------------------------------------------------------------
    def _complete(self, session, instance, wf, loaded, row, owners, actor, data, now) -> StepResult:
        if actor.id not in owners:
            raise NotAllowedError("you are not among the people who may complete this task")
        task = wf.get_task_from_id(UUID(row.id))
        if task is None or task.state != TaskState.READY:
            raise TaskConflictError("the task is no longer waiting for input")
        schema = loaded.form(row.form)
        submitted = data(schema) if callable(data) else data
        clean = {k: v for k, v in submitted.items() if v not in (None, "", [])}
        forms.validate(
            schema,
            clean,
            local_date(now),
            check_options=invalid_values(session, instance.organisation_id),
            validator=loaded.validator(row.form),
        )
        for key in schema.get("properties", {}):
            task.data.pop(key, None)  # a field left empty now must not keep an earlier answer
        task.data.update(clean)
        row.status, row.completed_at, row.completed_by_id = TaskStatus.COMPLETED.value, now, actor.id
        audit.record(
            session,
            instance.organisation_id,
            "task.completed",
            actor_id=actor.id,
            instance_id=instance.id,
            task_id=row.id,
            details={"task": row.bpmn_id, "name": row.name, "names": row.names or {}, "data": clean},
            at=now,
        )
        self._run(session, instance, wf, actor.id, now, lambda w: task.run())
        ready = tasks.sync(session, instance, wf, loaded, now)
        self._save(instance, wf)
        if instance.status == InstanceStatus.COMPLETE.value:
            audit.record(
                session,
                instance.organisation_id,
                "process.completed",
                instance_id=instance.id,
                details={"outcome": instance.outcome},
                at=now,
            )
        mine = [r.id for r, people in ready if actor.id in people]
        return StepResult(instance.id, instance.status, [r.id for r, _people in ready], mine[0] if mine else None)

    def _run(self, session, instance, wf, actor_id, now, step) -> None:
        def services(task, name, params):
            ctx = operations.OperationContext(
                session, instance.organisation_id, instance.id, instance.subject_person_id, actor_id, task.data, now
            )
            return operations.call(ctx, name, params)

        wf.script_engine = SafeScriptEngine(services)
        try:
            with frozen_at(now):
                step(wf)
                wf.do_engine_steps()
        except SpiffWorkflowException as err:
            raise WorkflowError(f"{instance.process_id}: {err}") from err

    def form_schema(self, session: Session, loaded, form_file: str, organisation_id: int) -> dict:
        schema = loaded.forms.get(form_file) or {"type": "object", "properties": {}}
        return forms.with_options(schema, option_sources(session, organisation_id))

    def task_form(self, session: Session, task: HumanTask) -> tuple[dict, dict]:
        """The task's JSON Schema (options filled) and UI schema, from its version's stored forms."""
        instance = session.get(ProcessInstance, task.instance_id)
        loaded = self.specs.get(session, instance.spec_version_id)
        return self.form_schema(session, loaded, task.form, task.organisation_id), loaded.form(task.ui_form)

    def start_form(self, session: Session, organisation_id: int, process_id: str = REQUEST_PROCESS):
        """The form of the process's first user task, for the "new request" page."""
        loaded = self.specs.latest(session, process_id)
        info = loaded.tasks[loaded.start_task]
        return self.form_schema(session, loaded, info.form, organisation_id), loaded.form(info.ui_form), info

    def _initial_data(self, org: Organisation, subject: Person, actor: Person) -> dict:
        return {
            "policy": policy_for(org.settings),
            "requester": {
                "id": subject.id,
                "name": subject.name,
                "unit_id": subject.unit_id,
                "has_supervisor": subject.supervisor_id is not None,
            },
            "started_by_supervisor": actor.id != subject.id and subject.supervisor_id == actor.id,
        }

    def _new_instance(self, session, organisation_id, loaded, subject_id, started_by, now):
        """A new instance row (flushed, so it has its id) and its workflow, not yet run."""
        instance = ProcessInstance(
            organisation_id=organisation_id,
            spec_version_id=loaded.version_id,
            process_id=loaded.process_id,
            status=InstanceStatus.RUNNING.value,
            subject_person_id=subject_id,
            started_by_id=started_by,
            state=b"",
            serializer_version=self.serializer.version,
            created_at=now,
            updated_at=now,
        )
        session.add(instance)
        session.flush()
        return instance, BpmnWorkflow(loaded.spec, loaded.subprocess_specs)

    def _load(self, instance: ProcessInstance, loaded) -> BpmnWorkflow:
        return self.serializer.loads(instance.state, loaded.spec, loaded.subprocess_specs, instance.serializer_version)

    def _save(self, instance: ProcessInstance, wf: BpmnWorkflow) -> None:
        instance.state = self.serializer.dumps(wf)
        instance.serializer_version = self.serializer.version

    def _person(self, session: Session, person_id: int) -> Person:
        person = session.get(Person, person_id)
        if person is None or not person.active:
            raise NotAllowedError("unknown or inactive user")
        return person

    def _lock_instance(self, session: Session, instance_id: int) -> ProcessInstance:
        query = select(ProcessInstance).where(ProcessInstance.id == instance_id)
        if not self.db.is_sqlite:  # SQLite already holds the write lock (BEGIN IMMEDIATE)
            query = query.with_for_update()
        instance = session.scalars(query.execution_options(populate_existing=True)).one()
        return instance

    def _command(self):
        return _Command(self.db)


class _Command:
    """A unit of work that turns lost races into :class:`TaskConflictError`."""

    def __init__(self, db: Database):
        self._cm = db.unit_of_work()

    def __enter__(self) -> Session:
        return self._cm.__enter__()

    def __exit__(self, exc_type, exc, tb):
        try:
            return self._cm.__exit__(exc_type, exc, tb)
        except StaleDataError as err:
            raise TaskConflictError("someone else changed this process at the same time") from err
        except OperationalError as err:
            if "locked" in str(err).lower() or "could not serialize" in str(err).lower():
                raise TaskConflictError("someone else changed this process at the same time") from err
            raise
