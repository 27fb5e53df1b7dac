"""The Prosessit page's "move unfinished ones": a dry-run table for the pääkäyttäjä, then a confirmed POST."""

from __future__ import annotations

from engine.models import Person, ProcessInstance, ProcessSpecVersion
from tests.conftest import request_form
from tests.engine.test_instance_migration import later_task_renamed
from tests.engine.test_process_versions import NAME, deploy
from tests.web.access_world import make_process_owner
from web.cli import main

PAGE = "/processes/authorization_request/1/migrate"


def version_of(host, instance_id: int) -> int:
    with host.db.reader() as s:
        return s.get(ProcessSpecVersion, s.get(ProcessInstance, instance_id).spec_version_id).version


def test_a_process_owner_who_is_not_a_paakayttaja_gets_403(web, host, people):
    make_process_owner(host, people["director"])
    deploy(host, {NAME: later_task_renamed()}, people["admin"])
    web.login("director")
    assert web.client.get("/processes/").status_code == 200
    assert "/migrate" not in web.client.get("/processes/").get_data(as_text=True)
    assert web.client.get(PAGE).status_code == 403
    web.login("admin")
    token = web.token(PAGE)
    web.login("director")
    assert web.client.post(PAGE, data={"csrf_token": token, "to": "2", "instance": "1:x"}).status_code in (400, 403)


def test_the_paakayttaja_sees_the_dry_run_and_moves_the_chosen_instance(web, host, people, codes):
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    deploy(host, {NAME: later_task_renamed()}, people["admin"])
    web.login("admin")
    assert PAGE in web.client.get("/processes/").get_data(as_text=True)
    page = web.client.get(PAGE).get_data(as_text=True)
    assert "Päätä valtuuspyynnöstä" in page and "Päätä pyynnöstä" in page  # the renamed step ahead
    assert version_of(host, started.instance_id) == 1  # the dry run changed nothing
    value = next(v for v in page.split('name="instance" value="')[1:]).split('"')[0]

    refused = web.client.post(PAGE, data={"to": "2", "instance": value})
    assert refused.status_code == 400 and version_of(host, started.instance_id) == 1  # no CSRF token

    moved = web.post(PAGE, {"to": "2", "instance": value})
    assert moved.status_code == 303
    assert version_of(host, started.instance_id) == 2
    assert "1 prosessi siirrettiin versioon 2." in web.client.get(moved.location).get_data(as_text=True)


def test_the_cli_lists_the_dry_run_and_then_migrates(runner, host, people, codes):
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    deploy(host, {NAME: later_task_renamed()}, people["admin"])
    with host.db.reader() as s:
        admin = s.get(Person, people["admin"]).email
    args = ["processes", "migrate", "authorization_request", "1", "2", "--as", admin]
    dry = runner.invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "'Päätä valtuuspyynnöstä' is renamed 'Päätä pyynnöstä'" in dry.output
    assert version_of(host, started.instance_id) == 1
    done = runner.invoke(main, args)
    assert done.exit_code == 0, done.output
    assert f"instance {started.instance_id}: migrated" in done.output
    assert version_of(host, started.instance_id) == 2
