"""``valtuus privacy export`` (everything held about a person) and ``valtuus retention`` (pseudonymise people who
left long ago). The rules are in engine/privacy.py and engine/retention.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from .cli import _host, _organisation_id, main


@main.group()
def privacy():
    """Data protection: a person's data."""


@privacy.command("export")
@click.argument("person")
@click.option("--organisation", "organisation_key", help="Organisation key (when the e-mail is in several).")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="JSON file (default: standard output).")
@with_appcontext
def privacy_export(person: str, organisation_key: str | None, output: str | None):
    """Everything held about PERSON (an id or e-mail address) as one JSON document."""
    from engine.errors import NotFoundError
    from engine.privacy import export_person, find_person

    host = _host()
    with host.db.reader() as session:
        organisation_id = _organisation_id(session, organisation_key) if organisation_key else None
        try:
            found = find_person(session, person, organisation_id)
        except NotFoundError as err:
            raise click.UsageError(str(err)) from err
        document = export_person(host, session, found.id)
    text = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"everything about person {found.id} written to {output}", err=True)
    else:
        sys.stdout.write(text)


@main.command("retention")
@click.option("--years", type=click.IntRange(1, 100), help="Instead of the organisation's retention_years setting.")
@click.option("--dry-run", is_flag=True, help="Show what would be done; write nothing.")
@click.option("--organisation", "organisation_key", help="Organisation key (default: every organisation).")
@with_appcontext
def retention(years: int | None, dry_run: bool, organisation_key: str | None):
    """Pseudonymise people who left more than N years ago; delete old uploads and sent webhook deliveries.

    The audit log is not changed (its hash chain stays whole): a person.pseudonymised event is added instead."""
    from sqlalchemy import select

    from engine.models import Organisation
    from engine.retention import apply_retention

    host = _host()
    with host.db.reader() as session:
        if organisation_key:
            organisations = [_organisation_id(session, organisation_key)]
        else:
            organisations = list(session.scalars(select(Organisation.id).order_by(Organisation.id)))
    for organisation_id in organisations:
        result = apply_retention(host, organisation_id, years=years, dry_run=dry_run)
        verb = "would pseudonymise" if dry_run else "pseudonymised"
        ids = ", ".join(f"#{i}" for i in result.pseudonymised) or "nobody"
        click.echo(f"{result.organisation}: left before {result.cutoff} ({result.years} years): {verb} {ids}")
        for person_id, why in result.kept.items():
            click.echo(f"  kept #{person_id}: {why}")
        removed = "to delete" if dry_run else "deleted"
        click.echo(
            f"  old uploads {removed}: {result.uploads_deleted}, sent webhook deliveries {removed}: "
            f"{result.deliveries_deleted}"
        )
    if dry_run:
        click.echo("dry run: nothing was written")
