"""``valtuus backup FILE`` and ``valtuus restore FILE``: the whole database, SQLite or PostgreSQL.

SQLite is copied with the sqlite3 online backup API (a consistent copy while the app keeps running); PostgreSQL with
pg_dump/pg_restore in their custom format, which must be on PATH (the client of the server's major version).
A backup holds personal data: the file is readable by its owner only. Restore replaces the whole database in one
transaction and refuses to overwrite one that holds data unless --force is given; stop the app while restoring.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine, make_url

from engine import migrate

from .cli import _host, main


class BackupError(click.ClickException):
    """A backup or restore that could not be done; nothing was changed."""


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def backup(file: str) -> None:
    """Copy the whole database into FILE (SQLite: a database file; PostgreSQL: pg_dump custom format)."""
    db = _host().db
    path = Path(file)
    if db.is_sqlite:
        backup_sqlite(db.engine, path)
    else:
        backup_postgresql(db.url, path)
    click.echo(f"backup of the database at revision {migrate.current(db.engine)} written to {path}")


@main.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@with_appcontext
def restore(file: str, force: bool) -> None:
    """Replace the whole database with the backup in FILE. Stop the app first; run `valtuus db upgrade` after."""
    db = _host().db
    path = Path(file)
    if not force and holds_data(db.engine):
        raise BackupError("the database already holds data; restoring would replace it all. Add --force to do so.")
    db.engine.dispose()  # no pooled connection of ours keeps the old tables open
    if db.is_sqlite:
        restore_sqlite(db.engine, path)
    else:
        restore_postgresql(db.url, path)
    db.engine.dispose()
    click.echo(f"restored {path}; the database is at revision {migrate.current(db.engine)}")


def holds_data(engine: Engine) -> bool:
    """Any row in any table but the migration bookkeeping (a freshly upgraded database is empty)."""
    with engine.connect() as conn:
        quote = conn.dialect.identifier_preparer.quote
        for table in inspect(conn).get_table_names():  # names from the database's own catalog, quoted anyway
            if table != "alembic_version" and conn.execute(text(f"SELECT 1 FROM {quote(table)} LIMIT 1")).first():
                return True
    return False


# -- SQLite ---------------------------------------------------------------------------------------------


def backup_sqlite(engine: Engine, path: Path) -> None:
    """A consistent copy through the online backup API, written beside FILE and renamed into place."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    target = sqlite3.connect(partial)
    try:
        with engine.connect() as conn:
            conn.connection.driver_connection.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        target.close()
    partial.chmod(0o600)
    partial.replace(path)


def _check_sqlite_backup(path: Path) -> None:
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = source.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            ours = source.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone()
        finally:
            source.close()
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{path} is not an SQLite database: {err}") from err
    if not ok or not ours:
        raise BackupError(f"{path} is not a Valtuushallinta backup (or it is damaged)")


def restore_sqlite(engine: Engine, path: Path) -> None:
    """Page by page into the live database file, in one transaction (a failure leaves it as it was)."""
    _check_sqlite_backup(path)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with engine.connect() as conn:
            source.backup(conn.connection.driver_connection)
    finally:
        source.close()


# -- PostgreSQL -----------------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} was not found on PATH. Install the PostgreSQL client of the server's major version "
            "(Debian: apt install postgresql-client) and try again."
        )
    return found


def _libpq(url: str) -> tuple[str, dict]:
    """The URL as libpq reads it, and the environment with the password (never on the command line)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict, what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")


def backup_postgresql(url: str, path: Path) -> None:
    pg_dump = _tool("pg_dump")
    dsn, env = _libpq(url)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    partial.touch(mode=0o600)
    try:
        _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}", dsn], env, "pg_dump")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)


def restore_postgresql(url: str, path: Path) -> None:
    pg_restore = _tool("pg_restore")
    dsn, env = _libpq(url)
    _run([pg_restore, "--list", str(path)], env, f"reading {path} as a pg_dump archive")
    _run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={dsn}",
            str(path),
        ],
        env,
        "pg_restore",
    )
