"""Outbox delivery benchmark: prints figures only (see bench/README.md).

Writes N notifications (one outbox row each, to the demo people in turn, through ``notifications.notify`` in
batches of 500 per transaction) into a migrated database with the demo organisation, then times
``notifications.deliver`` sending all of them to a local aiosmtpd server on 127.0.0.1 (rendering in each
recipient's language, multipart text + HTML, ``BATCH`` messages per claiming transaction and SMTP connection).
SQLite file by default, PostgreSQL with --database-url (its public schema is dropped!).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import socket
import tempfile
import time
import warnings
from datetime import UTC, datetime

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from engine import migrate, notifications
from engine.config import Settings, normalise_database_url
from engine.db import Database
from engine.demo import load_demo
from engine.models import OutboxMessage, Person

warnings.filterwarnings("ignore", category=DeprecationWarning)


class Counter:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 – aiosmtpd's hook
        self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="messages (default 2,000)")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (its public schema is dropped)")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="bench-notify-")
    url = normalise_database_url(args.database_url) if args.database_url else f"sqlite:///{tmp}/bench.sqlite3"
    db = Database(url)
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    migrate.upgrade(db.engine)
    base = Settings(database_url=url)
    with db.unit_of_work() as s:
        load_demo(s, base.demo_file, base.codes_file)

    port = free_port()
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    settings = dataclasses.replace(base, smtp_host="127.0.0.1", smtp_port=port, base_url="https://valtuus.example")
    now = datetime.now(UTC)
    try:
        with db.reader() as s:
            people = s.execute(select(Person.id, Person.organisation_id).order_by(Person.id)).all()
        started = time.perf_counter()
        for first in range(0, args.n, 500):
            with db.unit_of_work() as s:
                for i in range(first, min(first + 500, args.n)):
                    person, org = people[i % len(people)]
                    context = {"task_id": str(i), "task": {"fi": "Puolla", "sv": "Tillstyrk", "en": "Endorse"},
                               "path": f"/tasks/{i}"}
                    notifications.notify(s, org, [person], "task_waiting", context, now=now)
        written = time.perf_counter() - started

        started = time.perf_counter()
        counts = notifications.deliver(db, settings, now, limit=args.n + 1)
        elapsed = time.perf_counter() - started
        with db.reader() as s:
            left = s.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status != "sent"))
    finally:
        controller.stop()
        db.dispose()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"Outbox delivery – {platform.python_implementation()} {platform.python_version()}, "
          f"{db.engine.dialect.name}, {os.cpu_count()} CPU(s)")
    print(f"  written: {args.n} notifications + outbox rows in {written:.2f} s ({args.n / written:,.0f}/s)")
    print(f"  sent:    {counts['sent']} messages in {elapsed:.2f} s = {counts['sent'] / elapsed:,.0f} messages/s "
          f"(server received {counter.count}; not sent: {left}; batch {notifications.BATCH} per connection)")


if __name__ == "__main__":
    main()
