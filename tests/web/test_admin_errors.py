"""/admin/errors: the pääkäyttäjä sees instances in error with the reason, retries or closes them (CSRF)."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import scheduler
from engine.models import AuditEvent, ProcessInstance
from engine.runtime import Host
from tests.conftest import Web, request_form
from tests.engine.test_scheduler import check_data  # noqa: F401  (registers the test.check_data operation)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock(host):
    return [host.clock()]


@pytest.fixture
def timer_host(host, tmp_path, clock) -> Host:
    target = tmp_path / "processes"
    shutil.copytree(ROOT / "processes", target)
    shutil.copytree(ROOT / "tests/processes/timer_fail", target / "timer_fail")
    h = Host(dataclasses.replace(host.settings, processes_dir=target), db=host.db, clock=lambda: clock[0])
    h.load_processes()
    return h


@pytest.fixture
def site(timer_host, people):
    from web import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "test", "VALTUUS_HOST": timer_host, "DEMO_SIGN_IN": True})
    return Web(app.test_client(), people)


@pytest.fixture
def broken(timer_host, people, codes, clock) -> int:
    started = timer_host.start_process(
        "timer_fail", people["employee"], people["employee"], request_form(codes[:1], justification="rikki " * 3)
    )
    clock[0] += timedelta(days=2)
    scheduler.tick(timer_host)
    return started.instance_id


def instance(h, instance_id) -> ProcessInstance:
    with h.db.reader() as s:
        return s.get(ProcessInstance, instance_id)


def test_only_the_paakayttaja_sees_the_processes_in_error_with_the_reason(site, broken):
    site.login("employee")
    assert site.client.get("/admin/errors").status_code == 403
    site.login("director")
    assert site.client.get("/admin/errors").status_code == 403
    site.login("admin")
    page = site.client.get("/admin/errors").get_data(as_text=True)
    assert f"#{broken}" in page and "does not validate" in page and "timer_fail" in page
    assert "Virhetilassa olevat prosessit" in site.client.get("/").get_data(as_text=True)  # the front page points there


def test_retry_needs_the_csrf_token_and_continues_the_process_once_the_cause_is_fixed(site, timer_host, broken,
                                                                                    monkeypatch):
    site.login("admin")
    assert site.client.post(f"/admin/errors/{broken}/retry").status_code == 400  # no CSRF token

    failed_again = site.post(f"/admin/errors/{broken}/retry", {}, token_from="/admin/errors")
    assert failed_again.status_code == 303
    assert instance(timer_host, broken).status == "error" and instance(timer_host, broken).error_count == 2
    assert "epäonnistui uudelleen" in site.client.get("/admin/errors").get_data(as_text=True)

    monkeypatch.setenv("TEST_BROKEN_WORD", "no longer broken")
    assert site.post(f"/admin/errors/{broken}/retry", {}, token_from="/admin/errors").status_code == 303
    assert instance(timer_host, broken).status == "running"
    assert "Yksikään prosessi ei ole virhetilassa." in site.client.get("/admin/errors").get_data(as_text=True)


def test_an_employee_cannot_retry_or_resolve(site, timer_host, broken):
    site.login("employee")
    assert site.post(f"/admin/errors/{broken}/retry", {}, token_from="/").status_code == 403
    assert site.post(f"/admin/errors/{broken}/resolve", {}, token_from="/").status_code == 403
    assert instance(timer_host, broken).status == "error"


def test_close_as_resolved_completes_the_process_with_the_note_on_record(site, timer_host, broken, people):
    site.login("admin")
    response = site.post(f"/admin/errors/{broken}/resolve", {"note": "korjattu käsin"}, token_from="/admin/errors")
    assert response.status_code == 303
    assert instance(timer_host, broken).status == "complete"
    with timer_host.db.reader() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "process.resolved"))
    assert event.actor_id == people["admin"] and event.details["note"] == "korjattu käsin"
    assert site.post("/admin/errors/999999/resolve", {}, token_from="/admin/errors").status_code == 404
