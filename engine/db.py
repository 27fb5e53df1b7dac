"""Database connection and the unit of work.

Every command runs in one transaction (``Database.unit_of_work``): workflow
state, task projection, registry and audit are written together or not at all.
On SQLite a command starts with ``BEGIN IMMEDIATE`` so two writers queue for the
lock instead of failing on a stale snapshot; on PostgreSQL the instance row is
locked with ``SELECT … FOR UPDATE``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 15000


def make_engine(url: str, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        return _make_sqlite_engine(url, echo)
    return create_engine(url, echo=echo, pool_pre_ping=True, future=True)


def _make_sqlite_engine(url: str, echo: bool) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


class Database:
    """Owns the SQLAlchemy engine and hands out sessions."""

    def __init__(self, url: str, echo: bool = False):
        self.url = url
        self.engine = make_engine(url, echo)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(write=True), expire_on_commit=False, autoflush=False
        )  # commands flush where they need ids; no hidden flush before every query

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back on any error."""
        session = self._write()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only session for queries (lists, pages, reports)."""
        session = self._read()
        try:
            yield session
        finally:
            session.close()  # ends the transaction; loaded objects stay readable

    def optimize(self) -> None:
        """Refresh the query planner's statistics after bulk changes (and now and then from the worker).

        SQLite has no statistics until ANALYZE runs, and without them it may walk the wrong index of a
        100,000-row table (a full ANALYZE of 100,000 authorizations takes about 0.2 s). PostgreSQL's
        autovacuum also analyzes, but only after a delay.
        """
        if not self.is_sqlite:  # VACUUM also marks pages all-visible, so counts can read the index alone
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM (ANALYZE) authorizations")
                conn.exec_driver_sql("ANALYZE")
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=0")  # exact: an estimate misled the planner
            conn.exec_driver_sql("ANALYZE")
            conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()
