"""Data protection: no personal identity codes in free text, and everything held about a person in one document.

- :func:`contains_identity_code` finds a Finnish personal identity code (henkilötunnus, DDMMYYCNNNK) in text. The
  date and the check character must be right, so a number that only looks like one (an invoice number, a phone
  number) is not refused. The importer rejects a row with one and every user-task form refuses one in any text
  field: the registry has no use for identity codes, so none is ever written (Suomi.fi knows the people).
- :func:`export_person` is the answer to a data subject's access request (``valtuus privacy export``): every row of
  every table that refers to the person, the processes about them with the form data given in them, the audit
  events about them and the uploaded spreadsheets that mention their e-mail (named, not copied). Secrets (token and
  calendar-link hashes, webhook secrets) are left out: they are not information about the person.
  :data:`PERSON_REFERENCES` lists each column that points at a person and where the export shows it; a test fails
  when a new one is not listed.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime

from SpiffWorkflow.task import TaskState
from sqlalchemy import inspect, or_, select
from sqlalchemy.orm import Session

from . import audit_export
from .errors import NotFoundError
from .models import (
    ApiToken,
    AuditEvent,
    Authorization,
    AuthorizationCode,
    HrEvent,
    HumanTask,
    HumanTaskOwner,
    ImportUpload,
    Notification,
    NotificationPreference,
    Organisation,
    OutboxMessage,
    Person,
    PersonRole,
    ProcessInstance,
    ProcessSpecVersion,
    ReviewItem,
    Unit,
    WebhookDelivery,
    WebhookEndpoint,
)

FORMAT = "valtuus-privacy-export/1"

# -- identity codes ------------------------------------------------------------------------------------------

# DDMMYY, the century sign (+ 1800s; - and U–Y 1900s; A–F 2000s), the individual number and the check character
_IDENTITY_CODE = re.compile(
    r"(?<![0-9A-Za-z])(\d{2})(\d{2})(\d{2})([-+A-FU-Y])(\d{3})([0-9A-Y])(?![0-9A-Za-z])", re.IGNORECASE
)
_CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_CENTURY = {"+": 1800, "-": 1900, **dict.fromkeys("UVWXY", 1900), **dict.fromkeys("ABCDEF", 2000)}


def contains_identity_code(text: object) -> bool:
    """True when ``text`` contains a valid Finnish personal identity code (date and check character right)."""
    if not isinstance(text, str) or len(text) < 11:
        return False
    return any(_valid(match) for match in _IDENTITY_CODE.finditer(text))


def _valid(match: re.Match) -> bool:
    day, month, year, sign, number, check = match.groups()
    try:
        date(_CENTURY[sign.upper()] + int(year), int(month), int(day))
    except ValueError:
        return False
    return _CHECK_CHARACTERS[int(day + month + year + number) % 31] == check.upper()


# -- the export ----------------------------------------------------------------------------------------------

# (table, column) pointing at people.id → the part of the export where those rows appear
PERSON_REFERENCES: dict[tuple[str, str], str] = {
    ("people", "supervisor_id"): "supervises",
    ("person_roles", "person_id"): "roles",
    ("units", "director_id"): "units_led",
    ("units", "deputy_id"): "units_led",
    ("authorizations", "holder_id"): "authorizations",
    ("review_items", "decided_by_id"): "review_items",
    ("hr_events", "person_id"): "hr_events",
    ("notifications", "recipient_id"): "notifications",
    ("outbox", "recipient_id"): "outbox",
    ("notification_preferences", "person_id"): "notification_preferences",
    ("api_tokens", "created_by_id"): "api_tokens_created",
    ("webhook_endpoints", "created_by_id"): "webhook_endpoints_created",
    ("import_uploads", "uploaded_by_id"): "import_uploads",
    ("process_spec_versions", "deployed_by_id"): "process_versions_deployed",
    ("process_instances", "subject_person_id"): "processes",
    ("process_instances", "started_by_id"): "processes",
    ("human_tasks", "completed_by_id"): "tasks",
    ("human_task_owners", "person_id"): "tasks",
    ("audit_events", "actor_id"): "audit_events_by_person",
}
_SECRET_COLUMNS = {"token_sha256", "calendar_token_sha256", "secret", "state", "content", "lock_version"}


def find_person(session: Session, reference: str, organisation_id: int | None = None) -> Person:
    """A person by id or e-mail (case-insensitive); NotFoundError when none, or when the e-mail is in several
    organisations and none was named (the message says so)."""
    query = select(Person)
    if organisation_id is not None:
        query = query.where(Person.organisation_id == organisation_id)
    text = reference.strip()
    found = list(
        session.scalars(
            query.where(Person.id == int(text)) if text.isdigit() else query.where(Person.email == text.lower())
        )
    )
    if not found:
        raise NotFoundError(f"no person {text!r}")
    if len(found) > 1:
        raise NotFoundError(f"{text!r} is in several organisations: name the organisation")
    return found[0]


def export_person(host, session: Session, person_id: int) -> dict:
    """Everything held about one person, as one JSON-ready document (see the module's docstring)."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFoundError("person not found")
    org_id = person.organisation_id
    held = list(
        session.scalars(select(Authorization).where(Authorization.holder_id == person.id).order_by(Authorization.id))
    )
    about = audit_export.person_events(session, org_id, person.id)
    return {
        "format": FORMAT,
        "generated_at": host.clock().isoformat(),
        "organisation": session.scalar(select(Organisation.key).where(Organisation.id == org_id)),
        "person": row_dict(person),
        "roles": sorted(session.scalars(select(PersonRole.role).where(PersonRole.person_id == person.id))),
        "unit": row_dict(session.get(Unit, person.unit_id)) if person.unit_id else None,
        "supervisor": _person_brief(session.get(Person, person.supervisor_id)) if person.supervisor_id else None,
        "supervises": [_person_brief(p) for p in _rows(session, Person, Person.supervisor_id == person.id)],
        "units_led": [
            row_dict(u) for u in _rows(session, Unit, or_(Unit.director_id == person.id, Unit.deputy_id == person.id))
        ],
        "authorizations": _authorizations(session, held, about),
        "review_items": _review_items(session, person.id, [a.id for a in held]),
        "hr_events": [row_dict(r) for r in _rows(session, HrEvent, HrEvent.person_id == person.id)],
        "notifications": [row_dict(r) for r in _rows(session, Notification, Notification.recipient_id == person.id)],
        "outbox": [row_dict(r) for r in _rows(session, OutboxMessage, OutboxMessage.recipient_id == person.id)],
        "notification_preferences": _preferences(session, person.id),
        "api_tokens_created": [row_dict(r) for r in _rows(session, ApiToken, ApiToken.created_by_id == person.id)],
        "webhook_endpoints_created": [
            row_dict(r) for r in _rows(session, WebhookEndpoint, WebhookEndpoint.created_by_id == person.id)
        ],
        "process_versions_deployed": [
            row_dict(r, exclude={"bpmn", "forms"})
            for r in _rows(session, ProcessSpecVersion, ProcessSpecVersion.deployed_by_id == person.id)
        ],
        "tasks": _tasks(session, person.id),
        "processes": _processes(host, session, person.id),
        "webhook_deliveries": _webhook_deliveries(session, org_id, person.id),
        "audit_events": [_event(e) for e in about],
        "audit_events_by_person": [
            row_dict(e) for e in _rows(session, AuditEvent, AuditEvent.actor_id == person.id, order=AuditEvent.seq)
        ],
        "import_uploads": _import_uploads(session, org_id, person),
    }


def row_dict(row, exclude: set[str] = frozenset()) -> dict:
    """Every column of an ORM row as JSON-ready values, secrets and blobs left out (new columns come along)."""
    out = {}
    for column in inspect(row).mapper.column_attrs:
        if column.key in _SECRET_COLUMNS or column.key in exclude:
            continue
        out[column.key] = jsonable(getattr(row, column.key))
    return out


def jsonable(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # UUIDs, decimals and the like in workflow data


def _rows(session: Session, model, condition, order=None) -> list:
    primary = inspect(model).primary_key[0]
    return list(session.scalars(select(model).where(condition).order_by(order if order is not None else primary)))


def _person_brief(person: Person | None) -> dict | None:
    return {"id": person.id, "name": person.name, "email": person.email} if person else None


def _event(exported: audit_export.ExportedEvent) -> dict:
    return {**row_dict(exported.event), "actor": _person_brief(exported.actor)}


def _authorizations(session: Session, held: list[Authorization], about: list) -> list[dict]:
    history: dict[int, list[dict]] = {}
    for exported in about:
        if exported.event.authorization_id is not None:
            history.setdefault(exported.event.authorization_id, []).append(
                {
                    "at": jsonable(exported.event.at),
                    "action": exported.event.action,
                    "actor": _person_brief(exported.actor),
                    "details": jsonable(exported.event.details),
                }
            )
    codes = {
        c.id: c
        for c in session.scalars(select(AuthorizationCode).where(AuthorizationCode.id.in_({a.code_id for a in held})))
    }
    return [
        {
            **row_dict(a),
            "code": {"key": codes[a.code_id].key, "name": codes[a.code_id].name},
            "history": history.get(a.id, []),
        }
        for a in held
    ]


def _review_items(session: Session, person_id: int, held_ids: list[int]) -> list[dict]:
    condition = or_(ReviewItem.authorization_id.in_(held_ids), ReviewItem.decided_by_id == person_id)
    return [row_dict(r) for r in _rows(session, ReviewItem, condition)]


def _preferences(session: Session, person_id: int) -> dict | None:
    pref = session.get(NotificationPreference, person_id)
    if pref is None:
        return None
    return {**row_dict(pref), "calendar_link": pref.calendar_token_sha256 is not None}


def _tasks(session: Session, person_id: int) -> list[dict]:
    owned = select(HumanTaskOwner.task_id).where(HumanTaskOwner.person_id == person_id)
    rows = _rows(
        session,
        HumanTask,
        or_(HumanTask.id.in_(owned), HumanTask.completed_by_id == person_id),
        order=HumanTask.created_at,
    )
    owner_of = set(session.scalars(owned))
    return [
        {**row_dict(t), "owner": t.id in owner_of, "completed_by_person": t.completed_by_id == person_id} for t in rows
    ]


def _processes(host, session: Session, person_id: int) -> list[dict]:
    """Processes about the person or started by them: the row, the forms submitted in it (from the audit trail's
    task.completed events: the projection) and the workflow's own data (only in its serialized state)."""
    instances = _rows(
        session,
        ProcessInstance,
        or_(ProcessInstance.subject_person_id == person_id, ProcessInstance.started_by_id == person_id),
    )
    out = []
    for instance in instances:
        submitted = session.execute(
            select(AuditEvent.at, AuditEvent.actor_id, AuditEvent.details)
            .where(AuditEvent.instance_id == instance.id, AuditEvent.action == "task.completed")
            .order_by(AuditEvent.seq, AuditEvent.id)
        ).all()
        forms = [
            {
                "at": jsonable(at),
                "by": actor,
                "task": (details or {}).get("task"),
                "data": jsonable((details or {}).get("data", {})),
            }
            for at, actor, details in submitted
        ]
        out.append({**row_dict(instance), "forms": forms, "workflow_data": _workflow_data(host, session, instance)})
    return out


def _workflow_data(host, session: Session, instance: ProcessInstance) -> dict:
    """The data of the workflow's latest step, read through the engine's serializer (the organisation's policy,
    which is not about the person, left out)."""
    if not instance.state:
        return {}
    loaded = host.specs.get(session, instance.spec_version_id)
    wf = host.serializer.loads(instance.state, loaded.spec, loaded.subprocess_specs, instance.serializer_version)
    steps = [t for t in wf.get_tasks() if t.state in (TaskState.COMPLETED, TaskState.READY, TaskState.WAITING)]
    data = dict(max(steps, key=lambda t: t.last_state_change).data) if steps else dict(wf.data)
    data.pop("policy", None)
    return jsonable(data)


def _webhook_deliveries(session: Session, organisation_id: int, person_id: int) -> list[dict]:
    holder = WebhookDelivery.payload[("authorization", "holder", "id")].as_integer()
    rows = _rows(session, WebhookDelivery, (WebhookDelivery.organisation_id == organisation_id) & (holder == person_id))
    return [row_dict(r) for r in rows]


def _import_uploads(session: Session, organisation_id: int, person: Person) -> list[dict]:
    """Uploads by the person, and uploads whose spreadsheet mentions their e-mail: named, not copied."""
    out = []
    needle = person.email.casefold()
    for upload in _rows(session, ImportUpload, ImportUpload.organisation_id == organisation_id):
        mentions = _mentions(upload.content or b"", needle)
        if mentions or upload.uploaded_by_id == person.id:
            out.append(
                {
                    **row_dict(upload),
                    "uploaded_by_person": upload.uploaded_by_id == person.id,
                    "mentions_email": mentions,
                }
            )
    return out


def _mentions(content: bytes, needle: str) -> bool:
    """Whether a csv or xlsx file's text contains ``needle`` (an xlsx is a zip of XML parts: look inside)."""
    texts = [content]
    if content[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                texts = [archive.read(n) for n in archive.namelist() if n.endswith(".xml")]
        except (zipfile.BadZipFile, OSError):
            pass
    for raw in texts:
        for encoding in ("utf-8", "cp1252"):
            try:
                if needle in raw.decode(encoding).casefold():
                    return True
                break
            except UnicodeDecodeError:
                continue
    return False
