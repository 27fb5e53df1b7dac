"""Scheduler benchmark: prints figures only (see bench/README.md).

With N waiting process instances (one real tests/processes/timer_end instance started through the host, its row
copied N-1 times with Core inserts, timers spread up to a year ahead) and M active authorizations, times a sweep
with nothing due (host.fire_due_timers and scheduler.tick), advancing 1,000 due instances, and opening the review
rounds of every active authorization at once (review.open_due_rounds). SQLite file by default, PostgreSQL with
--database-url (its public schema is dropped!).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, update

from engine import hr_events, lifecycle, migrate, review, scheduler
from engine.clock import local_date
from engine.config import Settings, normalise_database_url
from engine.db import Database
from engine.demo import load_demo
from engine.models import Authorization, AuthorizationCode, Person, ProcessInstance, ReviewItem, Unit
from engine.runtime import Host

warnings.filterwarnings("ignore", category=DeprecationWarning)

ROOT = Path(__file__).resolve().parent.parent
TARGET_EMPTY_MS = 10.0
TARGET_DUE_S = 3.0
TARGET_REVIEW_S = 120.0
CHUNK = 10_000


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def verdict(value: float, limit: float) -> str:
    return "met" if value <= limit else "NOT MET"


def setup(url: str, tmp: Path) -> tuple[Host, int]:
    db = Database(url)
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    migrate.upgrade(db.engine)
    processes = tmp / "processes"
    shutil.copytree(ROOT / "processes", processes)
    shutil.copytree(ROOT / "tests/processes/timer_end", processes / "timer_end")
    settings = Settings(database_url=url, processes_dir=processes)
    host = Host(settings, db=db)
    with db.unit_of_work() as s:
        org_id = load_demo(s, settings.demo_file, settings.codes_file).id
    host.load_processes()
    return host, org_id


def waiting_instances(host: Host, org_id: int, n: int, now: datetime, rng: random.Random) -> None:
    first = host.start_system_process("timer_end", org_id)
    with host.db.unit_of_work() as s:
        row = s.execute(select(ProcessInstance.__table__).where(ProcessInstance.id == first)).mappings().one()
        template = {k: v for k, v in row.items() if k != "id"}
        s.execute(
            update(ProcessInstance).where(ProcessInstance.id == first).values(next_timer_due=now + timedelta(days=1))
        )
    for start in range(1, n, CHUNK):
        batch = []
        for _ in range(min(CHUNK, n - start)):
            copy = dict(template)
            copy["next_timer_due"] = now + timedelta(seconds=rng.randint(3600, 365 * 86400))
            batch.append(copy)
        with host.db.unit_of_work() as s:
            s.execute(insert(ProcessInstance), batch)


def active_authorizations(host: Host, org_id: int, n: int, people: int, today, rng: random.Random) -> None:
    """Active authorizations of ``people`` bench people spread over the demo units: none ends within the renewal
    window and none is due for review, so a sweep finds nothing to do."""
    with host.db.unit_of_work() as s:
        units = list(s.scalars(select(Unit.id).where(Unit.organisation_id == org_id)))
        s.execute(
            insert(Person),
            [
                {"organisation_id": org_id, "email": f"ajastin{i}@bench.example", "name": f"Ajastin Henkilö {i}",
                 "unit_id": rng.choice(units), "language": "fi", "title": {}, "demo_note": {}, "active": True}
                for i in range(people)
            ],
        )
        holders = s.execute(select(Person.id, Person.name, Person.unit_id).where(
            Person.email.like("%@bench.example"))).all()
        codes = list(s.scalars(select(AuthorizationCode.id).where(AuthorizationCode.organisation_id == org_id)))
    now = datetime.now(UTC)
    for start in range(0, n, CHUNK):
        batch = []
        for _ in range(min(CHUNK, n - start)):
            holder = rng.choice(holders)
            registered = today - timedelta(days=rng.randint(0, 300))
            batch.append({
                "organisation_id": org_id, "holder_id": holder.id, "holder_name": holder.name,
                "unit_id": holder.unit_id, "code_id": rng.choice(codes), "status": "active",
                "mandate_type": "transaction", "valid_from": registered,
                "valid_until": today + timedelta(days=rng.randint(100, 1500)), "justification": "bench",
                "registered_on": registered, "next_review_on": today + timedelta(days=rng.randint(60, 365)),
                "source": "import", "closing_reason": "", "notes": "", "created_at": now, "updated_at": now,
            })
        with host.db.unit_of_work() as s:
            s.execute(insert(Authorization), batch)


def timed(fn, runs: int) -> list[float]:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000, help="waiting process instances")
    parser.add_argument("--due", type=int, default=1_000, help="instances made due for the second figure")
    parser.add_argument("--authorizations", type=int, default=100_000, help="active authorizations")
    parser.add_argument("--people", type=int, default=20_000, help="holders of the authorizations")
    parser.add_argument("--runs", type=int, default=50, help="timed sweeps with nothing due")
    parser.add_argument("--quick", action="store_true", help="10,000 instances and authorizations, 20 runs")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="e.g. postgresql://postgres@127.0.0.1:5432/bench_timers (its schema is DROPPED)")
    args = parser.parse_args()
    if args.quick:
        args.instances, args.authorizations, args.people, args.runs = 10_000, 10_000, 2_000, 20
    rng = random.Random(20261122)

    with tempfile.TemporaryDirectory(prefix="valtuus-timers-") as tmp:
        url = normalise_database_url(args.database_url) if args.database_url else f"sqlite:///{tmp}/timers.sqlite3"
        host, org_id = setup(url, Path(tmp))
        now = datetime.now(UTC)
        today = local_date(now)
        print(f"Scheduler: {args.instances:,} waiting instances, {args.authorizations:,} active authorizations")
        print(f"Machine: Python {platform.python_version()} ({platform.machine()}, {os.cpu_count()} CPUs), "
              f"database {host.db.engine.dialect.name}")

        t0 = time.perf_counter()
        waiting_instances(host, org_id, args.instances, now, rng)
        active_authorizations(host, org_id, args.authorizations, args.people, today, rng)
        host.db.optimize()
        print(f"built in {time.perf_counter() - t0:.1f} s")
        scheduler.tick(host, now)  # settle: nothing should be due; the calendar parts ran once

        print(f"\n1. Sweep with nothing due ({args.runs} runs):")
        fire = timed(lambda: host.fire_due_timers(now), args.runs)
        tick = timed(lambda: scheduler.tick(host, now), args.runs)
        for label, values in (("host.fire_due_timers", fire), ("scheduler.tick", tick)):
            print(f"  {label:<34} median {statistics.median(values):7.2f} ms   p95 {p95(values):7.2f} ms   "
                  f"target ≤ {TARGET_EMPTY_MS:g} ms: {verdict(p95(values), TARGET_EMPTY_MS)}")
        print("  calendar parts (first sweep of a host, a new day, then hourly; valtuus tick always):")
        for label, fn in (
            ("scheduler.tick(force=True)", lambda: scheduler.tick(host, now, force=True)),
            ("  lifecycle.expire_and_offer", lambda: lifecycle.expire_and_offer(host, now)),
            ("  review.open_due_rounds", lambda: review.open_due_rounds(host, now)),
            ("  hr_events.deactivate_leavers", lambda: hr_events.deactivate_leavers(host, now)),
        ):
            values = timed(fn, max(5, args.runs // 5))
            print(f"  {label:<34} median {statistics.median(values):7.2f} ms   p95 {p95(values):7.2f} ms")

        with host.db.unit_of_work() as s:
            ids = list(s.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id).limit(args.due)))
            s.execute(update(ProcessInstance).where(ProcessInstance.id.in_(ids))
                      .values(next_timer_due=now - timedelta(seconds=1)))
        t0 = time.perf_counter()
        fired = scheduler.fire_timers(host, now)
        elapsed = time.perf_counter() - t0
        print(f"\n2. {fired:,} due instances advanced (each its own transaction): {elapsed:.2f} s "
              f"({elapsed / max(fired, 1) * 1000:.2f} ms each)   target ≤ {TARGET_DUE_S:g} s: "
              f"{verdict(elapsed, TARGET_DUE_S)}")

        with host.db.unit_of_work() as s:
            s.execute(update(Authorization).where(Authorization.status == "active").values(next_review_on=today))
        host.db.optimize()
        t0 = time.perf_counter()
        try:
            rounds = review.open_due_rounds(host, now)
        except NotImplementedError:
            rounds = None
        elapsed = time.perf_counter() - t0
        with host.db.reader() as s:
            items = s.scalar(select(func.count()).select_from(ReviewItem))
        if not rounds and not items:
            print("\n3. Review round for every active authorization: not built (review.open_due_rounds opened "
                  "nothing)")
        else:
            print(f"\n3. Review rounds for {args.authorizations:,} active authorizations: {rounds:,} rounds, "
                  f"{items:,} items in {elapsed:.1f} s   target ≤ {TARGET_REVIEW_S:g} s: "
                  f"{verdict(elapsed, TARGET_REVIEW_S)}")
        host.db.dispose()


if __name__ == "__main__":
    main()
