"""Adoption by another organisation: Ekviken (engine/data/examples/ekviken.yaml) – Swedish-majority, with its own
units, a review every 6 months by the holder's supervisor and its own deadlines – is configured with that one file
and runs every shipped process end to end beside the demo municipality, on the very same diagram versions.

Both organisations play the same scenario through the engine on a simulated clock (:func:`run_every_process`); the
scenario checks each step against the organisation's own policy, the tests then compare the two."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import notifications, queries, revocation
from engine.demo import load_demo
from engine.errors import NotFoundError, TaskNotFoundError
from engine.models import (
    AuthorizationCode,
    HumanTask,
    Organisation,
    OutboxMessage,
    Person,
    ProcessInstance,
    ProcessSpecVersion,
)
from engine.options import option_sources
from engine.runtime import Host
from engine.specs import diagram_files, read_bundle
from tests.adoption import (
    EXAMPLE,
    PRODUCTION_DAY,
    START,
    Cast,
    Run,
    ekviken,
    merilahti,
    policy_of,
    run_every_process,
    snapshot,
    versions_ran,
)
from tests.engine.test_revocation import Clock, authorization, open_task, owners
from web.cli import main


@dataclass
class Adoption:
    sim: Host
    first: Cast
    second: Cast
    first_run: Run
    second_run: Run
    first_before: dict  # the first organisation's rows before the second was loaded


@pytest.fixture
def adoption(host) -> Adoption:
    clock = Clock(START)
    sim = Host(host.settings, db=host.db, clock=clock)
    first = merilahti(sim)
    first_run = run_every_process(sim, clock, first)
    before = snapshot(sim, first.organisation_id)
    with sim.db.unit_of_work() as s:  # the second organisation: its directory file, the shipped catalog and profiles
        load_demo(s, EXAMPLE, host.settings.codes_file)
    second = ekviken(sim)
    second_run = run_every_process(sim, clock, second)
    return Adoption(sim, first, second, first_run, second_run, before)


# -- the tests --------------------------------------------------------------------------------------------------------

SHIPPED = {path.stem: path for path in diagram_files(Path(__file__).resolve().parents[1] / "processes")}


def test_the_second_organisation_runs_every_shipped_process_on_byte_identical_diagrams(adoption, settings):
    first = versions_ran(adoption.sim, adoption.first.organisation_id)
    second = versions_ran(adoption.sim, adoption.second.organisation_id)

    assert set(second) == set(SHIPPED) == set(first)
    assert second == first  # the very same version rows, one per process
    with adoption.sim.db.reader() as s:
        for process_id, [version_id] in second.items():
            row = s.get(ProcessSpecVersion, version_id)
            shipped = read_bundle(SHIPPED[process_id], settings.forms_dir)
            assert row.bpmn.encode("utf-8") == SHIPPED[process_id].read_bytes(), process_id
            assert (row.content_hash, row.forms) == (shipped.content_hash, shipped.forms), process_id
            assert row.deployed_by_id is None  # shipped, not deployed by either organisation
        finished = s.execute(
            select(ProcessInstance.process_id, ProcessInstance.status).where(
                ProcessInstance.organisation_id == adoption.second.organisation_id,
                ProcessInstance.id != adoption.second_run.joiner_request_id,  # left waiting for the director
            )
        ).all()
    assert sorted(finished) == sorted((process_id, "complete") for process_id in SHIPPED)  # each ran to its end


def test_the_second_organisations_own_settings_took_effect(adoption):
    second, run = adoption.second, adoption.second_run
    policy = policy_of(adoption.sim, second.organisation_id)
    assert (policy["review_interval_months"], policy["reviewer"], policy["review_lead_days"]) == (6, "supervisor", 21)
    assert (policy["review_reminder_days"], policy["revocation_due_working_days"]) == (5, 2)

    kept = authorization(adoption.sim, run.kept)
    assert kept.registered_on == PRODUCTION_DAY and kept.last_reviewed_on == date(2026, 8, 30)  # 6 months − 21 days
    assert kept.next_review_on == date(2027, 2, 28)  # 6 months after the review, not 12
    first_kept = authorization(adoption.sim, adoption.first_run.kept)
    assert first_kept.last_reviewed_on == date(2027, 2, 18)  # the first organisation: 12 months − 30 days
    with adoption.sim.db.reader() as s:
        round_task = s.scalar(select(HumanTask).where(HumanTask.instance_id == run.round_id))
        joiner = s.get(Person, run.joiner_id)
    assert owners(adoption.sim, round_task.id) == {second.supervisor}  # the holder's supervisor, not the director
    assert round_task.completed_by_id == second.supervisor
    assert (joiner.language, joiner.title) == ("sv", {"sv": "Lönekalkylerare"})  # the organisation's first language
    with adoption.sim.db.reader() as s:
        suggestion = s.scalar(
            select(HumanTask)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .where(HumanTask.bpmn_id == "confirm_suggested_request", ProcessInstance.subject_person_id == joiner.id)
        )
    assert suggestion.prefill["justification"].startswith("Arbetsroll: Lönekalkylerare.")


def test_swedish_speakers_of_the_second_organisation_are_notified_in_swedish(adoption, settings):
    with adoption.sim.db.reader() as s:
        mail = s.execute(
            select(OutboxMessage, Person.language)
            .join(Person, Person.id == OutboxMessage.recipient_id)
            .where(OutboxMessage.organisation_id == adoption.second.organisation_id)
            .order_by(OutboxMessage.id)
        ).all()
    assert mail and all(row.language == language for row, language in mail)
    assert {row.language for row, _ in mail} == {"sv", "fi"}  # the director's Finnish-speaking deputy reads Finnish
    by_kind = {(row.recipient_id, row.kind): row for row, _ in mail}

    opened = by_kind[(adoption.second.supervisor, "review_opened")]
    assert opened.context["due_on"] == "2026-09-20"  # review_deadline_days 21 after the round opened
    text = notifications.render(opened.kind, opened.language, opened.context, settings.base_url)
    assert text.subject == "En granskning av fullmakter har öppnats för dig"
    endorse = notifications.render(
        "task_waiting", "sv", by_kind[(adoption.second.supervisor, "task_waiting")].context, settings.base_url
    )
    assert endorse.subject.startswith("En uppgift väntar på dig:")
    registered = by_kind[(adoption.second.employee, "request_registered")]
    assert registered.language == "sv"
    assert by_kind[(adoption.second.deputy, "task_waiting")].language == "fi"


def test_the_first_organisations_data_is_untouched_and_invisible_to_the_second(adoption):
    sim, first, second = adoption.sim, adoption.first, adoption.second
    assert snapshot(sim, first.organisation_id) == adoption.first_before
    waiting = open_task(sim, adoption.first_run.joiner_request_id)  # the first organisation's director's task
    for outsider in (second.director, second.admin):
        with pytest.raises(TaskNotFoundError):
            sim.complete_task(outsider, waiting.id, {"approval_decision": "approve"})
    with pytest.raises(NotFoundError):
        revocation.request_revocation(sim, second.admin, adoption.first_run.kept, reason="Ei meidän")
    with sim.db.reader() as s:
        admin = queries.user(s, second.admin)
        seen = {row.authorization.organisation_id for row in queries.authorizations(s, admin)}
        instances = s.scalars(select(ProcessInstance).where(ProcessInstance.organisation_id == first.organisation_id))
        assert not any(queries.can_see_instance(s, admin, instance) for instance in instances)
        inbox = [row.task.instance_id for row in queries.inbox(s, queries.user(s, second.director))]
    assert inbox == [adoption.second_run.joiner_request_id]  # its own joiner's request; never the first's
    with sim.db.reader() as s:
        offered = {
            org: {o["const"] for o in option_sources(s, org)["authorization_codes"]()}
            for org in (first.organisation_id, second.organisation_id)
        }
    assert seen == {second.organisation_id}
    assert adoption.second_run.code_id in offered[second.organisation_id] - offered[first.organisation_id]
    assert adoption.first_run.code_id in offered[first.organisation_id] - offered[second.organisation_id]


def test_valtuus_demo_loads_the_second_organisation_from_its_file_only(runner, host):
    result = runner.invoke(main, args=["demo", "--directory", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "ekviken" in result.output
    again = runner.invoke(main, args=["demo", "--directory", str(EXAMPLE)])  # idempotent
    assert again.exit_code == 0
    with host.db.reader() as s:
        org = s.scalar(select(Organisation).where(Organisation.key == "ekviken"))
        people = list(s.scalars(select(Person).where(Person.organisation_id == org.id)))
        codes = s.scalar(select(AuthorizationCode.id).where(AuthorizationCode.organisation_id == org.id).limit(1))
    assert org.languages == ["sv", "fi"] and org.name["sv"] == "Ekvikens kommun"
    assert len(people) == 15 and sum(p.language == "sv" for p in people) > len(people) / 2
    assert codes is not None  # the shipped catalog, in the organisation's own rows
    missing = runner.invoke(main, args=["demo", "--directory", "/nonexistent/organisation.yaml"])
    assert missing.exit_code != 0
