"""Retention (``valtuus retention``): people who left more than N years ago are pseudonymised.

N is the organisation's ``retention_years`` setting (default 6, engine/policy.py) unless the operator gives one.
A person "left" on the date of their last leaver HR event; without one, when they were deactivated (the
``person.deactivated`` audit event). Someone inactive whose leaving date is unknown, or who still has an open
process or an authorization not yet closed, is left alone and reported.

For each such person, in one transaction per organisation:

- the person's name becomes "Poistettu henkilö #<id>", the e-mail an address in the reserved ``.invalid`` domain
  (RFC 2606: never delivered), the job title, demo note, supervisor and roles are cleared; the registry's copy of
  the name on their authorizations follows (registry.sync_holders);
- their notifications, e-mail outbox and preferences are deleted, and others' messages about their authorizations
  (a director's "revoked" notice) get the pseudonym; their HR events keep only the event id, type and date, and
  other people's HR events that name them as supervisor get the pseudonymous address;
- the workflow state and task prefill of their finished processes have the name and e-mail replaced;
- a ``person.pseudonymised`` audit event records it (no name in it).

For the whole organisation: uploaded spreadsheets older than N years and webhook deliveries sent more than N years
ago are deleted.

**The audit log is not changed.** Each event's hash covers its content and the previous event's hash
(engine/audit.py), so rewriting one old event would break the chain from there on and ``valtuus audit verify``
could no longer tell tampering from retention. Events refer to people by id, and the id now resolves to the
pseudonym, but some old details still hold personal data as it was written then: ``task.completed`` keeps the form
answers (justifications and comments as written, which may name people), ``person.imported`` the name and e-mail
of a person added by an import, ``api.token_created`` the token's name. They are kept for as long as the audit log
itself (the log is the evidence of who decided what); the privacy export shows them to the person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from . import audit
from .clock import local_date
from .models import (
    AuditEvent,
    Authorization,
    AuthorizationStatus,
    HrEvent,
    HumanTask,
    ImportUpload,
    InstanceStatus,
    Notification,
    NotificationPreference,
    Organisation,
    OutboxMessage,
    Person,
    PersonRole,
    ProcessInstance,
    WebhookDelivery,
)
from .policy import policy_for
from .registry import add_months, sync_holders

PSEUDONYM_NAME = "Poistettu henkilö #{id}"
PSEUDONYM_DOMAIN = "poistettu.invalid"  # RFC 2606 reserves .invalid: mail to it is never delivered
_OPEN = (
    AuthorizationStatus.REQUESTED,
    AuthorizationStatus.APPROVED,
    AuthorizationStatus.ACTIVE,
    AuthorizationStatus.REVOKING,
)


@dataclass
class RetentionResult:
    organisation: str
    years: int
    cutoff: date
    pseudonymised: list[int] = field(default_factory=list)  # person ids
    kept: dict[int, str] = field(default_factory=dict)  # person id → why they were left alone
    uploads_deleted: int = 0
    deliveries_deleted: int = 0


def pseudonym_email(person_id: int) -> str:
    return f"poistettu-{person_id}@{PSEUDONYM_DOMAIN}"


def apply_retention(
    host, organisation_id: int, *, years: int | None = None, dry_run: bool = False, now: datetime | None = None
) -> RetentionResult:
    """Pseudonymise the organisation's people who left more than ``years`` (default: its setting) years ago and
    delete old uploads and sent webhook deliveries. A dry run reports the same and writes nothing."""
    now = now or host.clock()
    with host.db.unit_of_work() as session:
        org = session.get(Organisation, organisation_id)
        years = years or policy_for(org.settings)["retention_years"]
        cutoff = add_months(local_date(now), -12 * years)
        result = RetentionResult(org.key, years, cutoff)
        for person, left_on in _leavers(session, organisation_id):
            why = _reason_to_keep(session, person, left_on, cutoff)
            if why == "recent":
                continue
            if why:
                result.kept[person.id] = why
            else:
                result.pseudonymised.append(person.id)
                if not dry_run:
                    _pseudonymise(host, session, person, left_on, years, now)
        result.uploads_deleted, result.deliveries_deleted = _purge(session, organisation_id, cutoff, dry_run)
        if dry_run:
            session.rollback()
        elif result.pseudonymised:
            sync_holders(session, organisation_id, result.pseudonymised)
    return result


def _leavers(session: Session, organisation_id: int) -> list[tuple[Person, date | None]]:
    """Inactive people not yet pseudonymised, with the day they left (None: not known)."""
    people = list(
        session.scalars(
            select(Person)
            .where(
                Person.organisation_id == organisation_id,
                Person.active.is_(False),
                ~Person.email.endswith("@" + PSEUDONYM_DOMAIN),
            )
            .order_by(Person.id)
            .with_for_update()  # a joiner event bringing someone back waits, and is not overwritten
        )
    )
    ids = [p.id for p in people]
    left = dict(
        session.execute(
            select(HrEvent.person_id, func.max(HrEvent.effective_on))
            .where(HrEvent.organisation_id == organisation_id, HrEvent.kind == "leaver", HrEvent.person_id.in_(ids))
            .group_by(HrEvent.person_id)
        ).all()
    )
    deactivated = {}
    for person_id, at in session.execute(
        select(AuditEvent.details["person_id"].as_integer(), AuditEvent.at).where(
            AuditEvent.organisation_id == organisation_id, AuditEvent.action == "person.deactivated"
        )
    ):
        if person_id in ids:
            deactivated[person_id] = max(deactivated.get(person_id, local_date(at)), local_date(at))
    return [(p, left.get(p.id) or deactivated.get(p.id)) for p in people]


def _reason_to_keep(session: Session, person: Person, left_on: date | None, cutoff: date) -> str | None:
    if left_on is None:
        return "leaving date unknown"
    if left_on >= cutoff:
        return "recent"
    open_authorizations = session.scalar(
        select(func.count())
        .select_from(Authorization)
        .where(Authorization.holder_id == person.id, Authorization.status.in_([s.value for s in _OPEN]))
    )
    if open_authorizations:
        return "holds authorizations that are not closed"
    open_processes = session.scalar(
        select(func.count())
        .select_from(ProcessInstance)
        .where(ProcessInstance.subject_person_id == person.id, ProcessInstance.status != InstanceStatus.COMPLETE.value)
    )
    if open_processes:
        return "has unfinished processes"
    return None


def _pseudonymise(host, session: Session, person: Person, left_on: date, years: int, now: datetime) -> None:
    old_email, new_email = person.email, pseudonym_email(person.id)
    old = {person.name: PSEUDONYM_NAME.format(id=person.id), old_email: new_email}
    person.name, person.email = PSEUDONYM_NAME.format(id=person.id), new_email
    person.title, person.demo_note, person.supervisor_id = {}, {}, None
    session.execute(delete(PersonRole).where(PersonRole.person_id == person.id))
    for model, column in (
        (Notification, Notification.recipient_id),
        (OutboxMessage, OutboxMessage.recipient_id),
        (NotificationPreference, NotificationPreference.person_id),
    ):
        session.execute(delete(model).where(column == person.id))
    _scrub_hr_events(session, person, old_email)
    _scrub_processes(host, session, person.id, old)
    for model in (Notification, OutboxMessage):  # others' messages about their authorizations name them
        for message in session.scalars(select(model).where(model.context["holder_id"].as_integer() == person.id)):
            message.context = scrub(message.context, old)
    session.flush()
    audit.record(
        session,
        person.organisation_id,
        "person.pseudonymised",
        at=now,
        details={"person_id": person.id, "left_on": left_on.isoformat(), "retention_years": years},
    )


def _scrub_hr_events(session: Session, person: Person, email: str) -> None:
    for event in session.scalars(select(HrEvent).where(HrEvent.person_id == person.id)):
        event.payload = {k: v for k, v in (event.payload or {}).items() if k in ("event_id", "kind", "day")}
    supervised = HrEvent.payload["supervisor"].as_string() == email
    for event in session.scalars(select(HrEvent).where(HrEvent.organisation_id == person.organisation_id, supervised)):
        event.payload = {**event.payload, "supervisor": person.email}


def _scrub_processes(host, session: Session, person_id: int, old: dict[str, str]) -> None:
    """Replace the name and e-mail in the state and task prefill of the finished processes about the person."""
    instances = session.scalars(
        select(ProcessInstance).where(
            ProcessInstance.subject_person_id == person_id, ProcessInstance.status == InstanceStatus.COMPLETE.value
        )
    )
    for instance in instances:
        loaded = host.specs.get(session, instance.spec_version_id)
        wf = host.serializer.loads(instance.state, loaded.spec, loaded.subprocess_specs, instance.serializer_version)
        wf.data = scrub(wf.data, old)
        for task in wf.get_tasks():
            task.data = scrub(task.data, old)
        instance.state = host.serializer.dumps(wf)
        instance.serializer_version = host.serializer.version
        for task_row in session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)):
            task_row.prefill = scrub(task_row.prefill or {}, old)


def scrub(value, replacements: dict[str, str]):
    """``value`` (nested dicts and lists) with every occurrence of each key text replaced by its value."""
    if isinstance(value, dict):
        return {k: scrub(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, replacements) for v in value]
    if isinstance(value, str):
        for before, after in replacements.items():
            if before:
                value = value.replace(before, after)
    return value


def _purge(session: Session, organisation_id: int, cutoff: date, dry_run: bool) -> tuple[int, int]:
    """Delete uploads older than the cutoff and webhook deliveries sent before it: (uploads, deliveries)."""
    since = datetime.combine(cutoff, time.min, tzinfo=UTC)
    uploads = and_(ImportUpload.organisation_id == organisation_id, ImportUpload.created_at < since)
    sent = and_(
        WebhookDelivery.organisation_id == organisation_id,
        WebhookDelivery.status == "sent",
        or_(WebhookDelivery.sent_at < since, WebhookDelivery.sent_at.is_(None) & (WebhookDelivery.created_at < since)),
    )
    counts = tuple(
        session.scalar(select(func.count()).select_from(m).where(c))
        for m, c in ((ImportUpload, uploads), (WebhookDelivery, sent))
    )
    if not dry_run:
        session.execute(delete(ImportUpload).where(uploads))
        session.execute(delete(WebhookDelivery).where(sent))
    return counts  # type: ignore[return-value]
