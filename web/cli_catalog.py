"""``valtuus catalog`` commands: the code catalog against DVV's guide (registered on the main group)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from .cli import _host, _organisation_id, main

FIELD_WORDS = {
    "fi": {"name": "nimi", "description": "kuvaus"},
    "sv": {"name": "namn", "description": "beskrivning"},
    "en": {"name": "name", "description": "description"},
}
SUMMARY = {
    "fi": "{codes} koodia tarkistettu, {with_advice} saivat neuvoja ({advice} neuvoa).",
    "sv": "{codes} koder granskade, {with_advice} fick råd ({advice} råd).",
    "en": "{codes} codes checked, {with_advice} with advice ({advice} pieces of advice).",
}


@main.group()
def catalog():
    """The authorization code catalog."""


@catalog.command("check")
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A catalog YAML file (default: the shipped engine/data/authorization_codes.yaml).",
)
@click.option(
    "--organisation", "organisation_key", help="Check an organisation's catalog in the database instead of a file."
)
@click.option(
    "--language", type=click.Choice(["fi", "sv", "en"]), default="fi", show_default=True, help="Language of the advice."
)
@click.option("--strict", is_flag=True, help="Exit 1 when any code gets advice (e.g. in CI).")
@with_appcontext
def check(file: Path | None, organisation_key: str | None, language: str, strict: bool):
    """Check every code's name and description against DVV's guide (Valtuuskoodien määritysohje).

    Prints advice per code; exit 0 (advice only), or 1 with --strict when there is any advice."""
    from engine.code_guide import CatalogFileError, check_catalog, read_catalog_file

    if file is not None and organisation_key:
        raise click.UsageError("give either --file or --organisation, not both")
    if organisation_key:
        entries = _database_entries(organisation_key)
    else:
        try:
            entries = read_catalog_file(file or _host().settings.codes_file)
        except CatalogFileError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
    reports = check_catalog(entries)
    for report in reports:
        if not report.advice:
            continue
        title = report.name.get(language) or report.name.get("fi") or ""
        click.echo(f"{report.key}: {title}")
        for advice in report.advice:
            field = FIELD_WORDS[language][advice.field]
            click.echo(f"  - {field} ({advice.language}) [{advice.rule}] {advice.message[language]}")
    with_advice = sum(1 for r in reports if r.advice)
    total = sum(len(r.advice) for r in reports)
    click.echo(SUMMARY[language].format(codes=len(reports), with_advice=with_advice, advice=total))
    sys.exit(1 if strict and total else 0)


def _database_entries(organisation_key: str) -> list[dict]:
    from sqlalchemy import select

    from engine.models import AuthorizationCode

    with _host().db.reader() as session:
        org_id = _organisation_id(session, organisation_key)
        rows = session.scalars(
            select(AuthorizationCode).where(AuthorizationCode.organisation_id == org_id).order_by(AuthorizationCode.id)
        )
        return [{"key": r.key, "name": dict(r.name or {}), "description": dict(r.description or {})} for r in rows]
