"""Audit hash chain benchmark: prints figures only.

    .venv/bin/python bench/audit_chain.py [--quick]
    .venv/bin/python bench/audit_chain.py --database-url postgresql://postgres@127.0.0.1:5432/bench   # schema dropped!

1. One writer: median and p95 ms of a unit of work that records one event and commits (what every audited
   command adds for its audit), and of one that records 1,000 events at once (an import's record_many).
2. Writers at once on one organisation (the chain head serialises their commits): commits/s with 1, 4 and 8
   threads, each committing one event per transaction.
3. ``audit_verify.verify`` over the whole chain: events/s.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import threading
import time

from engine import audit, migrate
from engine.audit_verify import verify
from engine.config import Settings, normalise_database_url
from engine.db import Database
from engine.demo import load_demo


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def setup(url: str) -> tuple[Database, int]:
    db = Database(url)
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    migrate.upgrade(db.engine)
    settings = Settings(database_url=url)
    with db.unit_of_work() as s:
        org_id = load_demo(s, settings.demo_file, settings.codes_file).id
    return db, org_id


def one_writer(db: Database, org_id: int, runs: int, size: int) -> list[float]:
    times = []
    for i in range(runs):
        started = time.perf_counter()
        with db.unit_of_work() as s:
            audit.record_many(s, org_id, [{"action": "bench.event", "details": {"i": i, "j": j}} for j in range(size)])
        times.append((time.perf_counter() - started) * 1000)
    return times


def writers_at_once(db: Database, org_id: int, threads: int, each: int) -> float:
    def work(number: int) -> None:
        for i in range(each):
            with db.unit_of_work() as s:
                audit.record(s, org_id, "bench.concurrent", details={"writer": number, "i": i})

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return threads * each / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=300, help="timed single-event commits")
    ap.add_argument("--quick", action="store_true", help="fewer runs, for a smoke check")
    ap.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="e.g. postgresql://postgres@127.0.0.1:5432/bench (its schema is DROPPED)",
    )
    args = ap.parse_args()
    runs = 30 if args.quick else args.runs
    with tempfile.TemporaryDirectory(prefix="valtuus-audit-") as tmp:
        url = normalise_database_url(args.database_url) if args.database_url else f"sqlite:///{tmp}/audit.sqlite3"
        db, org_id = setup(url)
        print(f"Audit chain, database {db.engine.dialect.name}, {os.cpu_count()} CPUs")
        single = one_writer(db, org_id, runs, 1)
        print(f"1. one event per commit        median {statistics.median(single):7.2f} ms   p95 {p95(single):7.2f} ms")
        bulk = one_writer(db, org_id, max(3, runs // 30), 1000)
        print(f"   1,000 events per commit     median {statistics.median(bulk):7.2f} ms   p95 {p95(bulk):7.2f} ms")
        print("2. writers at once on one organisation (one event per commit):")
        for threads in (1, 4, 8):
            rate = writers_at_once(db, org_id, threads, max(10, runs // threads))
            print(f"   {threads} writer(s)                 {rate:8.0f} commits/s")
        with db.reader() as s:
            started = time.perf_counter()
            result = verify(s, org_id)
            took = time.perf_counter() - started
        state = "OK" if result.ok else f"BROKEN {result.problem}"
        print(f"3. verify {result.length:,} events: {took:.2f} s ({result.length / took:,.0f} events/s), {state}")
        db.dispose()


if __name__ == "__main__":
    main()
