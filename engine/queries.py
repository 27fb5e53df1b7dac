"""The read side: what pages and the API show. Reads projection tables, never workflows."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased, joinedload

from . import directory
from .errors import NotFoundError, TaskNotFoundError
from .models import (
    AuditEvent,
    Authorization,
    AuthorizationCode,
    HumanTask,
    HumanTaskOwner,
    Organisation,
    Person,
    PersonRole,
    ProcessInstance,
    TaskStatus,
    Unit,
)


@dataclass(frozen=True)
class User:
    id: int
    organisation_id: int
    name: str
    email: str
    language: str
    roles: frozenset[str]
    unit_id: int | None

    def has(self, role: str) -> bool:
        return role in self.roles


def user(session: Session, person_id: int) -> User | None:
    """The signed-in person with assigned and derived roles, in one query (runs on every request)."""
    supervises = select(Person.id).where(Person.supervisor_id == person_id).exists()
    directs = select(Unit.id).where((Unit.director_id == person_id) | (Unit.deputy_id == person_id)).exists()
    rows = session.execute(
        select(
            Person.id,
            Person.organisation_id,
            Person.name,
            Person.email,
            Person.language,
            Person.unit_id,
            supervises.label("supervises"),
            directs.label("directs"),
            PersonRole.role,
        )
        .outerjoin(PersonRole, PersonRole.person_id == Person.id)
        .where(Person.id == person_id, Person.active.is_(True))
    ).all()
    if not rows:
        return None
    first = rows[0]
    roles = {"employee", *(r.role for r in rows if r.role)}
    if first.supervises:
        roles.add("supervisor")
    if first.directs:
        roles.add("director")
    return User(
        first.id, first.organisation_id, first.name, first.email, first.language, frozenset(roles), first.unit_id
    )


def demo_users(session: Session) -> list[tuple[Organisation, list[Person]]]:
    result = []
    for org in session.scalars(select(Organisation).order_by(Organisation.id)):
        people = list(
            session.scalars(
                select(Person).where(Person.organisation_id == org.id, Person.active.is_(True)).order_by(Person.id)
            )
        )
        result.append((org, people))
    return result


def reports(session: Session, actor: User) -> list[Person]:
    """People the actor may start a request for: themself and their direct reports."""
    query = (
        select(Person)
        .where(
            Person.organisation_id == actor.organisation_id,
            Person.active.is_(True),
            or_(Person.id == actor.id, Person.supervisor_id == actor.id),
        )
        .order_by(Person.id != actor.id, Person.name)
    )
    return list(session.scalars(query))


@dataclass
class TaskRow:
    task: HumanTask
    subject: Person | None
    codes: list[AuthorizationCode]


def inbox(session: Session, actor: User) -> list[TaskRow]:
    query = (
        select(HumanTask)
        .join(HumanTaskOwner, HumanTaskOwner.task_id == HumanTask.id)
        .where(
            HumanTaskOwner.person_id == actor.id,
            HumanTask.organisation_id == actor.organisation_id,
            HumanTask.status == TaskStatus.READY.value,
        )
        .order_by(HumanTask.created_at)
    )
    tasks = list(session.scalars(query))
    return [_task_row(session, t) for t in tasks]


def _task_row(session: Session, task: HumanTask) -> TaskRow:
    instance = session.get(ProcessInstance, task.instance_id)
    subject = session.get(Person, instance.subject_person_id) if instance.subject_person_id else None
    return TaskRow(task, subject, request_codes(session, instance.id))


def request_codes(session: Session, instance_id: int) -> list[AuthorizationCode]:
    query = (
        select(AuthorizationCode)
        .join(Authorization, Authorization.code_id == AuthorizationCode.id)
        .where(Authorization.request_instance_id == instance_id, Authorization.status != "cancelled")
        .order_by(AuthorizationCode.key)
    )
    return list(session.scalars(query))


def task_for(session: Session, actor: User, task_id: str) -> tuple[HumanTask, ProcessInstance, bool]:
    """A task the actor may see, its instance, and whether the actor may complete it now."""
    task = session.get(HumanTask, task_id)
    if task is None or task.organisation_id != actor.organisation_id:
        raise TaskNotFoundError("task not found")
    owners = owner_ids(session, task.id)
    instance = session.get(ProcessInstance, task.instance_id)
    if actor.id not in owners and not can_see_instance(session, actor, instance):
        raise TaskNotFoundError("task not found")  # do not reveal that it exists
    return task, instance, actor.id in owners and task.status == TaskStatus.READY.value


def owner_ids(session: Session, task_id: str) -> set[int]:
    return set(session.scalars(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == task_id)))


def can_see_instance(session: Session, actor: User, instance: ProcessInstance) -> bool:
    if instance is None or instance.organisation_id != actor.organisation_id:
        return False
    if actor.has("administrator") or actor.id in (instance.subject_person_id, instance.started_by_id):
        return True
    ever_owner = (
        select(HumanTaskOwner.person_id)
        .join(HumanTask, HumanTask.id == HumanTaskOwner.task_id)
        .where(HumanTask.instance_id == instance.id, HumanTaskOwner.person_id == actor.id)
    )
    if session.scalar(ever_owner.limit(1)) is not None:
        return True
    if actor.has("director") and instance.subject_person_id:
        subject = session.get(Person, instance.subject_person_id)
        person = session.get(Person, actor.id)
        return subject.unit_id in directory.directed_unit_ids(session, person)
    return False


@dataclass
class HistoryEntry:
    event: AuditEvent
    actor: Person | None


@dataclass
class RequestView:
    instance: ProcessInstance
    subject: Person | None
    started_by: Person | None
    authorizations: list[Authorization]
    open_tasks: list[tuple[HumanTask, list[Person]]]
    history: list[HistoryEntry] = field(default_factory=list)


def request_view(session: Session, actor: User, instance_id: int) -> RequestView:
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or not can_see_instance(session, actor, instance):
        raise NotFoundError("request not found")
    auths = list(
        session.scalars(
            select(Authorization)
            .options(joinedload(Authorization.code))
            .where(Authorization.request_instance_id == instance.id)
            .order_by(Authorization.id)
        )
    )
    open_tasks = []
    for task in session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY.value)
    ):
        people = list(
            session.scalars(
                select(Person)
                .join(HumanTaskOwner, HumanTaskOwner.person_id == Person.id)
                .where(HumanTaskOwner.task_id == task.id)
                .order_by(Person.name)
            )
        )
        open_tasks.append((task, people))
    actor_alias = aliased(Person)
    rows = session.execute(
        select(AuditEvent, actor_alias)
        .outerjoin(actor_alias, actor_alias.id == AuditEvent.actor_id)
        .where(AuditEvent.instance_id == instance.id)
        .order_by(AuditEvent.id)
    ).all()
    return RequestView(
        instance,
        session.get(Person, instance.subject_person_id) if instance.subject_person_id else None,
        session.get(Person, instance.started_by_id) if instance.started_by_id else None,
        auths,
        open_tasks,
        [HistoryEntry(e, p) for e, p in rows],
    )


def my_requests(session: Session, actor: User) -> list[tuple[ProcessInstance, Person, list[AuthorizationCode]]]:
    query = (
        select(ProcessInstance)
        .where(
            ProcessInstance.organisation_id == actor.organisation_id,
            or_(ProcessInstance.subject_person_id == actor.id, ProcessInstance.started_by_id == actor.id),
        )
        .order_by(ProcessInstance.created_at.desc())
        .limit(200)
    )
    result = []
    for inst in session.scalars(query):  # a code proposal has no subject person
        subject = session.get(Person, inst.subject_person_id) if inst.subject_person_id is not None else None
        result.append((inst, subject, request_codes(session, inst.id)))
    return result


@dataclass
class AuthorizationRow:
    authorization: Authorization
    holder: Person
    unit: Unit | None


def authorizations(
    session: Session, actor: User, status: str | None = None, limit: int = 500
) -> list[AuthorizationRow]:
    """Administrators see the whole organisation, directors their units, others their own."""
    query = (
        select(Authorization, Person, Unit)
        .options(joinedload(Authorization.code))
        .join(Person, Person.id == Authorization.holder_id)
        .outerjoin(Unit, Unit.id == Person.unit_id)
        .where(Authorization.organisation_id == actor.organisation_id, Authorization.status != "cancelled")
    )
    if not actor.has("administrator"):
        if actor.has("director"):
            units = directory.directed_unit_ids(session, session.get(Person, actor.id))
            query = query.where(or_(Person.unit_id.in_(units), Person.id == actor.id))
        else:
            query = query.where(Person.id == actor.id)
    if status:
        query = query.where(Authorization.status == status)
    query = query.order_by(Person.name, Authorization.id).limit(limit)
    return [AuthorizationRow(a, p, u) for a, p, u in session.execute(query).all()]
