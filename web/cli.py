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
from engine.checks import check_diagram
from engine.demo import load_demo
from engine.errors import DiagramError
from engine.forms import read_form_file
from engine.specs import diagram_files


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
    "--demo-on-network",
    is_flag=True,
    help="Serve demo sign-in (anyone may sign in as anyone) on a non-loopback address anyway.",
)
@with_appcontext
def run(bind: str, port: int, threads: int, no_timers: bool, demo_on_network: bool):
    """Check and load the diagrams, start the timer worker and serve the app (waitress)."""
    from waitress import serve

    if current_app.config["DEMO_SIGN_IN"] and not _is_loopback(bind) and not demo_on_network:
        click.echo(
            f"error: demo sign-in lets anyone sign in as anyone; refusing to serve it on {bind}. "
            "Set VALTUUS_DEMO_SIGN_IN=0, listen on 127.0.0.1, or pass --demo-on-network.",
            err=True,
        )
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


def _is_loopback(address: str) -> bool:
    import ipaddress

    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _timer_loop(host) -> None:
    while True:
        try:
            host.fire_due_timers()
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
    click.echo(f"database at revision {migrate.current(engine)}")


@main.command("demo")
@with_appcontext
def demo():
    """Load the demo organisation and the code catalog (safe to run again)."""
    host = _host()
    with host.db.unit_of_work() as session:
        org = load_demo(session, host.settings.demo_file, host.settings.codes_file)
        click.echo(f"demo organisation {org.key} loaded")


@main.group()
def processes():
    """Process diagrams."""


@processes.command("check")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def processes_check(files):
    """Check diagrams (default: every diagram in processes/). Exit 1 when any problem is found."""
    settings = _host().settings
    paths = [__import__("pathlib").Path(f) for f in files] or diagram_files(settings.processes_dir)
    failed = 0
    for path in paths:
        problems, _root = check_diagram(
            path.read_bytes(), path.name, lambda name: read_form_file(settings.forms_dir, name)
        )
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        failed += bool(problems)
        click.echo(f"{path}: {'FAILED' if problems else 'ok'}")
    sys.exit(1 if failed else 0)
