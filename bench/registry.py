"""Registry benchmark: prints figures only (see bench/README.md).

With N authorizations and M people in a migrated database (SQLite file by default, PostgreSQL with
--database-url), times the registry page with typical filters and the summary page through Flask's test
client (server time: routing, scope, queries and rendering), and the import of a 10,000-row XLSX
(plan + apply, as `valtuus import` does it).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from engine import importer, migrate, tabular
from engine.config import Settings, normalise_database_url
from engine.db import Database
from engine.demo import load_demo
from engine.models import Authorization, AuthorizationCode, Organisation, Person, Unit
from engine.registry import next_review_date
from engine.runtime import Host
from web import create_app

warnings.filterwarnings("ignore", category=DeprecationWarning)

TARGET_PAGE_P95_MS = 150.0
TARGET_IMPORT_S = 10.0
STATUSES = ["active"] * 14 + ["expired"] * 3 + ["revoked", "requested", "rejected"]


def build(db: Database, settings: Settings, authorizations: int, people: int, units: int) -> dict:
    """The demo organisation grown to the wanted size with Core bulk inserts (deterministic)."""
    rng = random.Random(20261122)
    with db.unit_of_work() as s:
        org = load_demo(s, settings.demo_file, settings.codes_file)
        org_id = org.id
        root = s.scalar(select(Unit.id).where(Unit.organisation_id == org_id, Unit.parent_id.is_(None)))
    with db.unit_of_work() as s:
        s.execute(
            insert(Unit),
            [
                {"organisation_id": org_id, "key": f"bench-{i}", "name": {"fi": f"Yksikkö {i}", "sv": f"Enhet {i}"},
                 "parent_id": root}
                for i in range(units)
            ],
        )
        unit_ids = list(s.scalars(select(Unit.id).where(Unit.key.like("bench-%"))))
        first = ["Aino", "Eero", "Helmi", "Ilmari", "Johanna", "Kalle", "Linnea", "Mikael", "Noora", "Otto", "Saga"]
        last = ["Virtanen", "Korhonen", "Nieminen", "Mäkinen", "Hämäläinen", "Lindholm", "Söderberg", "Åberg"]
        batch = []
        for i in range(people):
            batch.append({
                "organisation_id": org_id, "email": f"henkilo{i}@bench.example",
                "name": f"{rng.choice(first)} {rng.choice(last)} {i}", "unit_id": rng.choice(unit_ids),
                "language": "fi", "title": {}, "demo_note": {}, "active": True,
            })
        s.execute(insert(Person), batch)
        holders = s.execute(
            select(Person.id, Person.name, Person.unit_id).where(Person.email.like("%@bench.example"))
        ).all()
        code_ids = list(s.scalars(select(AuthorizationCode.id).where(AuthorizationCode.organisation_id == org_id)))
    today = date.today()
    now = datetime.now(UTC)
    for start in range(0, authorizations, 10_000):
        rows = []
        for _ in range(min(10_000, authorizations - start)):
            status = rng.choice(STATUSES)
            valid_from = today - timedelta(days=rng.randint(0, 1500))
            valid_until = None if rng.random() < 0.03 else valid_from + timedelta(days=rng.randint(180, 1500))
            row = Authorization(status=status, valid_from=valid_from, valid_until=valid_until,
                                registered_on=valid_from)
            holder = rng.choice(holders)
            rows.append({
                "organisation_id": org_id, "holder_id": holder.id, "holder_name": holder.name,
                "unit_id": holder.unit_id, "code_id": rng.choice(code_ids),
                "status": status, "mandate_type": "transaction", "valid_from": valid_from,
                "valid_until": valid_until, "registered_on": valid_from, "justification": "", "closing_reason": "",
                "notes": "", "source": "import", "next_review_on": next_review_date(row, 12),
                "created_at": now, "updated_at": now,
            })
        with db.unit_of_work() as s:
            s.execute(insert(Authorization), rows)
    with db.unit_of_work() as s:
        admin = s.scalar(select(Person.id).where(Person.email == "admin@merilahti.example"))
        director = s.scalar(select(Person.id).where(Person.email == "director@merilahti.example"))
        busy_unit = s.scalar(
            select(Person.unit_id).join(Authorization, Authorization.holder_id == Person.id)
            .where(Person.unit_id.in_(unit_ids)).group_by(Person.unit_id).order_by(func.count().desc()).limit(1)
        )
        s.execute(Organisation.__table__.update().where(Organisation.id == org_id).values(settings={}))
    db.optimize()  # as `valtuus import` and the worker do
    return {"org_id": org_id, "admin": admin, "director": director, "unit": busy_unit, "codes": code_ids}


def timed_get(client, path: str, runs: int) -> list[float]:
    client.get(path)  # warm caches and templates
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def import_file(db: Database, org_id: int, rows: int) -> tuple[float, float, dict]:
    """A 10,000-row XLSX of new authorizations for existing people; plan and apply timed separately."""
    rng = random.Random(7)
    with db.reader() as s:
        people = s.execute(select(Person.name, Person.email).where(Person.email.like("%@bench.example"))).all()
        codes = [c.name["fi"] for c in s.scalars(select(AuthorizationCode))]
    seen, table = set(), []
    while len(table) < rows:
        name, email = rng.choice(people)
        code = rng.choice(codes)
        if (email, code) in seen:
            continue
        seen.add((email, code))
        start = date.today() - timedelta(days=rng.randint(0, 700))
        table.append([name, f" {email.upper()} ", "", code, "asiointivaltuus", start,
                      start + timedelta(days=rng.randint(400, 1400)), "voimassa", None, ""])
    data = tabular.write_xlsx(list(importer.EXPORT_HEADERS), table, title="Valtuudet")
    started = time.perf_counter()
    with db.unit_of_work() as s:
        plan = importer.plan_import(s, org_id, data, "bench.xlsx", today=date.today())
        planned = time.perf_counter() - started
        importer.apply_import(s, org_id, plan, actor_id=None, skip_invalid=True, now=datetime.now(UTC))
    total = time.perf_counter() - started
    return planned, total, dict(plan.counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authorizations", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--units", type=int, default=60)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="e.g. postgresql://postgres@127.0.0.1:5432/bench (its schema is dropped!)")
    parser.add_argument("--quick", action="store_true", help="10,000 authorizations, 2,000 people, 1,000 rows")
    args = parser.parse_args()
    if args.quick:
        args.authorizations, args.people, args.import_rows, args.runs = 10_000, 2_000, 1_000, 10

    with tempfile.TemporaryDirectory() as tmp:
        url = normalise_database_url(args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        settings = Settings(database_url=url)
        db = Database(url)
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        migrate.upgrade(db.engine)
        started = time.perf_counter()
        ctx = build(db, settings, args.authorizations, args.people, args.units)
        with db.reader() as s:
            count = s.scalar(select(func.count(Authorization.id)))
        print(f"database: {db.engine.dialect.name}; {count:,} authorizations, {args.people:,} people, "
              f"{args.units} units (built in {time.perf_counter() - started:.1f} s)")

        host = Host(settings, db=db)
        app = create_app({"TESTING": True, "SECRET_KEY": "bench", "VALTUUS_HOST": host, "DEMO_SIGN_IN": True,
                          "WTF_CSRF_ENABLED": False})
        pages = [
            ("admin", "registry, unit + active, by holder", f"/authorizations?unit={ctx['unit']}&status=active"),
            ("admin", "registry, expiring in 90 days, by end", "/authorizations?expiring=90&sort=valid_until"),
            ("admin", "registry, search 'virtanen', page 3", "/authorizations?q=virtanen&page=3"),
            ("admin", "registry, everything, by unit, last page", "/authorizations?sort=unit&page=2000"),
            ("admin", "summary, whole organisation", "/overview"),
            ("director", "registry, director's units", "/authorizations"),
            ("director", "summary, director's units", "/overview"),
        ]
        print(f"\nserver time per page, {args.runs} runs (target p95 ≤ {TARGET_PAGE_P95_MS:g} ms)")
        print(f"{'page':45} {'median ms':>10} {'p95 ms':>8}  target")
        for who, label, path in pages:
            client = app.test_client()
            with client.session_transaction() as sess:
                sess["person_id"] = ctx[who]
            times = timed_get(client, path, args.runs)
            mark = "met" if p95(times) <= TARGET_PAGE_P95_MS else "NOT met"
            print(f"{label:45} {statistics.median(times):10.1f} {p95(times):8.1f}  {mark}")

        planned, total, counts = import_file(db, ctx["org_id"], args.import_rows)
        mark = "met" if total <= TARGET_IMPORT_S else "NOT met"
        print(f"\nimport of a {args.import_rows:,}-row XLSX: plan {planned:.2f} s, plan + apply {total:.2f} s "
              f"(target ≤ {TARGET_IMPORT_S:g} s: {mark}); {counts}")
        db.dispose()


if __name__ == "__main__":
    main()
