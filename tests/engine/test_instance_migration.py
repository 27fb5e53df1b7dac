"""Migrating running instances to a newer version: a dry run that changes nothing, then each instance on its own."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine import instance_migration
from engine.errors import ConflictError, NotAllowedError
from engine.models import AuditEvent, HumanTask, Person, ProcessInstance, ProcessSpecVersion
from tests.conftest import request_form
from tests.engine.test_process_versions import NAME, REQUEST, changed_diagram, deploy
from tests.web.test_process_pages import _other_organisation

PROCESS = "authorization_request"


def later_task_renamed() -> str:
    """The request diagram with the director's step (after the supervisor's endorsement) renamed."""
    return REQUEST.replace('name="Päätä valtuuspyynnöstä"', 'name="Päätä pyynnöstä"', 1)


def endorsement_removed() -> str:
    """The request diagram without the supervisor's endorsement: "yes" leads straight to the endorsement gateway."""
    text = re.sub(r'\s*<bpmn:userTask id="endorse_request".*?</bpmn:userTask>', "", REQUEST, count=1, flags=re.S)
    text = re.sub(r'\s*<bpmn:sequenceFlow id="flow_endorse_to_decision"[^>]*/>', "", text, count=1)
    text = text.replace("<bpmn:flowNodeRef>endorse_request</bpmn:flowNodeRef>", "")
    text = text.replace('targetRef="endorse_request"', 'targetRef="endorsement_decision"')
    text = text.replace("<bpmn:incoming>flow_endorse_to_decision</bpmn:incoming>", "")
    text = re.sub(r'\s*<bpmndi:BPMNShape id="endorse_request_di".*?</bpmndi:BPMNShape>', "", text, flags=re.S)
    text = re.sub(r'\s*<bpmndi:BPMNEdge id="flow_endorse_to_decision_di".*?</bpmndi:BPMNEdge>', "", text, flags=re.S)
    return text.replace("<bpmn:outgoing>flow_endorse_to_decision</bpmn:outgoing>", "")


def waiting_for_endorsement(host, people, codes):
    return host.start_request(people["employee"], people["employee"], request_form(codes[:1]))


def snapshot(host, instance_id: int):
    with host.db.reader() as s:
        instance = s.get(ProcessInstance, instance_id)
        ready = sorted(
            (t.id, t.name, t.status) for t in s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id))
        )
        return instance.spec_version_id, instance.state, ready


def dry_run(host, people, to_version=2):
    """The dry run as the demo organisation's pääkäyttäjä sees it."""
    with host.db.reader() as s:
        return instance_migration.plan(s, host, PROCESS, 1, to_version, _org_of(s, people["admin"]))


def _org_of(session, person_id: int) -> int:
    return session.get(Person, person_id).organisation_id


def test_an_instance_waiting_for_endorsement_moves_to_a_version_with_a_later_task_renamed_and_finishes_there(
    host, people, codes
):
    started = waiting_for_endorsement(host, people, codes)
    deploy(host, {NAME: later_task_renamed()}, people["admin"])
    [planned] = dry_run(host, people)
    assert planned.migratable and planned.current == ["Puolla tai älä puolla"]
    assert ("renamed", "Päätä valtuuspyynnöstä", "Päätä pyynnöstä") in planned.changes

    outcomes = instance_migration.migrate(host, people["admin"], PROCESS, 1, 2, {started.instance_id: planned.token})
    assert outcomes == [instance_migration.Outcome(started.instance_id, True)]
    with host.db.reader() as s:
        instance = s.get(ProcessInstance, started.instance_id)
        assert s.get(ProcessSpecVersion, instance.spec_version_id).version == 2
        assert s.get(HumanTask, started.ready_task_ids[0]).status == "ready"  # the same task, still waiting
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "process.migrated"))
        assert (event.instance_id, event.actor_id) == (started.instance_id, people["admin"])
        assert (event.details["from"], event.details["to"]) == (1, 2)

    endorsed = host.complete_task(people["supervisor"], started.ready_task_ids[0], {"endorsement_decision": "endorse"})
    with host.db.reader() as s:
        assert s.get(HumanTask, endorsed.ready_task_ids[0]).name == "Päätä pyynnöstä"  # the new version's step
    approved = host.complete_task(
        people["director"], endorsed.ready_task_ids[0], {"approval_decision": "reject", "approval_reason": "Ei tarvita"}
    )
    assert approved.status == "complete"


def test_an_instance_whose_current_task_was_removed_is_not_migratable_and_is_left_untouched(host, people, codes):
    started = waiting_for_endorsement(host, people, codes)
    deploy(host, {NAME: endorsement_removed()}, people["admin"])
    before = snapshot(host, started.instance_id)
    [planned] = dry_run(host, people)
    assert not planned.migratable
    assert ("removed", "Puolla tai älä puolla") in planned.reasons

    [outcome] = instance_migration.migrate(host, people["admin"], PROCESS, 1, 2, {started.instance_id: planned.token})
    assert not outcome.migrated and "cannot be migrated" in outcome.reason
    assert snapshot(host, started.instance_id) == before


def test_a_dry_run_changes_nothing(host, people, codes):
    started = waiting_for_endorsement(host, people, codes)
    deploy(host, {NAME: later_task_renamed()}, people["admin"])
    before = snapshot(host, started.instance_id)
    dry_run(host, people)
    assert snapshot(host, started.instance_id) == before
    with host.db.reader() as s:
        assert s.scalar(select(AuditEvent).where(AuditEvent.action == "process.migrated")) is None


def test_an_instance_changed_since_the_dry_run_is_refused(host, people, codes):
    started = waiting_for_endorsement(host, people, codes)
    deploy(host, {NAME: later_task_renamed()}, people["admin"])
    [planned] = dry_run(host, people)
    host.complete_task(people["supervisor"], started.ready_task_ids[0], {"endorsement_decision": "endorse"})
    before = snapshot(host, started.instance_id)
    [outcome] = instance_migration.migrate(host, people["admin"], PROCESS, 1, 2, {started.instance_id: planned.token})
    assert not outcome.migrated and "changed since the dry run" in outcome.reason
    assert snapshot(host, started.instance_id) == before


def test_another_organisations_instances_are_neither_listed_nor_migrated(host, people, codes):
    worker, their_codes = _other_organisation(host)
    theirs = host.start_request(worker, worker, request_form(their_codes[:1]))
    deploy(host, {NAME: later_task_renamed()}, people["admin"])
    assert dry_run(host, people) == []
    before = snapshot(host, theirs.instance_id)
    [outcome] = instance_migration.migrate(host, people["admin"], PROCESS, 1, 2, {theirs.instance_id: "x"})
    assert not outcome.migrated
    assert snapshot(host, theirs.instance_id) == before


def test_only_a_paakayttaja_migrates_and_only_to_a_newer_version(host, people, codes):
    started = waiting_for_endorsement(host, people, codes)
    deploy(host, {NAME: later_task_renamed()}, people["admin"])
    [planned] = dry_run(host, people)
    with pytest.raises(NotAllowedError):
        instance_migration.migrate(host, people["director"], PROCESS, 1, 2, {started.instance_id: planned.token})
    with host.db.reader() as s, pytest.raises(ConflictError):
        instance_migration.plan(s, host, PROCESS, 2, 1, _org_of(s, people["admin"]))


def test_the_dry_run_says_a_waiting_reminder_timer_starts_counting_again(host, people, codes):
    deploy(host, {NAME: changed_diagram()}, people["admin"])  # version 2: a reminder on the endorsement
    started = waiting_for_endorsement(host, people, codes)
    deploy(host, {NAME: changed_diagram(later_task_renamed())}, people["admin"])
    with host.db.reader() as s:
        [planned] = instance_migration.plan(s, host, PROCESS, 2, 3, _org_of(s, people["admin"]))
    assert planned.migratable, planned.reasons
    assert ("timer", "Viikko kulunut") in planned.changes
    [outcome] = instance_migration.migrate(host, people["admin"], PROCESS, 2, 3, {started.instance_id: planned.token})
    assert outcome.migrated
    with host.db.reader() as s:
        assert s.get(ProcessInstance, started.instance_id).next_timer_due is not None  # the reminder still waits


def test_an_instance_whose_current_task_changed_is_not_migratable(host, people, codes):
    waiting_for_endorsement(host, people, codes)
    deploy(host, {NAME: changed_diagram()}, people["admin"])  # the endorsement renamed, a reminder attached
    [planned] = dry_run(host, people)
    assert ("changed", "Puolla tai älä puolla") in planned.reasons and not planned.migratable
