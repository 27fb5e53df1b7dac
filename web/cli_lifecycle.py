"""``valtuus`` commands for the lifecycle: the scheduler and HR events (registered on the main group)."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click
from flask.cli import with_appcontext

from .cli import _host, _organisation_id, main

OPTIMIZE_EVERY_S = 3600


def _counts(counts: dict) -> str:
    text = (
        f"timers fired {counts['timers_fired']}, expired {counts['expired']}, "
        f"renewals offered {counts['renewals_offered']}, review rounds opened {counts['review_rounds']}, "
        f"leavers deactivated {counts['leavers_deactivated']}"
    )
    if counts["failed"]:
        text += f"; FAILED: {', '.join(counts['failed'])} (see the log)"
    return text


@main.command("tick")
@with_appcontext
def tick():
    """One scheduler sweep (timers, expiry, renewal offers, review rounds, leavers), e.g. from cron.

    Exit 1 when a part of the sweep failed."""
    from engine import scheduler

    counts = scheduler.tick(_host(), force=True)
    click.echo(_counts(counts))
    sys.exit(1 if counts["failed"] else 0)


@main.command("worker")
@click.option("--interval", type=click.FloatRange(min=0.1), default=None,
              help="Seconds between sweeps (default VALTUUS_TIMER_INTERVAL, 30).")
@click.option("--quiet", is_flag=True, help="Print only sweeps that did something.")
@with_appcontext
def worker(interval: float | None, quiet: bool):
    """Run scheduler sweeps forever. Several workers may run at once against PostgreSQL (on one machine or
    many): each timer is advanced by exactly one of them."""
    from engine import scheduler

    host = _host()
    interval = interval or host.settings.timer_interval_seconds
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    click.echo(f"worker: a sweep every {interval:g} s (Ctrl+C stops)")
    optimized = time.monotonic()
    try:
        while True:
            started = time.monotonic()
            try:
                counts = scheduler.tick(host)
                busy = any(v for k, v in counts.items() if k not in ("failed", "calendar")) or counts["failed"]
                if busy or not quiet:
                    click.echo(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {_counts(counts)}")
                if time.monotonic() - optimized > OPTIMIZE_EVERY_S:
                    host.db.optimize()
                    optimized = time.monotonic()
            except Exception:  # keep the worker alive (e.g. the database restarting); retried next round
                logging.getLogger("valtuus.scheduler").exception("sweep failed")
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        click.echo("worker stopped")


@main.group()
def events():
    """HR events (joiner, mover, leaver)."""


@events.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row; write nothing.")
@click.option("--organisation", "organisation_key", help="Organisation key (default: the only one).")
@with_appcontext
def events_import(file: str, dry_run: bool, organisation_key: str | None):
    """Apply HR events from a .csv or .xlsx file, each row its own event.

    Columns: event_id, type (joiner|mover|leaver), email, name, unit (key or name), title, date (d.m.yyyy or
    yyyy-mm-dd), optionally supervisor (e-mail). Exit 1 when any row was rejected or failed."""
    from engine import hr_events
    from engine.tabular import MAX_FILE_BYTES, TableError

    host = _host()
    path = Path(file)
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise click.UsageError(f"{path.name} is larger than {MAX_FILE_BYTES} bytes")
    with host.db.reader() as session:
        organisation_id = _organisation_id(session, organisation_key)
    try:
        results = hr_events.import_events(host, organisation_id, data, path.name, dry_run=dry_run)
    except TableError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    tally = {"applied": 0, "duplicate": 0, "rejected": 0, "failed": 0}
    for number, result in results:
        status = "duplicate" if result.get("duplicate") else result["status"]
        tally[status] += 1
        line = f"row {number}: {result.get('event_id') or '?'}: {status}"
        if result.get("type"):
            line += f" ({result['type']})"
        if result.get("reason"):
            line += f": {result['reason']}"
        for key in ("change", "unit", "revocations", "reviews", "deactivate_after"):
            if result.get(key) not in (None, [], ""):
                line += f"; {key} {result[key]}"
        click.echo(line)
    click.echo(", ".join(f"{k} {v}" for k, v in tally.items()))
    if dry_run:
        click.echo("dry run: nothing was written")
    sys.exit(1 if tally["rejected"] or tally["failed"] else 0)
