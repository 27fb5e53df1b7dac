"""``valtuus audit`` commands: check the audit chain, export the events about a person or an authorization."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import force_locale

from .cli import _host, _organisation_id, main

LANGUAGE = click.option("--language", type=click.Choice(["fi", "sv", "en"]), default="fi", show_default=True)


@main.group()
def audit():
    """The tamper-evident audit log."""


@audit.command("verify")
@click.option("--organisation", "organisation_key", help="Organisation key (default: every organisation).")
@LANGUAGE
@with_appcontext
def audit_verify(organisation_key: str | None, language: str):
    """Walk each organisation's hash chain; report the first modified, deleted or inserted event.

    Exit 1 when a chain is broken."""
    from sqlalchemy import select

    from engine.audit_verify import verify
    from engine.models import Organisation

    from .views.audit import break_text

    broken = False
    with _host().db.reader() as session:
        if organisation_key:
            organisations = [(organisation_key, _organisation_id(session, organisation_key))]
        else:
            organisations = list(session.execute(select(Organisation.key, Organisation.id).order_by(Organisation.id)))
        for key, organisation_id in organisations:
            result = verify(session, organisation_id)
            with force_locale(language):
                if result.ok:
                    click.echo(f"{key}: OK, {result.length} events, last hash {result.last_hash}")
                else:
                    broken = True
                    click.echo(f"{key}: BROKEN ({result.problem.kind}): {break_text(result.problem)}")
    sys.exit(1 if broken else 0)


@audit.command("export")
@click.option("--person", "person_id", type=int, help="Every event about this person (id).")
@click.option("--authorization", "authorization_id", type=int, help="Every event on this authorization (id).")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="CSV file (default: standard output).")
@click.option("--organisation", "organisation_key", help="Organisation key (default: the only one).")
@LANGUAGE
@with_appcontext
def audit_export(person_id, authorization_id, output, organisation_key, language):
    """Export audit events as CSV (UTF-8 with BOM, semicolons), in chain order."""
    from engine import audit_export as export
    from engine import tabular
    from engine.errors import NotFoundError

    from .views.audit import export_table

    if (person_id is None) == (authorization_id is None):
        raise click.UsageError("give either --person ID or --authorization ID")
    with _host().db.reader() as session:
        organisation_id = _organisation_id(session, organisation_key)
        try:
            if person_id is not None:
                rows = export.person_events(session, organisation_id, person_id)
            else:
                rows = export.authorization_events(session, organisation_id, authorization_id)
        except NotFoundError as err:
            raise click.UsageError(str(err)) from err
        with force_locale(language):
            headers, table = export_table(rows)
    body = tabular.write_csv(headers, table)
    if output:
        Path(output).write_bytes(body)
        click.echo(f"{len(table)} events written to {output}", err=True)
    else:
        sys.stdout.buffer.write(body)
