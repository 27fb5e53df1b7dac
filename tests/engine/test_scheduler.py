"""The scheduler sweep: timers fired once (also by racing workers on PostgreSQL), broken instances set aside
in error while the sweep goes on, and retried or resolved by the pääkäyttäjä."""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from engine import scheduler
from engine.db import Database
from engine.errors import EngineError, NotAllowedError
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.operations import OperationContext, operation
from engine.runtime import Host
from tests.conftest import request_form

ROOT = Path(__file__).resolve().parents[2]


@operation("test.check_data")
def check_data(ctx: OperationContext):
    """Test only: refuses data whose justification contains the word in TEST_BROKEN_WORD (default "rikki")."""
    word = os.environ.get("TEST_BROKEN_WORD", "rikki")
    if word in str(ctx.data.get("justification", "")):
        raise EngineError(f"the justification does not validate: it contains {word!r}")
    return None


@pytest.fixture
def clock(host):
    return [host.clock()]


@pytest.fixture
def timer_host(host, tmp_path, clock) -> Host:
    target = tmp_path / "processes"
    shutil.copytree(ROOT / "processes", target)
    for name in ("timer_wait", "timer_fail", "timer_end"):
        shutil.copytree(ROOT / "tests/processes" / name, target / name)
    h = Host(dataclasses.replace(host.settings, processes_dir=target), db=host.db, clock=lambda: clock[0])
    h.load_processes()
    return h


def status_of(h: Host, instance_id: int) -> ProcessInstance:
    with h.db.reader() as s:
        return s.get(ProcessInstance, instance_id)


def test_a_failing_instance_is_marked_in_error_with_the_reason_and_the_sweep_goes_on(timer_host, people, codes,
                                                                                     clock):
    broken = timer_host.start_process(
        "timer_fail", people["employee"], people["employee"], request_form(codes[:1], justification="rikki " * 3)
    )
    healthy = timer_host.start_process("timer_fail", people["employee"], people["employee"], request_form(codes[:1]))
    clock[0] += timedelta(days=2)

    counts = scheduler.tick(timer_host)

    assert counts["timers_fired"] == 1 and counts["failed"] == []
    failed = status_of(timer_host, broken.instance_id)
    assert failed.status == "error" and "does not validate" in failed.error and failed.error_count == 1
    assert failed.next_timer_due is None  # not retried by every sweep
    assert status_of(timer_host, healthy.instance_id).status == "running"
    with timer_host.db.reader() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.instance_id == broken.instance_id)))
    assert "process.error" in actions and "timer.fired" not in actions
    assert scheduler.tick(timer_host)["timers_fired"] == 0  # the broken one is left for the pääkäyttäjä


def test_the_paakayttaja_retries_a_fixed_instance_and_it_continues(timer_host, people, codes, clock, monkeypatch):
    broken = timer_host.start_process(
        "timer_fail", people["employee"], people["employee"], request_form(codes[:1], justification="rikki " * 3)
    )
    clock[0] += timedelta(days=2)
    scheduler.tick(timer_host)
    with pytest.raises(NotAllowedError):
        timer_host.retry_instance(people["employee"], broken.instance_id)

    monkeypatch.setenv("TEST_BROKEN_WORD", "no longer broken")  # the cause is fixed
    timer_host.retry_instance(people["admin"], broken.instance_id)

    instance = status_of(timer_host, broken.instance_id)
    assert instance.status == "running" and instance.error == ""
    with timer_host.db.reader() as s:
        ready = list(s.scalars(select(HumanTask.bpmn_id).where(HumanTask.instance_id == instance.id,
                                                                HumanTask.status == "ready")))
    assert ready == ["confirm"]


def test_an_instance_in_error_can_be_closed_as_resolved_with_the_audit_saying_who(timer_host, people, codes, clock):
    broken = timer_host.start_process(
        "timer_fail", people["employee"], people["employee"], request_form(codes[:1], justification="rikki " * 3)
    )
    clock[0] += timedelta(days=2)
    scheduler.tick(timer_host)
    with pytest.raises(NotAllowedError):
        scheduler.resolve_instance(timer_host, people["employee"], broken.instance_id)
    scheduler.resolve_instance(timer_host, people["admin"], broken.instance_id, "fixed in Suomi.fi by hand")
    instance = status_of(timer_host, broken.instance_id)
    assert instance.status == "complete" and instance.outcome == "resolved"
    with timer_host.db.reader() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "process.resolved"))
    assert event.actor_id == people["admin"] and event.details["note"] == "fixed in Suomi.fi by hand"


def test_a_sweep_with_nothing_due_fires_nothing_and_a_due_timer_exactly_once(timer_host, people, codes, clock):
    started = timer_host.start_process("timer_wait", people["employee"], people["employee"], request_form(codes[:1]))
    assert scheduler.tick(timer_host)["timers_fired"] == 0
    clock[0] += timedelta(days=1, minutes=1)
    assert scheduler.tick(timer_host)["timers_fired"] == 1
    assert scheduler.tick(timer_host)["timers_fired"] == 0
    assert status_of(timer_host, started.instance_id).status == "running"


def test_a_sweep_fires_more_due_timers_than_one_batch(timer_host, clock, people):
    ids = copies_of_a_waiting_instance(timer_host, people, scheduler.TIMER_BATCH + 50)
    clock[0] += timedelta(days=2)
    assert scheduler.tick(timer_host)["timers_fired"] == len(ids)


def copies_of_a_waiting_instance(h: Host, people, n: int) -> list[int]:
    """One real timer_end instance started through the host, its row copied to ``n`` instances in bulk."""
    with h.db.reader() as s:
        from engine.models import Person

        organisation_id = s.get(Person, people["admin"]).organisation_id
    first = h.start_system_process("timer_end", organisation_id)
    with h.db.unit_of_work() as s:
        row = s.execute(select(ProcessInstance.__table__).where(ProcessInstance.id == first)).mappings().one()
        template = {k: v for k, v in row.items() if k != "id"}
        s.execute(insert(ProcessInstance), [dict(template) for _ in range(n - 1)])
    with h.db.reader() as s:
        return list(s.scalars(select(ProcessInstance.id).where(ProcessInstance.process_id == "timer_end")))


@pytest.mark.skipif(
    not (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgres"),
    reason="the SKIP LOCKED race needs PostgreSQL (SQLite writers queue)",
)
def test_two_workers_racing_over_1000_due_timers_advance_each_instance_exactly_once(timer_host, people, clock):
    ids = copies_of_a_waiting_instance(timer_host, people, 1000)
    assert len(ids) == 1000
    clock[0] += timedelta(days=2)
    now = clock[0]
    workers = [Host(timer_host.settings, db=Database(timer_host.settings.database_url)) for _ in range(2)]
    barrier = threading.Barrier(len(workers))
    fired: list[int] = []
    problems: list[BaseException] = []

    def work(worker: Host) -> None:
        try:
            barrier.wait()
            fired.append(scheduler.tick(worker, now)["timers_fired"])
        except BaseException as err:  # noqa: BLE001
            problems.append(err)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for w in workers:
        w.db.dispose()

    assert problems == []
    assert sum(fired) == 1000 and all(n > 0 for n in fired), fired  # both took part, together once each
    with timer_host.db.reader() as s:
        per_instance = dict(
            s.execute(
                select(AuditEvent.instance_id, func.count())
                .where(AuditEvent.action == "timer.fired")
                .group_by(AuditEvent.instance_id)
            ).all()
        )
        statuses = set(s.scalars(select(ProcessInstance.status).where(ProcessInstance.id.in_(ids))))
    assert set(per_instance) == set(ids) and set(per_instance.values()) == {1}
    assert statuses == {"complete"}
