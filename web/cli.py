"""The ``valtuus`` command for operators (a Flask CLI group)."""

from __future__ import annotations

import logging
import sys
import threading
import time

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from engine import migrate
from engine.demo import load_demo
from engine.errors import DiagramError


def _create_app():
    from . import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main():
    """Valtuushallinta – governance of Suomi.fi e-authorizations."""


def _host():
    return current_app.extensions["valtuus"]


@main.command("run")
@click.option("--host", "bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True)
@click.option("--threads", default=8, show_default=True)
@click.option("--no-timers", is_flag=True, help="Do not run the timer worker in this process.")
@click.option(
    "--allow-demo-sign-in-on-network",
    "demo_on_network",
    is_flag=True,
    help="Serve demo sign-in (anyone may sign in as anyone) on a non-loopback address anyway.",
)
@with_appcontext
def run(bind: str, port: int, threads: int, no_timers: bool, demo_on_network: bool):
    """Check and load the diagrams, start the timer worker and serve the app (waitress)."""
    from waitress import serve

    refusal = demo_sign_in_refusal(current_app.config["DEMO_SIGN_IN"], bind, demo_on_network)
    if refusal:
        click.echo(f"error: {refusal}", err=True)
        sys.exit(2)
    host = _host()
    try:
        loaded = host.load_processes()
    except DiagramError as err:
        for problem in err.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(1)
    for process_id, version, digest in loaded:
        click.echo(f"process {process_id} version {version} ({digest[:12]})")
    if not no_timers:
        threading.Thread(target=_timer_loop, args=(host,), daemon=True, name="timers").start()
        click.echo(f"timers: checked every {host.settings.timer_interval_seconds:g} s")
    click.echo(f"serving http://{bind}:{port}")
    serve(current_app._get_current_object(), host=bind, port=port, threads=threads)


def demo_sign_in_refusal(demo_sign_in: bool, bind: str, forced: bool) -> str | None:
    """Why serving must not start (demo sign-in on an address others can reach, not forced), or None."""
    if not demo_sign_in or forced or _is_loopback(bind):
        return None
    return (
        f"demo sign-in lets anyone sign in as anyone; refusing to serve it on {bind}. "
        "Unset VALTUUS_DEMO_SIGN_IN, listen on 127.0.0.1, or pass --allow-demo-sign-in-on-network."
    )


def _is_loopback(address: str) -> bool:
    import ipaddress

    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _timer_loop(host) -> None:
    from engine import scheduler

    optimized = time.monotonic()
    while True:
        try:
            scheduler.tick(host)  # timers, expiry and renewal offers, review rounds, leavers
            if time.monotonic() - optimized > 3600:  # keep the planner's statistics fresh
                host.db.optimize()
                optimized = time.monotonic()
        except Exception:  # keep the worker alive; the error is logged and retried next round
            logging.getLogger("valtuus.timers").exception("timer sweep failed")
        time.sleep(host.settings.timer_interval_seconds)


@main.group()
def db():
    """Database commands."""


@db.command("upgrade")
@with_appcontext
def db_upgrade():
    """Apply all migrations (creates the database when it does not exist)."""
    engine = _host().db.engine
    migrate.upgrade(engine)
    _host().db.optimize()
    click.echo(f"database at revision {migrate.current(engine)}")


@main.command("demo")
@click.option(
    "--directory",
    "directory_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Another organisation's directory file (YAML), e.g. engine/data/examples/ekviken.yaml.",
)
@with_appcontext
def demo(directory_file: str | None):
    """Load the demo organisation (or the one in --directory) and the code catalog (safe to run again)."""
    from engine.demo import load_demo_authorizations
    from engine.models.base import utcnow

    host = _host()
    with host.db.unit_of_work() as session:
        org = load_demo(session, directory_file or host.settings.demo_file, host.settings.codes_file)
        added = load_demo_authorizations(session, org, utcnow())
        click.echo(f"demo organisation {org.key} loaded" + (f" with {added} existing authorizations" if added else ""))
    host.db.optimize()


def message(issue, language: str) -> str:
    """An import issue in the operator's language: the web's translations when registered, else English."""
    translate = current_app.extensions.get("valtuus_messages")
    return translate(issue, language) if translate else issue.text()


def _organisation_id(session, key: str | None) -> int:
    from sqlalchemy import select

    from engine.models import Organisation

    if key:
        found = session.scalar(select(Organisation.id).where(Organisation.key == key))
        if found is None:
            raise click.UsageError(f"no organisation {key!r}")
        return found
    ids = list(session.scalars(select(Organisation.id).limit(2)))
    if len(ids) != 1:
        raise click.UsageError("give --organisation KEY" if ids else "no organisation: load one first")
    return ids[0]


def _read_mapping(path: str | None, base):
    from engine.importer import MappingError, load_mapping

    if path is None:
        return base
    try:
        with open(path, encoding="utf-8") as fh:
            return load_mapping(fh.read(), base=base)
    except MappingError as err:
        raise click.UsageError(f"{path}: {err}") from err


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what would happen; write nothing.")
@click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False), help="Column mapping (YAML).")
@click.option("--organisation", "organisation_key", help="Organisation key (default: the only one).")
@click.option("--create-people", is_flag=True, help="Add people who are not in the directory (needs their e-mail).")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows even when some rows are rejected.")
@click.option("--language", type=click.Choice(["fi", "sv", "en"]), default="fi", show_default=True)
@with_appcontext
def import_authorizations(file, dry_run, mapping_file, organisation_key, create_people, skip_invalid, language):
    """Import an existing authorization list (.xlsx or .csv).

    Exit 1 when the import is refused (rows rejected without --skip-invalid), also on a dry run.
    """
    from pathlib import Path

    from engine.clock import local_date
    from engine.importer import DEFAULT_MAPPING, ImportRefused, apply_import, plan_import
    from engine.models.base import utcnow
    from engine.tabular import MAX_FILE_BYTES, TableError

    host = _host()
    path = Path(file)
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise click.UsageError(f"{path.name} is larger than {MAX_FILE_BYTES} bytes")
    mapping = _read_mapping(mapping_file, DEFAULT_MAPPING)
    now = utcnow()
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if total < 1000:
            return
        if bar is None:
            bar = click.progressbar(length=total, label="planning", file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)

    with host.db.reader() if dry_run else host.db.unit_of_work() as session:  # plan and apply in one transaction
        org_id = _organisation_id(session, organisation_key)
        try:
            plan = plan_import(
                session,
                org_id,
                data,
                path.name,
                mapping=mapping,
                create_people=create_people,
                today=local_date(now),
                progress=progress,
            )
        except TableError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
        for issue in plan.issues:
            click.echo(f"error: {message(issue, language)}")
        for row in plan.rows:
            for issue in row.issues:
                click.echo(f"row {row.row}: rejected: {message(issue, language)}")
            for issue in row.warnings:
                click.echo(f"row {row.row}: warning: {message(issue, language)}")
        counts = plan.counts
        click.echo(
            f"create {counts['create']}, update {counts['update']}, "
            f"unchanged {counts['unchanged']}, rejected {counts['rejected']}"
        )
        if dry_run:
            click.echo("dry run: nothing was written")
            sys.exit(1 if not plan.ok and not skip_invalid else 0)
        try:
            summary = apply_import(session, org_id, plan, actor_id=None, skip_invalid=skip_invalid, now=now)
        except ImportRefused as err:
            click.echo(f"refused: {err}", err=True)
            sys.exit(1)
    host.db.optimize()
    click.echo(
        f"imported: created {summary.created}, updated {summary.updated}, "
        f"people added {summary.people_created}, rows skipped {summary.skipped}"
    )


@main.command("reconcile")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False), help="Column mapping (YAML).")
@click.option("--organisation", "organisation_key", help="Organisation key (default: the only one).")
@click.option("--language", type=click.Choice(["fi", "sv", "en"]), default="fi", show_default=True)
@with_appcontext
def reconcile(file, mapping_file, organisation_key, language):
    """Compare a list downloaded from Suomi.fi with the registry (writes nothing)."""
    from pathlib import Path

    from engine.clock import local_date
    from engine.importer import SUOMIFI_MAPPING
    from engine.models.base import utcnow
    from engine.reconcile import compare_with_suomifi
    from engine.tabular import MAX_FILE_BYTES, TableError

    path = Path(file)
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise click.UsageError(f"{path.name} is larger than {MAX_FILE_BYTES} bytes")
    mapping = _read_mapping(mapping_file, SUOMIFI_MAPPING)
    with _host().db.reader() as session:
        org_id = _organisation_id(session, organisation_key)
        try:
            result = compare_with_suomifi(session, org_id, data, path.name, mapping=mapping, today=local_date(utcnow()))
        except TableError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)
    for issue in result.issues:
        click.echo(f"error: {message(issue, language)}")

    def dates(start, end) -> str:
        return f"{_fi_date(start)} – {_fi_date(end)}"

    click.echo(f"Only in Suomi.fi ({len(result.only_in_suomifi)}):")
    for line in result.only_in_suomifi:
        click.echo(
            f"  row {line.row}: {line.name}: {line.code} ({dates(line.suomifi_valid_from, line.suomifi_valid_until)})"
        )
    click.echo(f"Only in the registry ({len(result.only_in_registry)}):")
    for line in result.only_in_registry:
        click.echo(
            f"  #{line.authorization_id} {line.name}: {line.code} "
            f"({dates(line.registry_valid_from, line.registry_valid_until)})"
        )
    click.echo(f"End date differs ({len(result.end_date_differs)}):")
    for line in result.end_date_differs:
        click.echo(
            f"  row {line.row}: {line.name}: {line.code}: registry {_fi_date(line.registry_valid_until)}, "
            f"Suomi.fi {_fi_date(line.suomifi_valid_until)}"
        )
    click.echo(f"Unmatched rows ({len(result.unmatched)}):")
    for line in result.unmatched:
        reasons = "; ".join(message(issue, language) for issue in line.issues)
        click.echo(f"  row {line.row}: {line.name}: {line.code}: {reasons}")
    click.echo(f"Matching: {result.matching}")


def _fi_date(day) -> str:
    return f"{day.day}.{day.month}.{day.year}" if day else "–"


@main.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--organisation", "organisation_key", help="Organisation key (default: the only one).")
@click.option("--status", help="Only this status (active, expired, revoked, requested, approved, rejected, open).")
@click.option("--unit", "unit_key", help="Only this unit (its key) and its sub-units.")
@click.option("--expiring", type=click.IntRange(0, 3650), help="Only active ones ending within this many days.")
@click.option("--overdue", is_flag=True, help="Only active ones whose review is overdue.")
@click.option("--no-end", is_flag=True, help="Only those without an end date.")
@with_appcontext
def export(file, organisation_key, status, unit_key, expiring, overdue, no_end):
    """Export the registry as .csv (UTF-8 with BOM, semicolons) or .xlsx, chosen by the file's suffix.

    The columns are the import's, so an exported file imports back without changes.
    """
    from pathlib import Path

    from sqlalchemy import select

    from engine import overview, tabular
    from engine.clock import local_date
    from engine.models import Unit
    from engine.models.base import utcnow

    from .views.registry import export_table

    path = Path(file)
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise click.UsageError("the file must end in .csv or .xlsx")
    with _host().db.reader() as session:
        org_id = _organisation_id(session, organisation_key)
        args = {"status": status or "", "expiring": "" if expiring is None else str(expiring),
                "overdue": "1" if overdue else "", "no_end": "1" if no_end else ""}
        if unit_key:
            unit_id = session.scalar(select(Unit.id).where(Unit.organisation_id == org_id, Unit.key == unit_key))
            if unit_id is None:
                raise click.UsageError(f"no unit {unit_key!r}")
            args["unit"] = str(unit_id)
        flt, bad = overview.RegistryFilter.from_args(args)
        if bad:
            raise click.UsageError(f"not understood: {', '.join(bad)}")
        rows, _catalog = overview.registry_rows(
            session, overview.organisation_scope(org_id), flt, today=local_date(utcnow())
        )
        headers, table = export_table(rows)
    body = tabular.write_csv(headers, table) if path.suffix.lower() == ".csv" else tabular.write_xlsx(
        headers, table, title="Valtuudet"
    )
    path.write_bytes(body)
    click.echo(f"{len(table)} authorizations written to {path}")


from . import cli_audit, cli_backup, cli_catalog, cli_lifecycle, cli_privacy, cli_processes  # noqa: E402,F401  (they register commands)
