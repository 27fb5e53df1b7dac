"""The operators' command: valtuus."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from engine.models import Person
from web.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_every_shipped_diagram_passes_processes_check(runner):
    result = runner.invoke(main, args=["processes", "check"])
    assert result.exit_code == 0, result.output
    for diagram in (ROOT / "processes").glob("*/*.bpmn"):
        assert f"{diagram}: ok" in result.output


def test_processes_check_fails_on_a_broken_diagram_and_names_the_problem(runner, tmp_path):
    broken = tmp_path / "broken.bpmn"
    text = (ROOT / "processes/authorization_request/authorization_request.bpmn").read_text(encoding="utf-8")
    broken.write_text(text.replace("registry.record_approval", "os.system"), encoding="utf-8")
    result = runner.invoke(main, args=["processes", "check", str(broken)])
    assert result.exit_code == 1
    assert "record_approval" in result.output and "os.system" in result.output


def test_loading_the_demo_twice_changes_nothing(runner, host):
    def people():
        with host.db.reader() as s:
            return s.scalar(select(func.count()).select_from(Person))

    before = people()
    assert runner.invoke(main, args=["demo"]).exit_code == 0
    assert runner.invoke(main, args=["demo"]).exit_code == 0
    assert people() == before >= 25


def test_run_refuses_demo_sign_in_on_a_network_address(runner):
    result = runner.invoke(main, args=["run", "--host", "0.0.0.0", "--no-timers"])
    assert result.exit_code == 2 and "demo sign-in" in result.output
