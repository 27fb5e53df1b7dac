"""Spec versions by content hash, and timers fired from the indexed next-due column."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.errors import DiagramError
from engine.models import HumanTask, ProcessInstance, ProcessSpecVersion
from engine.runtime import Host
from tests.conftest import request_form

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def processes(tmp_path) -> Path:
    target = tmp_path / "processes"
    shutil.copytree(ROOT / "processes", target)
    shutil.copytree(ROOT / "tests/processes/timer_wait", target / "timer_wait")
    return target


@pytest.fixture
def local_host(host, processes) -> Host:
    return Host(dataclasses.replace(host.settings, processes_dir=processes), db=host.db)


def versions(host, process_id: str) -> list[int]:
    with host.db.reader() as s:
        return list(
            s.scalars(
                select(ProcessSpecVersion.version)
                .where(ProcessSpecVersion.process_id == process_id)
                .order_by(ProcessSpecVersion.version)
            )
        )


def test_loading_the_same_diagrams_again_stores_no_new_version(host):
    host.load_processes()
    host.load_processes()
    assert versions(host, "authorization_request") == [1]


def test_a_changed_diagram_becomes_a_new_version_and_running_instances_keep_theirs(
    local_host, processes, people, codes
):
    local_host.load_processes()
    old = local_host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    diagram = processes / "authorization_request/authorization_request.bpmn"
    diagram.write_text(
        diagram.read_text(encoding="utf-8").replace("Puolla tai älä puolla", "Puolla pyyntöä"), encoding="utf-8"
    )
    local_host.load_processes()
    assert versions(local_host, "authorization_request") == [1, 2]

    new = local_host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    with local_host.db.reader() as s:
        old_task, new_task = s.get(HumanTask, old.ready_task_ids[0]), s.get(HumanTask, new.ready_task_ids[0])
        spec_of = {i.id: i.spec_version_id for i in s.scalars(select(ProcessInstance))}
    assert (old_task.name, new_task.name) == ("Puolla tai älä puolla", "Puolla pyyntöä")
    assert spec_of[old.instance_id] != spec_of[new.instance_id]
    done = local_host.complete_task(people["supervisor"], old.ready_task_ids[0], {"endorsement_decision": "endorse"})
    assert done.status == "running"


def test_a_broken_diagram_stops_loading_and_names_file_element_and_problem(local_host, processes):
    diagram = processes / "authorization_request/authorization_request.bpmn"
    diagram.write_text(
        diagram.read_text(encoding="utf-8").replace('approval_decision == "approve"', "approval_decision.__class__"),
        encoding="utf-8",
    )
    with pytest.raises(DiagramError) as err:
        local_host.load_processes()
    text = str(err.value)
    assert "authorization_request.bpmn" in text and "flow_approved" in text and "Attribute" in text
    assert versions(local_host, "timer_wait") == []  # nothing stored when anything is refused


def test_a_timer_waits_in_the_due_column_and_fires_only_when_due(local_host, people, codes):
    local_host.load_processes()
    started = local_host.start_process("timer_wait", people["employee"], people["employee"], request_form(codes[:1]))
    with local_host.db.reader() as s:
        instance = s.get(ProcessInstance, started.instance_id)
    assert instance.status == "waiting" and started.ready_task_ids == []
    due = instance.next_timer_due
    assert timedelta(hours=23) < due - instance.updated_at <= timedelta(days=1, minutes=1)

    assert local_host.fire_due_timers(now=due - timedelta(minutes=1)) == 0
    assert local_host.fire_due_timers(now=due + timedelta(seconds=1)) == 1

    with local_host.db.reader() as s:
        instance = s.get(ProcessInstance, started.instance_id)
        ready = list(
            s.scalars(
                select(HumanTask.bpmn_id).where(HumanTask.instance_id == instance.id, HumanTask.status == "ready")
            )
        )
    assert instance.status == "running" and instance.next_timer_due is None and ready == ["confirm"]
    assert local_host.fire_due_timers(now=due + timedelta(days=400)) == 0


def test_timers_follow_the_host_clock_over_years_of_simulated_time(host, processes, people, codes):
    now = [host.clock()]
    simulated = Host(dataclasses.replace(host.settings, processes_dir=processes), db=host.db, clock=lambda: now[0])
    simulated.load_processes()
    started = simulated.start_process("timer_wait", people["employee"], people["employee"], request_form(codes[:1]))
    now[0] += timedelta(days=3 * 365)
    assert simulated.fire_due_timers() == 1
    with simulated.db.reader() as s:
        assert s.get(ProcessInstance, started.instance_id).status == "running"


def test_today_is_the_finnish_date_just_after_midnight_in_finland():
    from datetime import UTC, date, datetime

    from engine.clock import local_date

    assert local_date(datetime(2026, 11, 21, 22, 30, tzinfo=UTC)) == date(2026, 11, 22)
