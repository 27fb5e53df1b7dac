"""`valtuus backup` and `valtuus restore` on a scratch SQLite file and, when pg_dump exists, a scratch PostgreSQL
database this module creates and drops (never the suite's own database)."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
from sqlalchemy import select

from engine import audit, migrate
from engine.config import Settings, normalise_database_url
from engine.db import Database
from engine.demo import load_demo
from engine.models import Organisation, Person
from engine.runtime import Host
from web import create_app
from web.cli import main

PG_ADMIN_URL = os.environ.get("VALTUUS_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def scratch_runner(url: str):
    """The CLI on a freshly migrated database holding the demo organisation and one audited change."""
    settings = Settings(database_url=normalise_database_url(url))
    db = Database(settings.database_url)
    migrate.upgrade(db.engine)
    with db.unit_of_work() as session:
        org = load_demo(session, settings.demo_file, settings.codes_file)
        audit.record(session, org.id, "backup.test", details={"step": "before the backup"})
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "VALTUUS_HOST": Host(settings, db=db)})
    return app.test_cli_runner(), db


def change_everything(db: Database) -> None:
    with db.unit_of_work() as session:
        person = session.scalar(select(Person).where(Person.email.like("employee@%")))
        person.name = "Muutettu Nimi"
        org_id = session.scalar(select(Organisation.id))
        audit.record(session, org_id, "backup.test", details={"step": "after the backup"})


def employee_name(db: Database) -> str:
    with db.reader() as session:
        return session.scalar(select(Person.name).where(Person.email.like("employee@%")))


def backup_change_restore(runner, db: Database, file) -> None:
    original = employee_name(db)
    result = runner.invoke(main, ["backup", str(file)])
    assert result.exit_code == 0, result.output
    assert file.stat().st_mode & 0o077 == 0  # personal data: readable by the owner only
    change_everything(db)
    assert employee_name(db) == "Muutettu Nimi"

    refused = runner.invoke(main, ["restore", str(file)])
    assert refused.exit_code != 0 and "--force" in refused.output
    assert employee_name(db) == "Muutettu Nimi"  # nothing was touched

    result = runner.invoke(main, ["restore", "--force", str(file)])
    assert result.exit_code == 0, result.output
    assert employee_name(db) == original
    verified = runner.invoke(main, ["audit", "verify"])
    assert verified.exit_code == 0 and "OK" in verified.output, verified.output


def test_a_sqlite_backup_restores_the_data_as_it_was_and_the_audit_chain_stays_intact(tmp_path):
    runner, db = scratch_runner(f"sqlite:///{tmp_path / 'live.sqlite3'}")
    try:
        backup_change_restore(runner, db, tmp_path / "varmuuskopio.sqlite3")
    finally:
        db.dispose()


def test_a_backup_restores_into_a_new_empty_database_without_force(tmp_path):
    runner, db = scratch_runner(f"sqlite:///{tmp_path / 'live.sqlite3'}")
    file = tmp_path / "varmuuskopio.sqlite3"
    assert runner.invoke(main, ["backup", str(file)]).exit_code == 0
    original = employee_name(db)
    db.dispose()

    empty = Settings(database_url=f"sqlite:///{tmp_path / 'new.sqlite3'}")
    new_db = Database(empty.database_url)
    migrate.upgrade(new_db.engine)
    new_runner = create_app(
        {"TESTING": True, "SECRET_KEY": "t", "VALTUUS_HOST": Host(empty, db=new_db)}
    ).test_cli_runner()
    result = new_runner.invoke(main, ["restore", str(file)])
    assert result.exit_code == 0, result.output
    assert employee_name(new_db) == original
    new_db.dispose()


def test_restoring_a_file_that_is_not_a_backup_is_refused_and_changes_nothing(tmp_path):
    runner, db = scratch_runner(f"sqlite:///{tmp_path / 'live.sqlite3'}")
    bogus = tmp_path / "notes.sqlite3"
    bogus.write_text("not a database at all " * 100)
    result = runner.invoke(main, ["restore", "--force", str(bogus)])
    assert result.exit_code != 0 and "not" in result.output
    assert employee_name(db) != "" and runner.invoke(main, ["audit", "verify"]).exit_code == 0
    db.dispose()


@pytest.fixture
def scratch_postgresql():
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore are not installed")
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as err:
        pytest.skip(f"no PostgreSQL server at {PG_ADMIN_URL}: {err}")
    name = f"valtuus_backup_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_a_postgresql_backup_restores_the_data_as_it_was_and_the_audit_chain_stays_intact(scratch_postgresql, tmp_path):
    runner, db = scratch_runner(scratch_postgresql)
    try:
        backup_change_restore(runner, db, tmp_path / "varmuuskopio.dump")
    finally:
        db.dispose()


def test_a_backup_needs_pg_dump_on_path_and_says_so(scratch_postgresql, tmp_path, monkeypatch):
    runner, db = scratch_runner(scratch_postgresql)
    monkeypatch.setenv("PATH", str(tmp_path))  # an operator's machine without the PostgreSQL client
    result = runner.invoke(main, ["backup", str(tmp_path / "x.dump")])
    db.dispose()
    assert result.exit_code != 0 and "pg_dump was not found on PATH" in result.output
    assert not (tmp_path / "x.dump").exists()
