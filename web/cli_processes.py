"""``valtuus processes …``: check diagrams, deploy a new version, list versions, diff two of them."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from engine import instance_migration, process_versions, queries
from engine.checks import check_diagram
from engine.errors import ConflictError, DiagramError, NotFoundError
from engine.forms import read_form_file
from engine.models import Person
from engine.process_diff import describe
from engine.specs import _parse_problems, diagram_files

from .cli import _host, main


@main.group()
def processes():
    """Process diagrams: check, deploy, versions, diff."""


@processes.command("check")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def processes_check(files):
    """Check diagrams (default: every diagram in processes/). Exit 1 when any problem is found."""
    settings = _host().settings
    paths = [Path(f) for f in files] or diagram_files(settings.processes_dir)
    failed = 0
    for path in paths:
        problems = _problems(path, settings.forms_dir)
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        failed += bool(problems)
        click.echo(f"{path}: {'FAILED' if problems else 'ok'}")
    sys.exit(1 if failed else 0)


def _problems(path: Path, forms_dir: Path) -> list:
    data = path.read_bytes()
    forms: dict = {}

    def read_form(name: str) -> dict:
        forms[name] = read_form_file(forms_dir, name)
        return forms[name]

    problems, root = check_diagram(data, path.name, read_form)
    if root is not None and not problems:
        problems = _parse_problems(data, forms, path.name)  # SpiffWorkflow must be able to run it too
    return problems


@processes.command("deploy")
@click.argument("diagram", type=click.Path(exists=True, dir_okay=False))
@click.argument("forms", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--note", default="", help="What changed and why (shown on the Prosessit page).")
@click.option(
    "--as",
    "as_email",
    required=True,
    help="E-mail of the process owner deploying it (recorded as the deployer; only shipped files have none).",
)
@with_appcontext
def processes_deploy(diagram, forms, note, as_email):
    """Check DIAGRAM (.bpmn) with its FORMS (.json) and store it as the process's newest version.

    Forms not given come from the newest stored version, else from forms/. Exit 1 when anything is refused:
    then nothing is stored."""
    host = _host()
    files = {Path(p).name: Path(p).read_bytes() for p in (diagram, *forms)}
    if len(files) != 1 + len(forms):
        raise click.UsageError("two files have the same name")
    try:
        with host.db.unit_of_work() as session:
            actor_id = _person(session, as_email)
            result = process_versions.deploy(session, files, actor_id, note, forms_dir=host.settings.forms_dir)
    except DiagramError as err:
        for problem in err.problems:
            click.echo(f"error: {problem}", err=True)
        click.echo("refused: nothing was deployed", err=True)
        sys.exit(1)
    except ConflictError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    if result.identical:
        click.echo(f"identical to {result.process_id} version {result.version}: nothing was deployed")
        if result.newest != result.version:
            click.echo(f"new instances still start version {result.newest}")
        return
    click.echo(f"deployed {result.process_id} version {result.version} ({result.content_hash[:12]})")
    for line in describe(result.changes):
        click.echo(f"  {line}")


def _person(session, email: str) -> int:
    found = list(session.scalars(select(Person.id).where(Person.email == email.strip().lower()).limit(2)))
    if len(found) != 1:
        raise click.UsageError(f"no one person with the e-mail {email!r}")
    user = queries.user(session, found[0])
    if user is None or not (user.has("process_owner") or user.has("administrator")):
        raise click.UsageError(f"{email} is not an active process owner or pääkäyttäjä")
    return found[0]


@processes.command("versions")
@click.argument("process_id", required=False)
@with_appcontext
def processes_versions(process_id):
    """List stored versions (newest first) with unfinished instances on each, in every organisation."""
    with _host().db.reader() as session:
        rows = process_versions.versions(session, None, process_id)
    if not rows and process_id:
        raise click.UsageError(f"no process {process_id!r}")
    for v in rows:
        who = v.deployed_by or "shipped"
        note = f" – {v.change_note}" if v.change_note else ""
        click.echo(
            f"{v.process_id} v{v.version} {v.content_hash[:12]} {v.created_at:%Y-%m-%d %H:%M} UTC "
            f"{who}, running {v.running}{note}"
        )


@processes.command("diff")
@click.argument("process_id")
@click.argument("old", type=int)
@click.argument("new", type=int)
@with_appcontext
def processes_diff(process_id, old, new):
    """What changed from version OLD to version NEW of PROCESS_ID."""
    with _host().db.reader() as session:
        try:
            before = process_versions.get_version(session, process_id, old)
            after = process_versions.get_version(session, process_id, new)
        except NotFoundError as err:
            raise click.UsageError(str(err)) from err
        changes = process_versions.diff(before, after)
    click.echo(f"{process_id}: version {old} → {new}")
    for line in describe(changes):
        click.echo(f"  {line}")


@processes.command("migrate")
@click.argument("process_id")
@click.argument("old", type=int)
@click.argument("new", type=int)
@click.option("--dry-run", is_flag=True, help="Only list what would change per instance; change nothing.")
@click.option("--as", "as_email", required=True, help="E-mail of the pääkäyttäjä migrating (their organisation's).")
@with_appcontext
def processes_migrate(process_id, old, new, dry_run, as_email):
    """Move the unfinished instances of PROCESS_ID from version OLD to NEW where SpiffWorkflow's diff allows it.

    Lists per instance what changes or why it cannot move; without --dry-run moves the movable ones, each in its
    own transaction. Exit 1 when any instance was not moved."""
    host = _host()
    with host.db.reader() as session:
        actor_id = _person(session, as_email)
        if not queries.user(session, actor_id).has("administrator"):
            raise click.UsageError(f"{as_email} is not a pääkäyttäjä")
        organisation_id = session.get(Person, actor_id).organisation_id
        try:
            plans = instance_migration.plan(session, host, process_id, old, new, organisation_id)
        except (NotFoundError, ConflictError) as err:
            raise click.UsageError(str(err)) from err
    for planned in plans:
        click.echo(f"instance {planned.instance_id} ({planned.subject or '–'}), at {', '.join(planned.current) or '–'}")
        for line in instance_migration.describe(planned):
            click.echo(f"  {line}")
    movable = {p.instance_id: p.token for p in plans if p.migratable}
    click.echo(f"{len(movable)} of {len(plans)} instances can move from version {old} to {new}")
    if dry_run:
        return
    outcomes = instance_migration.migrate(host, actor_id, process_id, old, new, movable)
    for outcome in outcomes:
        click.echo(f"instance {outcome.instance_id}: {'migrated' if outcome.migrated else outcome.reason}")
    sys.exit(0 if len(movable) == len(plans) and all(o.migrated for o in outcomes) else 1)
