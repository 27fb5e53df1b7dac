"""Outgoing webhooks benchmark: prints figures only (see bench/README.md).

1. The cost of queueing: N authorizations expire in one sweep (``lifecycle.expire_and_offer``: bulk update +
   one audit event each) without any webhook endpoint and again with one – the difference is what queueing the
   events (a snapshot of each authorization, one delivery row per endpoint) adds to the sweep.
2. Delivery: the N queued events POSTed, signed, to a local HTTP server on 127.0.0.1 (one event per request, in
   order, each outcome in its own transaction) – events per second.
SQLite file by default, PostgreSQL with --database-url (its public schema is dropped!).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import func, insert, select

from engine import lifecycle, migrate, webhook_delivery, webhooks
from engine.config import Settings, normalise_database_url
from engine.db import Database
from engine.demo import load_demo
from engine.models import Authorization, AuthorizationCode, Person
from engine.models.webhooks import WebhookDelivery


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_POST(self):  # noqa: N802 – the http.server API
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class Host:
    def __init__(self, db):
        self.db = db


def expiring(db, n: int) -> None:
    """N more active authorizations that ended yesterday, spread over the demo people and codes."""
    with db.unit_of_work() as s:
        people = s.execute(select(Person.id, Person.organisation_id, Person.name, Person.unit_id)).all()
        codes = list(s.scalars(select(AuthorizationCode.id)))
        yesterday = date.today() - timedelta(days=1)
        rows = [
            {
                "organisation_id": people[i % len(people)][1],
                "holder_id": people[i % len(people)][0],
                "holder_name": people[i % len(people)][2],
                "unit_id": people[i % len(people)][3],
                "code_id": codes[i % len(codes)],
                "status": "active",
                "mandate_type": "transaction",
                "valid_from": yesterday - timedelta(days=365),
                "valid_until": yesterday,
                "source": "import",
            }
            for i in range(n)
        ]
        for first in range(0, n, 5000):
            s.execute(insert(Authorization), rows[first : first + 5000])


def timed_expiry(db, n: int) -> float:
    expiring(db, n)
    started = time.perf_counter()
    result = lifecycle.expire_and_offer(Host(db), datetime.now(UTC))
    elapsed = time.perf_counter() - started
    assert result["expired"] == n, result
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="authorizations expiring = events (default 2,000)")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (its public schema is dropped)")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="bench-webhooks-")
    url = normalise_database_url(args.database_url) if args.database_url else f"sqlite:///{tmp}/bench.sqlite3"
    db = Database(url)
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    migrate.upgrade(db.engine)
    settings = Settings(database_url=url)
    with db.unit_of_work() as s:
        org_id = load_demo(s, settings.demo_file, settings.codes_file).id

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        without = timed_expiry(db, args.n)
        with db.unit_of_work() as s:
            webhooks.create_endpoint(
                s,
                org_id,
                f"http://127.0.0.1:{server.server_port}/hooks",
                "bench",
                created_by=None,
                now=datetime.now(UTC),
                allow_http=True,
            )
        with_endpoint = timed_expiry(db, args.n)
        with db.reader() as s:
            queued = s.scalar(select(func.count()).select_from(WebhookDelivery))
        started = time.perf_counter()
        sent = 0
        while sent < queued:
            got = webhook_delivery.deliver(Host(db), datetime.now(UTC), limit=10_000)["sent"]
            if not got:
                break
            sent += got
        elapsed = time.perf_counter() - started
    finally:
        server.shutdown()
    print(f"webhooks benchmark – {db.engine.dialect.name}, Python {platform.python_version()}, {platform.machine()}")
    print(f"expiry sweep of {args.n:,} authorizations without an endpoint: {without:.2f} s")
    print(
        f"the same with one endpoint (queues {queued:,} events):       {with_endpoint:.2f} s "
        f"(+{(with_endpoint - without) / args.n * 1000:.2f} ms per event)"
    )
    print(f"delivery of {sent:,} signed POSTs to 127.0.0.1: {elapsed:.2f} s = {sent / elapsed:,.0f} events/s")


if __name__ == "__main__":
    main()
