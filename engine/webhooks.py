"""Outgoing webhooks: an IAM system follows the registry through signed POSTs of its events.

Every registry event (an audit event ``authorization.*``) of an organisation with active endpoints is written as
a delivery row per endpoint **in the event's own transaction** (:func:`enqueue`, called by engine.audit), with a
snapshot of the authorization as it is at that moment. The worker delivers them (engine.webhook_delivery): per
endpoint strictly in order, one POST per event, signed with the endpoint's secret (header ``Valtuus-Signature:
t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``). A receiver that does not answer 2xx gets the event again
after 1, 2, 4 … minutes (at most 6 hours between tries); after MAX_ATTEMPTS the delivery is marked failed, shown
to the pääkäyttäjä (who may send it again) and the endpoint's later events go on. A crash between a receiver's
2xx and the row being marked sent repeats that event: receivers deduplicate by ``Valtuus-Event-Id``.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from .errors import NotFoundError
from .models import Authorization, AuthorizationCode, Organisation, Person, Unit
from .models.webhooks import WebhookDelivery, WebhookEndpoint

EVENT_PREFIX = "authorization."


class WebhookUrlError(ValueError):
    """An endpoint URL that cannot be used; ``reason`` is one of: scheme, host, credentials, length."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check_url(url: str, *, allow_http: bool = False) -> str:
    """Only absolute https URLs (http only where the installation allows it), no user:password part."""
    url = (url or "").strip()
    if len(url) > 500:
        raise WebhookUrlError("length")
    parts = urlsplit(url)
    if parts.scheme not in (("https", "http") if allow_http else ("https",)):
        raise WebhookUrlError("scheme")
    if parts.username or parts.password:
        raise WebhookUrlError("credentials")
    if not parts.hostname or any(c.isspace() for c in url):
        raise WebhookUrlError("host")
    return url


# -- endpoints (the pääkäyttäjä's page) -----------------------------------------------------------------------


def create_endpoint(
    session: Session,
    organisation_id: int,
    url: str,
    description: str,
    *,
    created_by: int | None,
    now: datetime,
    allow_http: bool = False,
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its signing secret (the caller shows the secret once)."""
    row = WebhookEndpoint(
        organisation_id=organisation_id,
        url=check_url(url, allow_http=allow_http),
        description=(description or "").strip()[:200],
        secret=secrets.token_hex(32),
        active=True,
        created_by_id=created_by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    _audit(session, row, "webhook.created", created_by, now)
    return row, row.secret


def endpoint(session: Session, organisation_id: int, endpoint_id: int, *, lock: bool = False) -> WebhookEndpoint:
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.organisation_id == organisation_id
    )
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFoundError("webhook endpoint not found")
    return row


def rotate_secret(session: Session, organisation_id: int, endpoint_id: int, *, actor_id: int, now: datetime) -> str:
    row = endpoint(session, organisation_id, endpoint_id, lock=True)
    row.secret, row.secret_rotated_at = secrets.token_hex(32), now
    _audit(session, row, "webhook.secret_rotated", actor_id, now)
    return row.secret


def set_active(session: Session, organisation_id: int, endpoint_id: int, active: bool, *, actor_id, now) -> None:
    """A paused endpoint gets no new events (they are not queued for it) until it is resumed."""
    row = endpoint(session, organisation_id, endpoint_id, lock=True)
    row.active = active
    _audit(session, row, "webhook.resumed" if active else "webhook.paused", actor_id, now)


def delete_endpoint(session: Session, organisation_id: int, endpoint_id: int, *, actor_id, now) -> None:
    row = endpoint(session, organisation_id, endpoint_id, lock=True)
    _audit(session, row, "webhook.deleted", actor_id, now)
    session.execute(WebhookDelivery.__table__.delete().where(WebhookDelivery.endpoint_id == row.id))
    session.delete(row)


def _audit(session: Session, row: WebhookEndpoint, action: str, actor_id, now: datetime) -> None:
    from . import audit  # (audit imports this module to queue events)

    audit.record(session, row.organisation_id, action, actor_id=actor_id, details={"url": row.url}, at=now)


def endpoints(session: Session, organisation_id: int) -> list[dict]:
    """The organisation's endpoints with their pending and failed counts and last successful delivery."""
    rows = list(
        session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organisation_id == organisation_id)
            .order_by(WebhookEndpoint.id)
        )
    )
    stats = {
        (endpoint_id, status): (count, last)
        for endpoint_id, status, count, last in session.execute(
            select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count(), func.max(WebhookDelivery.sent_at))
            .where(WebhookDelivery.organisation_id == organisation_id)
            .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)
        )
    }
    return [
        {
            "endpoint": row,
            "pending": stats.get((row.id, "pending"), (0, None))[0],
            "failed": stats.get((row.id, "failed"), (0, None))[0],
            "last_sent_at": stats.get((row.id, "sent"), (0, None))[1],
        }
        for row in rows
    ]


def deliveries(session: Session, organisation_id: int, endpoint_id: int, limit: int = 50) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, failed ones first."""
    endpoint(session, organisation_id, endpoint_id)
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by((WebhookDelivery.status == "failed").desc(), WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def send_again(session: Session, organisation_id: int, delivery_id: int, now: datetime) -> bool:
    """Put a failed delivery back in its place in the line (its endpoint's events go out in the order they happened)."""
    row = session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.organisation_id == organisation_id)
        .with_for_update()
    )
    if row is None or row.status != "failed":
        return False
    row.status, row.attempts, row.next_attempt_at, row.last_error = "pending", 0, now, ""
    return True


def ping(session: Session, organisation_id: int, endpoint_id: int, now: datetime) -> str:
    """Queue a ``ping`` event for one endpoint, so the receiver's set-up can be tried. Returns the event id."""
    row = endpoint(session, organisation_id, endpoint_id)
    event_id = str(uuid.uuid4())
    body = {"id": event_id, "type": "ping", "occurred_at": now.isoformat(), "organisation": _org_key(session, row)}
    session.add(
        WebhookDelivery(
            organisation_id=organisation_id,
            endpoint_id=row.id,
            event_id=event_id,
            event_type="ping",
            payload=body,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return event_id


def _org_key(session: Session, row: WebhookEndpoint) -> str:
    return session.scalar(select(Organisation.key).where(Organisation.id == row.organisation_id)) or ""


# -- queueing in the event's transaction ------------------------------------------------------------------------


def enqueue(session: Session, organisation_id: int, events: list[dict]) -> int:
    """Queue the registry events among ``events`` (audit event dicts) for every active endpoint of the
    organisation. Costs one indexed query when the organisation has no endpoints."""
    events = [e for e in events if e.get("authorization_id") and e["action"].startswith(EVENT_PREFIX)]
    if not events:
        return 0
    targets = _active_endpoints(session, organisation_id)
    if not targets:
        return 0
    session.flush()  # the snapshot must show this transaction's own changes (write sessions do not autoflush)
    org_key = session.scalar(select(Organisation.key).where(Organisation.id == organisation_id)) or ""
    snapshots = _snapshots(session, {e["authorization_id"] for e in events})
    rows = []
    for event in events:
        event_id, at = str(uuid.uuid4()), event["at"]
        body = {
            "id": event_id,
            "type": event["action"],
            "occurred_at": at.isoformat(),
            "organisation": org_key,
            "actor_id": event.get("actor_id"),
            "authorization": snapshots.get(event["authorization_id"], {"id": event["authorization_id"]}),
            "details": event.get("details") or {},
        }
        rows += [
            {
                "organisation_id": organisation_id,
                "endpoint_id": endpoint_id,
                "event_id": event_id,
                "event_type": event["action"][:64],
                "payload": body,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": at,
                "last_error": "",
                "created_at": at,
            }
            for endpoint_id in targets
        ]
    session.execute(insert(WebhookDelivery), rows)
    return len(rows)


def _active_endpoints(session: Session, organisation_id: int) -> list[int]:
    key = ("valtuus.webhook_endpoints", organisation_id)  # once per transaction (an import audits 10,000 rows)
    if key not in session.info:
        session.info[key] = list(
            session.scalars(
                select(WebhookEndpoint.id).where(
                    WebhookEndpoint.organisation_id == organisation_id, WebhookEndpoint.active.is_(True)
                )
            )
        )
    return session.info[key]


def _snapshots(session: Session, ids: set[int]) -> dict[int, dict]:
    out: dict[int, dict] = {}
    id_list = sorted(ids)
    for start in range(0, len(id_list), 1000):
        query = (
            select(Authorization, Person.email, Person.name, Unit.key, AuthorizationCode.key)
            .join(Person, Person.id == Authorization.holder_id)
            .join(AuthorizationCode, AuthorizationCode.id == Authorization.code_id)
            .outerjoin(Unit, Unit.id == Authorization.unit_id)
            .where(Authorization.id.in_(id_list[start : start + 1000]))
        )
        for a, email, name, unit_key, code_key in session.execute(query):
            out[a.id] = {
                "id": a.id,
                "status": a.status,
                "holder": {"id": a.holder_id, "email": email, "name": name},
                "unit": unit_key,
                "code": code_key,
                "mandate_type": a.mandate_type,
                "valid_from": _iso(a.valid_from),
                "valid_until": _iso(a.valid_until),
                "registered_on": _iso(a.registered_on),
                "next_review_on": _iso(a.next_review_on),
            }
    return out


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def failed_count(session: Session, organisation_id: int) -> int:
    return session.scalar(
        select(func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.organisation_id == organisation_id, WebhookDelivery.status == "failed")
    )
