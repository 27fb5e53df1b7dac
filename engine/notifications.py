"""Notifications (herätteet): the in-app list, e-mail through an outbox, a daily digest and a calendar feed.

Writing. :func:`notify` is called inside the event's own transaction (the caller's session): one
``notifications`` row per recipient (their list in the app) and, for those who want e-mail at once, one
``outbox`` row. Roll the event back and neither exists; commit it and the e-mail will go out.

Sending. :func:`deliver` (every scheduler sweep) claims due pending outbox rows – ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers never send the same row – renders them in the recipient's language (Jinja2,
``engine/templates/notifications``, plain text and HTML) and sends them with smtplib. A failure counts an
attempt and waits (exponential backoff); after ``MAX_ATTEMPTS`` the row is ``failed`` and listed for the
pääkäyttäjä at /admin/outbox (*Lähetä uudelleen*). SMTP down means messages wait; none is lost.

At least once, never lost: a row is marked sent in the same transaction that claimed it, after the SMTP server
accepted the message. A crash between the server's acceptance and the commit sends that message (and the rest
of its batch) again on the next sweep – a repeat, never a loss. A repeat carries the same Message-ID.

Digest. People who chose ``daily`` get their notifications in one message each morning (``DIGEST_HOUR`` Finnish
time): :func:`queue_digests` groups what arrived before that morning's cut-off into one outbox row per person.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.orm import Session

from .clock import FINNISH_TIME
from .models import (
    Authorization,
    AuthorizationCode,
    AuthorizationStatus,
    HumanTask,
    HumanTaskOwner,
    Notification,
    NotificationPreference,
    Organisation,
    OutboxMessage,
    Person,
    TaskStatus,
)
from .policy import policy_for

log = logging.getLogger("valtuus.notifications")

KINDS = (
    "task_waiting",
    "reminder",
    "escalation",
    "request_approved",
    "request_rejected",
    "request_returned",
    "request_registered",
    "expiry_soon",
    "review_opened",
    "authorization_revoked",
    "code_withdrawn",
)
LANGUAGES = ("fi", "sv", "en")
MODES = ("immediate", "daily")
MAX_ATTEMPTS = 8
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=6)
BATCH = 50  # messages per claiming transaction (and per SMTP connection)
DIGEST_HOUR = 7  # Finnish time
TEMPLATES = Path(__file__).resolve().parent / "templates" / "notifications"

# -- writing ------------------------------------------------------------------------------------------------


def notify(
    session: Session, organisation_id: int, recipient_ids, kind: str, context: dict, *, now: datetime
) -> int:
    """One notification per recipient (in-app) and an outbox row for those who want e-mail at once, in the
    caller's transaction. Inactive people and people without an address get the in-app row only."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    ids = list(dict.fromkeys(int(i) for i in recipient_ids if i is not None))
    if not ids:
        return 0
    people = session.execute(
        select(Person.id, Person.email, Person.language, Person.active, NotificationPreference.email)
        .outerjoin(NotificationPreference, NotificationPreference.person_id == Person.id)
        .where(Person.id.in_(ids), Person.organisation_id == organisation_id)
    ).all()
    notes, mails = [], []
    for person_id, address, language, active, mode in people:
        mode = mode or "immediate"
        if not active or not address:
            mode = "none"
        notes.append(
            {
                "organisation_id": organisation_id,
                "recipient_id": person_id,
                "kind": kind,
                "context": context,
                "created_at": now,
                "email": mode,
                "emailed_at": now if mode == "immediate" else None,
            }
        )
        if mode == "immediate":
            mails.append(_outbox_row(organisation_id, person_id, address, language, kind, context, now))
    if notes:
        session.execute(insert(Notification), notes)
    if mails:
        session.execute(insert(OutboxMessage), mails)
    return len(notes)


def _outbox_row(organisation_id, person_id, address, language, kind, context, now) -> dict:
    return {
        "organisation_id": organisation_id,
        "recipient_id": person_id,
        "to_address": address,
        "language": language if language in LANGUAGES else "fi",
        "kind": kind,
        "context": context,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "created_at": now,
    }


_PENDING_TASKS = "valtuus_notify_ready_tasks"
_LISTENING = "valtuus_notify_listening"
REQUEST_FORM_TASK = "fill_request"  # the request's first form: ready again after a return
REVIEW_TASK = "review_authorizations"


def task_ready(session: Session, row: HumanTask, owners: list[int], now: datetime, *, new: bool) -> None:
    """A task became ready for people (called by ``tasks.sync``). The notification is written just before the
    command commits, and only if the task is still waiting then: the requester's own first form, completed in
    the same command that created it, notifies nobody."""
    if not owners:
        return
    if not session.info.get(_LISTENING):
        session.info[_LISTENING] = True
        event.listen(session, "before_commit", _notify_ready_tasks)  # (lives as long as this session)
    session.info.setdefault(_PENDING_TASKS, []).append((row, list(owners), now, new))


def _notify_ready_tasks(session: Session) -> None:
    pending = session.info.pop(_PENDING_TASKS, None) or []
    for row, owners, now, new in pending:
        if row.status != TaskStatus.READY.value:
            continue
        if row.bpmn_id == REVIEW_TASK:
            kind, path = "review_opened", "/reviews"
        elif row.bpmn_id == REQUEST_FORM_TASK and not new:
            kind, path = "request_returned", f"/tasks/{row.id}"
        else:
            kind, path = "task_waiting", f"/tasks/{row.id}"
        context = {"task_id": row.id, "task": row.names or {"fi": row.name}, "path": path}
        due = row.due_at or (_review_deadline(session, row.organisation_id, now) if kind == "review_opened" else None)
        if due:
            context["due_on"] = due.astimezone(FINNISH_TIME).date().isoformat()
        notify(session, row.organisation_id, owners, kind, context, now=now)


def _review_deadline(session: Session, organisation_id: int, opened_at: datetime) -> datetime:
    """A review round's deadline: the policy's ``review_deadline_days`` after it opened (the diagram's timer)."""
    settings = session.scalar(select(Organisation.settings).where(Organisation.id == organisation_id))
    return opened_at + timedelta(days=int(policy_for(settings)["review_deadline_days"]))


def authorization_context(session: Session, authorization_id: int) -> dict:
    """What a message about one authorization may say: the holder's name and the code (never more)."""
    row = session.execute(
        select(Authorization.holder_id, Authorization.holder_name, AuthorizationCode.key, AuthorizationCode.name)
        .join(AuthorizationCode, AuthorizationCode.id == Authorization.code_id)
        .where(Authorization.id == authorization_id)
    ).one_or_none()
    if row is None:
        return {"authorization_id": authorization_id}
    return {
        "authorization_id": authorization_id,
        "holder_id": row.holder_id,
        "holder_name": row.holder_name,
        "code": row.key,
        "code_name": row.name if isinstance(row.name, dict) else {"fi": str(row.name)},
    }


def notify_about_authorization(
    session: Session, organisation_id: int, authorization_id: int, recipient_ids, kind: str, extra: dict, *, now
) -> int:
    """The holder gets a link to their own authorizations, the others (directors) to the holder's page."""
    context = {**authorization_context(session, authorization_id), **extra}
    holder = context.get("holder_id")
    ids = list(dict.fromkeys(recipient_ids))
    count = 0
    if holder in ids:
        count += notify(session, organisation_id, [holder], kind, {**context, "path": "/authorizations/mine"}, now=now)
    others = [i for i in ids if i != holder]
    if others:
        count += notify(session, organisation_id, others, kind, {**context, "path": f"/people/{holder}"}, now=now)
    return count


# -- rendering ----------------------------------------------------------------------------------------------

_ENVS: dict[bool, Environment] = {}


def _env(html: bool) -> Environment:
    if html not in _ENVS:
        env = Environment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=html,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["lang"] = _in_language
        env.filters["fidate"] = _date_text
        _ENVS[html] = env
    return _ENVS[html]


def _in_language(value, language: str) -> str:
    if isinstance(value, dict):
        return value.get(language) or value.get("fi") or next(iter(value.values()), "")
    return "" if value is None else str(value)


def _date_text(value) -> str:
    if not value:
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{day.day}.{day.month}.{day.year}"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _variables(kind: str, language: str, context: dict, base_url: str, name: str) -> dict:
    language = language if language in LANGUAGES else "fi"
    return {
        "c": context,
        "lang": language,
        "name": name,
        "base_url": base_url.rstrip("/"),
        "link": base_url.rstrip("/") + context.get("path", "/"),
    }


def subject(kind: str, language: str, context: dict) -> str:
    """The one-line subject of a notification (the in-app list shows it)."""
    language = language if language in LANGUAGES else "fi"
    template = _env(False).get_template(f"{kind}.{language}.j2")
    return template.render(part="subject", **_variables(kind, language, context, "", "")).strip()


def render(kind: str, language: str, context: dict, base_url: str, name: str = "") -> Rendered:
    language = language if language in LANGUAGES else "fi"
    if kind == "digest":
        context = {
            **context,
            "entries": [
                {
                    "subject": subject(item["kind"], language, item["context"]),
                    "link": base_url.rstrip("/") + item["context"].get("path", "/"),
                }
                for item in context.get("items", [])
            ],
        }
    variables = _variables(kind, language, context, base_url, name)
    name_ = f"{kind}.{language}.j2"
    text_template = _env(False).get_template(name_)
    return Rendered(
        subject=" ".join(text_template.render(part="subject", **variables).split()),
        text=text_template.render(part="text", **variables).strip() + "\n",
        html=_env(True).get_template(name_).render(part="html", **variables).strip() + "\n",
    )


def message(row: OutboxMessage, settings, name: str = "") -> EmailMessage:
    rendered = render(row.kind, row.language, row.context, settings.base_url, name)
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = settings.smtp_sender
    msg["To"] = row.to_address
    # the same Message-ID on every attempt: a repeat after a crash can be recognised (and dropped) by mail systems
    domain = settings.smtp_sender.rpartition("@")[2] or "valtuushallinta"
    msg["Message-ID"] = f"<valtuus-outbox-{row.id}.{int(row.created_at.timestamp())}@{domain}>"
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    msg["Content-Language"] = row.language  # (after the parts: content headers set earlier move into the first)
    return msg


# -- sending ------------------------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: 1, 2, 4 … minutes, at most MAX_BACKOFF."""
    return min(FIRST_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _connect(settings) -> smtplib.SMTP:
    if settings.smtp_security == "tls":
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=20, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=20)
        if settings.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    if settings.smtp_user:
        smtp.login(settings.smtp_user, settings.smtp_password)
    return smtp


def _failed(row: OutboxMessage, err: Exception, now: datetime) -> None:
    row.attempts += 1
    row.last_error = f"{type(err).__name__}: {err}"[:2000]
    if row.attempts >= MAX_ATTEMPTS:
        row.status = "failed"
    else:
        row.next_attempt_at = now + backoff(row.attempts)


def deliver(host_or_db, settings, now: datetime, limit: int = 1000) -> dict:
    """Send due pending outbox rows (at most ``limit``). Returns counts: sent, retrying, failed."""
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    if settings is None or not settings.smtp_host:
        return counts  # no SMTP configured: the outbox waits
    db = getattr(host_or_db, "db", host_or_db)
    while counts["sent"] + counts["retrying"] + counts["failed"] < limit:
        size = min(BATCH, limit - counts["sent"] - counts["retrying"] - counts["failed"])
        with db.unit_of_work() as session:
            query = (
                select(OutboxMessage)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(size)
            )
            if not db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = list(session.scalars(query))
            if not rows:
                break
            names = dict(
                session.execute(select(Person.id, Person.name).where(Person.id.in_({r.recipient_id for r in rows})))
                .all()
            )
            down = _send_batch(rows, settings, names, now)
            for row in rows:
                if row.status == "sent":
                    counts["sent"] += 1
                elif row.status == "failed":
                    counts["failed"] += 1
                else:
                    counts["retrying"] += 1
            session.flush()
        if down:
            break  # the server is not answering: the rest waits for the next sweep
    return counts


def _send_batch(rows: list[OutboxMessage], settings, names: dict, now: datetime) -> bool:
    """Send rows over one connection; returns True when the server could not be reached (or went away)."""
    try:
        smtp = _connect(settings)
    except (OSError, smtplib.SMTPException) as err:
        log.warning("SMTP server %s:%s not reachable: %s", settings.smtp_host, settings.smtp_port, err)
        for row in rows:
            _failed(row, err, now)
        return True
    down = False
    try:
        for row in rows:
            if down:
                _failed(row, ConnectionError("the SMTP connection was lost"), now)
                continue
            try:
                email = message(row, settings, names.get(row.recipient_id, ""))
            except Exception as err:  # noqa: BLE001 – a template or context problem: this message only
                _failed(row, err, now)
                continue
            try:
                smtp.send_message(email)
            except smtplib.SMTPServerDisconnected as err:
                _failed(row, err, now)
                down = True
            except smtplib.SMTPException as err:  # (before OSError: SMTPException is one)
                _failed(row, err, now)  # this message was refused (e.g. the address); go on with the others
            except OSError as err:
                _failed(row, err, now)
                down = True
            else:
                row.status, row.sent_at, row.last_error = "sent", now, ""
                row.attempts += 1
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return down


def queue_digests(host_or_db, now: datetime, hour: int = DIGEST_HOUR) -> int:
    """After ``hour`` o'clock Finnish time, group each daily recipient's notifications from before that
    morning's cut-off into one outbox row. Later notifications wait for the next morning: one digest a day."""
    local = now.astimezone(FINNISH_TIME)
    if local.hour < hour:
        return 0
    cutoff = datetime.combine(local.date(), time(hour), tzinfo=FINNISH_TIME)
    db = getattr(host_or_db, "db", host_or_db)
    queued = 0
    with db.unit_of_work() as session:
        query = (
            select(Notification)
            .where(Notification.email == "daily", Notification.emailed_at.is_(None), Notification.created_at < cutoff)
            .order_by(Notification.recipient_id, Notification.created_at, Notification.id)
            .limit(20_000)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        notes = list(session.scalars(query))
        if not notes:
            return 0
        grouped: dict[int, list[Notification]] = {}
        for note in notes:
            grouped.setdefault(note.recipient_id, []).append(note)
        people = {
            p.id: p for p in session.scalars(select(Person).where(Person.id.in_(list(grouped))))
        }
        rows = []
        for person_id, items in grouped.items():
            person = people[person_id]
            for note in items:
                note.emailed_at = now
            if not person.active or not person.email:
                continue
            context = {
                "day": local.date().isoformat(),
                "path": "/notifications",
                "items": [{"kind": n.kind, "context": n.context} for n in items],
            }
            rows.append(
                _outbox_row(person.organisation_id, person_id, person.email, person.language, "digest", context, now)
            )
        if rows:
            session.execute(insert(OutboxMessage), rows)
        queued = len(rows)
        session.flush()
    return queued


def failed_messages(session: Session, organisation_id: int, limit: int = 200) -> list[tuple[OutboxMessage, str]]:
    """Messages that gave up (for the pääkäyttäjä), newest first, with the recipient's name."""
    return list(
        session.execute(
            select(OutboxMessage, Person.name)
            .join(Person, Person.id == OutboxMessage.recipient_id)
            .where(OutboxMessage.organisation_id == organisation_id, OutboxMessage.status == "failed")
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        ).all()
    )


def failed_count(session: Session, organisation_id: int) -> int:
    query = select(func.count(OutboxMessage.id)).where(
        OutboxMessage.status == "failed", OutboxMessage.organisation_id == organisation_id
    )
    return session.scalar(query) or 0


def send_again(session: Session, organisation_id: int, outbox_id: int, now: datetime) -> bool:
    """Put a failed message back in the queue (a fresh set of attempts). False if there is no such message."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == outbox_id,
            OutboxMessage.organisation_id == organisation_id,
            OutboxMessage.status == "failed",
        )
        .values(status="pending", attempts=0, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


# -- the in-app list and preferences -----------------------------------------------------------------------


def unread_count(session: Session, person_id: int) -> int:
    return (
        session.scalar(
            select(func.count(Notification.id)).where(
                Notification.recipient_id == person_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def for_person(session: Session, person_id: int, limit: int = 100) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.recipient_id == person_id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def mark_read(session: Session, person_id: int, now: datetime, notification_id: int | None = None) -> int:
    """Mark one (or, without an id, every) unread notification of the person read."""
    query = update(Notification).where(Notification.recipient_id == person_id, Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    result = session.execute(query.values(read_at=now).execution_options(synchronize_session=False))
    return result.rowcount or 0


def _preference(session: Session, person: Person) -> NotificationPreference:
    pref = session.get(NotificationPreference, person.id)
    if pref is None:
        pref = NotificationPreference(person_id=person.id, organisation_id=person.organisation_id, email="immediate")
        session.add(pref)
    return pref


def email_mode(session: Session, person_id: int) -> str:
    query = select(NotificationPreference.email).where(NotificationPreference.person_id == person_id)
    return session.scalar(query) or "immediate"


def set_email_mode(session: Session, person: Person, mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown e-mail mode {mode!r}")
    _preference(session, person).email = mode
    session.flush()


# -- the calendar feed --------------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_calendar_token(session: Session, person: Person, now: datetime) -> str:
    """A new secret calendar link (the old one stops working). Only the hash is stored."""
    token = secrets.token_urlsafe(32)
    pref = _preference(session, person)
    pref.calendar_token_sha256 = _digest(token)
    pref.calendar_token_created_at = now
    session.flush()
    return token


def has_calendar(session: Session, person_id: int) -> bool:
    return (
        session.scalar(
            select(NotificationPreference.calendar_token_sha256).where(NotificationPreference.person_id == person_id)
        )
        is not None
    )


def _ics_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r", "").replace("\n", "\\n")
    )


def _fold(line: str) -> list[str]:
    """RFC 5545 §3.1: lines longer than 75 octets are folded (CRLF + one space)."""
    out, current = [], b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current.decode())
            current = b""
        current += encoded
    out.append(current.decode())
    return [out[0], *(" " + part for part in out[1:])]


CALENDAR_TEXT = {
    "fi": {"expires": "Valtuus päättyy: {code}", "review": "Tarkastelu erääntyy", "name": "Valtuushallinta"},
    "sv": {"expires": "Fullmakten upphör: {code}", "review": "Granskningen förfaller", "name": "Valtuushallinta"},
    "en": {"expires": "Authorization ends: {code}", "review": "Review due", "name": "Valtuushallinta"},
}


def calendar_feed(session: Session, token: str, now: datetime, base_url: str = "") -> str | None:
    """The person's upcoming expiries and review deadlines as iCalendar, or None for an unknown token."""
    if not token:
        return None
    person = session.scalars(
        select(Person)
        .join(NotificationPreference, NotificationPreference.person_id == Person.id)
        .where(NotificationPreference.calendar_token_sha256 == _digest(token), Person.active.is_(True))
    ).one_or_none()
    if person is None:
        return None
    words = CALENDAR_TEXT.get(person.language, CALENDAR_TEXT["fi"])
    today = now.astimezone(FINNISH_TIME).date()
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    base = base_url.rstrip("/")
    events = []
    for auth_id, valid_until, key in session.execute(
        select(Authorization.id, Authorization.valid_until, AuthorizationCode.key)
        .join(AuthorizationCode, AuthorizationCode.id == Authorization.code_id)
        .where(
            Authorization.holder_id == person.id,
            Authorization.status == AuthorizationStatus.ACTIVE.value,
            Authorization.valid_until >= today,
        )
        .order_by(Authorization.valid_until, Authorization.id)
    ):
        summary = words["expires"].format(code=key)
        events.append((f"authorization-{auth_id}", valid_until, summary, "/authorizations/mine"))
    for task_id, opened_at, due_at in session.execute(
        select(HumanTask.id, HumanTask.created_at, HumanTask.due_at)
        .join(HumanTaskOwner, HumanTaskOwner.task_id == HumanTask.id)
        .where(
            HumanTaskOwner.person_id == person.id,
            HumanTask.status == TaskStatus.READY.value,
            HumanTask.bpmn_id == REVIEW_TASK,
        )
        .order_by(HumanTask.created_at)
    ):
        due = due_at or _review_deadline(session, person.organisation_id, opened_at)
        events.append((f"review-{task_id}", due.astimezone(FINNISH_TIME).date(), words["review"], "/reviews"))
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Valtuushallinta//notifications//FI",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{_ics_text(words['name'])}",
    ]
    for uid, day, summary, path in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}@valtuushallinta",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{day.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{(day + timedelta(days=1)).strftime('%Y%m%d')}",
            f"SUMMARY:{_ics_text(summary)}",
            *([f"URL:{base}{path}"] if base else []),
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(folded + "\r\n" for line in lines for folded in _fold(line))


