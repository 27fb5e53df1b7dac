"""Deploying a new version of a diagram: checked in full, stored once, diffed, audited – or refused whole."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import process_versions, specs
from engine.errors import DiagramError
from engine.models import AuditEvent, HumanTask, ProcessInstance, ProcessSpecVersion
from engine.process_diff import describe
from engine.runtime import Host
from tests.conftest import request_form

ROOT = Path(__file__).resolve().parents[2]
FORMS = ROOT / "forms"
REQUEST = (ROOT / "processes/authorization_request/authorization_request.bpmn").read_text(encoding="utf-8")
NAME = "authorization_request.bpmn"

REMINDER = """
    <bpmn:boundaryEvent id="remind_supervisor" name="Viikko kulunut" cancelActivity="false"
        attachedToRef="endorse_request">
      <bpmn:outgoing>flow_reminder</bpmn:outgoing>
      <bpmn:timerEventDefinition id="remind_supervisor_timer">
        <bpmn:timeDuration>"P7D"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="flow_reminder" sourceRef="remind_supervisor" targetRef="end_reminded" />
    <bpmn:endEvent id="end_reminded" name="Muistutettu"><bpmn:incoming>flow_reminder</bpmn:incoming></bpmn:endEvent>
"""
REMINDER_DI = """
      <bpmndi:BPMNShape id="remind_supervisor_di" bpmnElement="remind_supervisor">
        <dc:Bounds x="400" y="200" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_reminded_di" bpmnElement="end_reminded">
        <dc:Bounds x="480" y="200" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_reminder_di" bpmnElement="flow_reminder">
        <di:waypoint x="436" y="218" /><di:waypoint x="480" y="218" />
      </bpmndi:BPMNEdge>
"""


def changed_diagram(text: str = REQUEST) -> str:
    """The shipped request diagram with a task renamed and a reminder timer added."""
    text = text.replace("Puolla tai älä puolla", "Puolla pyyntöä")
    text = text.replace("  </bpmn:process>", REMINDER + "  </bpmn:process>", 1)
    return text.replace("    </bpmndi:BPMNPlane>", REMINDER_DI + "    </bpmndi:BPMNPlane>", 1)


def deploy(host, files: dict, actor_id=None, note: str = "") -> process_versions.Deployed:
    encoded = {n: (v.encode("utf-8") if isinstance(v, str) else v) for n, v in files.items()}
    with host.db.unit_of_work() as s:
        return process_versions.deploy(s, encoded, actor_id, note, forms_dir=FORMS)


def stored_versions(host) -> int:
    with host.db.reader() as s:
        return s.scalar(select(func.count()).select_from(ProcessSpecVersion))


def deployments_audited(host) -> int:
    with host.db.reader() as s:
        return s.scalar(select(func.count()).where(AuditEvent.action == "process.deployed"))


def test_the_changed_diagram_passes_every_check():
    problems = []
    try:
        specs.parse(changed_diagram().encode("utf-8"))
    except Exception as err:  # pragma: no cover - shown when the fixture diagram itself is broken
        problems.append(err)
    assert problems == []


def test_a_renamed_task_and_an_added_timer_become_a_new_version_whose_changes_name_them(host, people):
    result = deploy(host, {NAME: changed_diagram()}, people["admin"], "Muistutus esihenkilölle")
    assert (result.process_id, result.version, result.identical) == ("authorization_request", 2, False)
    by_id = {e["id"]: e for e in result.changes["elements"]}
    assert by_id["endorse_request"]["change"] == "changed"
    assert by_id["endorse_request"]["details"] == [
        {"attribute": "name", "old": "Puolla tai älä puolla", "new": "Puolla pyyntöä"}
    ]
    assert by_id["remind_supervisor"]["kind"] == "timer" and by_id["remind_supervisor"]["change"] == "added"
    assert by_id["end_reminded"]["change"] == "added" and by_id["flow_reminder"]["change"] == "added"
    assert result.changes["counts"]["timer"] == {"added": 1, "removed": 0, "changed": 0}
    with host.db.reader() as s:
        row = s.get(ProcessSpecVersion, result.version_id)
        assert (row.deployed_by_id, row.change_note, row.source) == (people["admin"], "Muistutus esihenkilölle", NAME)
    text = "\n".join(describe(result.changes))
    assert "changed: task endorse_request" in text and "added: timer remind_supervisor" in text


def test_the_diff_between_two_versions_goes_both_ways(host):
    deploy(host, {NAME: changed_diagram()})
    with host.db.reader() as s:
        v1 = process_versions.get_version(s, "authorization_request", 1)
        v2 = process_versions.get_version(s, "authorization_request", 2)
        backwards = process_versions.diff(v2, v1)
    by_id = {e["id"]: e["change"] for e in backwards["elements"]}
    assert by_id["remind_supervisor"] == "removed" and by_id["endorse_request"] == "changed"


def test_a_running_instance_stays_on_its_version_while_new_ones_start_on_the_deployed_one(host, people, codes):
    old = host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    deploy(host, {NAME: changed_diagram()}, people["admin"])
    new = host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    with host.db.reader() as s:
        names = [s.get(HumanTask, r.ready_task_ids[0]).name for r in (old, new)]
        versions = [
            s.get(ProcessSpecVersion, s.get(ProcessInstance, r.instance_id).spec_version_id).version for r in (old, new)
        ]
    assert names == ["Puolla tai älä puolla", "Puolla pyyntöä"]
    assert versions == [1, 2]
    done = host.complete_task(people["supervisor"], old.ready_task_ids[0], {"endorsement_decision": "endorse"})
    assert done.status == "running"  # the old one goes on, on version 1
    with host.db.reader() as s:
        counts = {v.version: v.running for v in process_versions.versions(s, None, "authorization_request")}
    assert counts == {2: 1, 1: 1}


def test_an_unchanged_shipped_file_does_not_displace_a_deployed_version_at_the_next_start(host, people, codes):
    deploy(host, {NAME: changed_diagram()}, people["admin"])
    host.load_processes()  # as at every start: processes/ synced again
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    with host.db.reader() as s:
        assert s.get(HumanTask, started.ready_task_ids[0]).name == "Puolla pyyntöä"
        assert specs.latest_row(s, "authorization_request").version == 2


def test_a_changed_shipped_file_becomes_newest_and_says_it_supersedes_the_deployed_version(host, people, tmp_path):
    shipped = tmp_path / "processes"
    shutil.copytree(ROOT / "processes", shipped)
    local = Host(dataclasses.replace(host.settings, processes_dir=shipped), db=host.db)
    deploy(host, {NAME: changed_diagram()}, people["admin"])
    diagram = shipped / "authorization_request" / NAME
    diagram.write_text(REQUEST.replace("Päätä valtuuspyynnöstä", "Päätä pyynnöstä"), encoding="utf-8")
    local.load_processes()
    with host.db.reader() as s:
        newest = specs.latest_row(s, "authorization_request")
        audited = s.scalar(
            select(func.count()).where(AuditEvent.action == "process.shipped_version_supersedes_deployed")
        )
    assert (newest.version, newest.deployed_by_id, newest.changes["supersedes"]) == (3, None, 2)
    assert audited == 1


def test_an_identical_upload_stores_nothing_and_names_the_version_it_equals(host, people):
    before = stored_versions(host)
    first = deploy(host, {NAME: changed_diagram()}, people["admin"])
    again = deploy(host, {NAME: changed_diagram()}, people["admin"])
    shipped = deploy(host, {NAME: REQUEST}, people["admin"])
    assert (again.identical, again.version) == (True, first.version)
    assert (shipped.identical, shipped.version, shipped.newest) == (True, 1, 2)
    assert stored_versions(host) == before + 1 and deployments_audited(host) == 1


def test_a_deployment_is_audited_with_the_deployer_in_their_own_organisation(host, people):
    deploy(host, {NAME: changed_diagram()}, people["admin"], "Muistutus")
    with host.db.reader() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "process.deployed"))
    assert event.actor_id == people["admin"]
    assert event.details["version"] == 2 and event.details["note"] == "Muistutus"


def test_an_uploaded_form_is_stored_and_a_form_not_uploaded_is_kept_from_the_newest_version(host):
    form = json.loads((FORMS / "endorse_request.schema.json").read_text(encoding="utf-8"))
    form["properties"]["reminder_note"] = {"type": "string", "title": "Huomautus"}
    first = deploy(host, {NAME: changed_diagram(), "endorse_request.schema.json": json.dumps(form)})
    fields = first.changes["forms"][0]
    assert fields["file"] == "endorse_request.schema.json" and fields["change"] == "changed"
    assert fields["fields"][0]["field"] == "reminder_note" and fields["fields"][0]["change"] == "added"
    second = deploy(host, {NAME: changed_diagram().replace("Puolla pyyntöä", "Puolla")})
    assert second.changes["forms"] == []  # the uploaded form stayed
    with host.db.reader() as s:
        stored = s.get(ProcessSpecVersion, second.version_id).forms["endorse_request.schema.json"]
    assert "reminder_note" in stored["properties"]


def _without_di(text: str) -> str:
    head, _sep, _di = text.partition("<bpmndi:BPMNDiagram")
    return head + "</bpmn:definitions>\n"


HOSTILE = {
    "external_entity": (
        lambda t: '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + t.split("?>", 1)[1],
        "document",
        "DOCTYPE",
    ),
    "entity_expansion": (
        lambda t: (
            '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            + t.split("?>", 1)[1]
        ),
        "document",
        "DOCTYPE",
    ),
    "entity_expansion_in_utf16": (
        lambda t: (
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY a "a">]>' + t.split("?>", 1)[1]
        ).encode("utf-16"),
        "document",
        "not safe",
    ),
    "not_bpmn": (lambda t: "<html><body>Tämä ei ole kaavio</body></html>", "document", "not a BPMN 2.0"),
    "not_valid_against_the_xsd": (
        lambda t: t.replace('<bpmn:userTask id="endorse_request"', '<bpmn:userTask bogus="1" id="endorse_request"'),
        "line",
        "not valid BPMN 2.0",
    ),
    "not_executable": (lambda t: t.replace('isExecutable="true"', 'isExecutable="false"'), "process", "executable"),
    "missing_di": (_without_di, "definitions", "no diagram interchange"),
    "unsafe_expression": (
        lambda t: t.replace('approval_decision == "approve"', "__import__('os').system('id')"),
        "flow_approved",
        "may be called",
    ),
    "dunder_attribute": (
        lambda t: t.replace('approval_decision == "approve"', "approval_decision.__class__"),
        "flow_approved",
        "Attribute is not allowed",
    ),
    "unknown_operation": (
        lambda t: t.replace('registry.record_approval"', 'registry.delete_everything"'),
        "record_approval",
        "does not exist",
    ),
    "lane_without_role": (lambda t: t.replace('id="lane_director"', 'id="lane_boss"'), "lane_boss", "maps to no role"),
    "timer_that_does_not_parse": (
        lambda t: changed_diagram(t).replace('"P7D"', '"P7X"'),
        "remind_supervisor",
        "does not parse",
    ),
    "flow_node_without_outgoing_flow": (
        lambda t: changed_diagram(t).replace(
            '<bpmn:sequenceFlow id="flow_reminder" sourceRef="remind_supervisor" targetRef="end_reminded" />', ""
        ),
        "remind_supervisor",
        "no outgoing sequence flow",
    ),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_or_broken_upload_is_refused_naming_element_and_reason_and_nothing_is_stored(host, people, kind):
    change, element, reason = HOSTILE[kind]
    before = stored_versions(host)
    with pytest.raises(DiagramError) as err:
        deploy(host, {NAME: change(REQUEST)}, people["admin"])
    found = [str(p) for p in err.value.problems]
    assert any(element in p and reason in p for p in found), found
    assert stored_versions(host) == before and deployments_audited(host) == 0


def test_an_upload_with_an_invalid_json_schema_form_is_refused_whole(host):
    bad = {"type": "object", "properties": {"endorsement_decision": {"type": "nonsense"}}}
    before = stored_versions(host)
    with pytest.raises(DiagramError) as err:
        deploy(host, {NAME: changed_diagram(), "endorse_request.schema.json": json.dumps(bad)})
    found = [str(p) for p in err.value.problems]
    assert any("endorse_request" in p and "invalid JSON Schema" in p for p in found), found
    assert stored_versions(host) == before


def test_an_uploaded_form_no_task_uses_and_a_form_that_is_not_json_are_refused(host):
    before = stored_versions(host)
    with pytest.raises(DiagramError) as err:
        deploy(host, {NAME: changed_diagram(), "unused.schema.json": "{}", "broken.json": "{"})
    found = [str(p) for p in err.value.problems]
    assert any(p.startswith("unused.schema.json") and "uses this form" in p for p in found), found
    assert any(p.startswith("broken.json") and "not JSON" in p for p in found), found
    assert stored_versions(host) == before


def test_a_diagram_of_an_unknown_process_is_refused(host):
    renamed = REQUEST.replace('id="authorization_request"', 'id="something_else"').replace(
        'processRef="authorization_request"', 'processRef="something_else"'
    )
    with pytest.raises(DiagramError) as err:
        deploy(host, {"something_else.bpmn": renamed})
    assert any("something_else" in str(p) and "not a version" in str(p) for p in err.value.problems)


def _endorse_task_with(extra: str) -> str:
    start = REQUEST.index('<bpmn:userTask id="endorse_request"')
    end = REQUEST.index("</bpmn:userTask>", start)
    return REQUEST[:end] + extra + REQUEST[end:]


def test_an_expression_in_a_loop_cardinality_is_checked_like_any_other(host):
    loop = "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>__import__('os')</bpmn:loopCardinality>"
    with pytest.raises(DiagramError) as err:
        deploy(host, {NAME: _endorse_task_with(loop + "</bpmn:multiInstanceLoopCharacteristics>")})
    found = [str(p) for p in err.value.problems]
    assert any("endorse_request" in p and "loopCardinality" in p and "may be called" in p for p in found), found


def test_a_timer_without_a_time_is_refused(host):
    with pytest.raises(DiagramError) as err:
        deploy(host, {NAME: changed_diagram().replace('<bpmn:timeDuration>"P7D"</bpmn:timeDuration>', "")})
    assert any("remind_supervisor" in str(p) and "no timeDate" in str(p) for p in err.value.problems)


def test_a_service_task_missing_a_required_parameter_is_refused(host, monkeypatch):
    from engine import operations

    def needs_value(ctx, value):
        """A test operation with a required parameter."""

    operations.load_all()
    monkeypatch.setitem(
        operations.OPERATIONS, "test.needs_value", operations.Operation("test.needs_value", needs_value, ("value",), "")
    )
    with pytest.raises(DiagramError) as err:
        deploy(host, {NAME: REQUEST.replace('id="registry.record_request"', 'id="test.needs_value"')})
    assert any("test.needs_value needs the parameter 'value'" in str(p) for p in err.value.problems)


EVENT_SUBPROCESS = """
    <bpmn:subProcess id="expiry_handler" name="Vanhenee" triggeredByEvent="true">
      <bpmn:startEvent id="expiry_start" isInterrupting="false">
        <bpmn:outgoing>expiry_flow</bpmn:outgoing>
        <bpmn:timerEventDefinition id="expiry_timer">
          <bpmn:timeDuration>"P30D"</bpmn:timeDuration>
        </bpmn:timerEventDefinition>
      </bpmn:startEvent>
      <bpmn:sequenceFlow id="expiry_flow" sourceRef="expiry_start" targetRef="expiry_end" />
      <bpmn:endEvent id="expiry_end"><bpmn:incoming>expiry_flow</bpmn:incoming></bpmn:endEvent>
    </bpmn:subProcess>
"""
EVENT_SUBPROCESS_DI = """
      <bpmndi:BPMNShape id="expiry_handler_di" bpmnElement="expiry_handler" isExpanded="true">
        <dc:Bounds x="200" y="600" width="300" height="120" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="expiry_start_di" bpmnElement="expiry_start">
        <dc:Bounds x="240" y="640" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="expiry_end_di" bpmnElement="expiry_end">
        <dc:Bounds x="400" y="640" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="expiry_flow_di" bpmnElement="expiry_flow">
        <di:waypoint x="276" y="658" /><di:waypoint x="400" y="658" />
      </bpmndi:BPMNEdge>
"""


def test_an_event_subprocess_needs_no_sequence_flow_of_its_own(host):
    text = REQUEST.replace("  </bpmn:process>", EVENT_SUBPROCESS + "  </bpmn:process>", 1)
    text = text.replace("    </bpmndi:BPMNPlane>", EVENT_SUBPROCESS_DI + "    </bpmndi:BPMNPlane>", 1)
    result = deploy(host, {NAME: text})
    assert not result.identical
    assert {e["id"] for e in result.changes["elements"]} == {
        "expiry_handler",
        "expiry_start",
        "expiry_flow",
        "expiry_end",
    }
