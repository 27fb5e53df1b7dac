"""Integration API benchmark: prints figures only (see bench/README.md).

With N authorizations in a migrated database (bench/registry.py's build(); SQLite file by default, PostgreSQL
with --database-url), times GET /api/v1/authorizations through Flask's test client (server time: token check,
rate limit, filters, keyset page, serialisation and the api.call audit row), for the first page, a page deep
in the cursor walk and typical filters, and walks the whole registry by cursor once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from sqlalchemy import func, select

from engine import api_tokens, migrate
from engine.config import Settings, normalise_database_url
from engine.db import Database
from engine.models import Authorization
from engine.runtime import Host
from web import create_app

try:
    from .registry import build, p95
except ImportError:  # run as a script: bench/ is on sys.path
    from registry import build, p95

TARGET_P95_MS = 100.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authorizations", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--units", type=int, default=60)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--quick", action="store_true", help="10,000 authorizations, 2,000 people")
    args = parser.parse_args()
    if args.quick:
        args.authorizations, args.people, args.runs = 10_000, 2_000, 10
    warnings.simplefilter("ignore")

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
            middle = s.scalar(select(Authorization.id).order_by(Authorization.id).offset(count // 2).limit(1))
        print(f"database: {db.engine.dialect.name}; {count:,} authorizations, {args.people:,} people "
              f"(built in {time.perf_counter() - started:.1f} s)")
        with db.unit_of_work() as s:
            _row, secret = api_tokens.create(s, ctx["org_id"], "bench", ["read"], created_by=None,
                                             now=Host(settings, db=db).clock())
        app = create_app({"TESTING": True, "SECRET_KEY": "bench", "VALTUUS_HOST": Host(settings, db=db),
                          "API_RATE_LIMIT": 10**9})
        client = app.test_client()
        headers = {"Authorization": f"Bearer {secret}"}
        from web.api import _encode_cursor

        cursor = _encode_cursor(middle)
        calls = [
            ("first page, 50", "/api/v1/authorizations"),
            ("first page, 200", "/api/v1/authorizations?limit=200"),
            ("middle of the walk, 200", f"/api/v1/authorizations?limit=200&cursor={cursor}"),
            ("unit + active, 200", f"/api/v1/authorizations?unit={ctx['unit']}&status=active&limit=200"),
            ("expiring in 90 days, 200", "/api/v1/authorizations?expiring=90&limit=200"),
            ("search 'virtanen', 200", "/api/v1/authorizations?q=virtanen&limit=200"),
        ]
        print(f"\nserver time per call, {args.runs} runs (target p95 ≤ {TARGET_P95_MS:g} ms)")
        print(f"{'call':30} {'median ms':>10} {'p95 ms':>8}  target")
        for label, path in calls:
            client.get(path, headers=headers)
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                response = client.get(path, headers=headers)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            mark = "met" if p95(times) <= TARGET_P95_MS else "NOT met"
            print(f"{label:30} {statistics.median(times):10.1f} {p95(times):8.1f}  {mark}")

        t0, seen, path = time.perf_counter(), 0, "/api/v1/authorizations?limit=200"
        while path:
            body = client.get(path, headers=headers).get_json()
            seen += len(body["items"])
            path = body["next"]
        print(f"\nwhole registry by cursor (200 a page): {seen:,} rows in {time.perf_counter() - t0:.1f} s")
        db.dispose()


if __name__ == "__main__":
    main()
