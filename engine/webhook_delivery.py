"""Delivering the queued webhook events (the worker's part; queueing is in engine.webhooks).

Per endpoint strictly in order, one POST per event, signed with the endpoint's secret (header ``Valtuus-Signature:
t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``). A receiver that does not answer 2xx gets the event again after
1, 2, 4 … minutes (at most 6 hours between tries) and the events behind it wait; after MAX_ATTEMPTS the delivery is
failed, shown to the pääkäyttäjä, and the line goes on. No database lock is held while a receiver answers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from .models.webhooks import WebhookDelivery, WebhookEndpoint

log = logging.getLogger("valtuus.webhooks")

SIGNATURE_HEADER = "Valtuus-Signature"
MAX_ATTEMPTS = 12  # about 20 hours of retries
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=6)
TIMEOUT_SECONDS = 10
PER_ENDPOINT = 100  # events per endpoint per sweep (the next sweep goes on)
LEASE = timedelta(minutes=2)  # renewed after every event; a crashed worker's lease runs out
USER_AGENT = "Valtuushallinta-webhooks/1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, now: datetime, tolerance: int = 300) -> bool:
    """What a receiver does (documented in docs/webhookit.md): recompute the HMAC, compare in constant time and
    refuse old timestamps, so a captured request cannot be replayed later."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now.timestamp() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


def backoff(attempts: int) -> timedelta:
    return min(FIRST_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is an answer that is not 2xx: tried again later
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(url: str, secret: str, delivery: WebhookDelivery, now: datetime) -> tuple[int | None, str]:
    """POST one event; returns (HTTP status or None, error text – empty on 2xx)."""
    body = json.dumps(delivery.payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    for name, value in (
        ("Content-Type", "application/json; charset=utf-8"),
        ("User-Agent", USER_AGENT),
        ("Valtuus-Event-Id", delivery.event_id),
        ("Valtuus-Event-Type", delivery.event_type),
        (SIGNATURE_HEADER, sign(secret, int(now.timestamp()), body)),
    ):
        request.add_header(name, value)
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, "" if 200 <= response.status < 300 else f"HTTP {response.status}"
    except urllib.error.HTTPError as err:
        return err.code, f"HTTP {err.code} {err.reason}"[:500]
    except (urllib.error.URLError, OSError, ValueError) as err:
        return None, f"{type(err).__name__}: {getattr(err, 'reason', err)}"[:500]


def deliver(host_or_db, now: datetime, limit: int = 1000) -> dict:
    """Deliver due events of active endpoints. Each endpoint's line is leased by one worker at a time (a guarded
    UPDATE, so two workers never send one endpoint's events out of order) and every outcome is written in its own
    short transaction – no database lock is held while a receiver answers. Returns counts: sent, retrying, failed.
    """
    db = getattr(host_or_db, "db", host_or_db)
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    with db.reader() as s:
        due = list(
            s.scalars(
                select(WebhookDelivery.endpoint_id)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                    WebhookEndpoint.active.is_(True),
                )
                .distinct()
            )
        )
    for endpoint_id in due:
        budget = limit - sum(counts.values())
        if budget <= 0:
            break
        target = _lease(db, endpoint_id, now)
        if target is None:
            continue  # another worker has this line
        try:
            _deliver_line(db, target, now, min(PER_ENDPOINT, budget), counts)
        finally:
            with db.unit_of_work() as session:
                session.execute(
                    update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(lease_until=None)
                )
    return counts


def _lease(db, endpoint_id: int, now: datetime) -> tuple[int, str, str] | None:
    with db.unit_of_work() as session:
        claimed = session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.id == endpoint_id,
                WebhookEndpoint.active.is_(True),
                or_(WebhookEndpoint.lease_until.is_(None), WebhookEndpoint.lease_until < now),
            )
            .values(lease_until=now + LEASE)
        ).rowcount
        if claimed != 1:
            return None
        return session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.url, WebhookEndpoint.secret).where(
                WebhookEndpoint.id == endpoint_id
            )
        ).one()


def _deliver_line(db, target, now: datetime, limit: int, counts: dict) -> None:
    """The endpoint's pending events in order; the first that fails stops the line until its next try."""
    endpoint_id, url, secret = target
    with db.reader() as s:
        line = list(
            s.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
                .order_by(WebhookDelivery.id)
                .limit(limit)
            )
        )
    for delivery in line:
        if delivery.next_attempt_at > now:
            return  # the head of the line waits for its retry; the rest keep their order behind it
        status, error = post(url, secret, delivery, now)
        attempts = delivery.attempts + 1
        values = {"attempts": attempts, "last_status": status, "last_error": error}
        if not error:
            values.update(status="sent", sent_at=now)
            counts["sent"] += 1
        elif attempts >= MAX_ATTEMPTS:
            values.update(status="failed")
            counts["failed"] += 1
            log.warning("webhook %s: event %s failed for good: %s", endpoint_id, delivery.event_id, error)
        else:
            values.update(next_attempt_at=now + backoff(attempts))
            counts["retrying"] += 1
        with db.unit_of_work() as session:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == "pending")
                .values(**values)
            )
            session.execute(
                update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(lease_until=now + LEASE)
            )
        if error and attempts < MAX_ATTEMPTS:
            return
