"""Hostile or broken diagrams are refused, naming the file, the element and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.checks import check_diagram
from engine.forms import read_form_file

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (ROOT / "processes/authorization_request/authorization_request.bpmn").read_text(encoding="utf-8")


def problems_of(text: str) -> list[str]:
    found, _root = check_diagram(
        text.encode("utf-8"), "hostile.bpmn", lambda name: read_form_file(ROOT / "forms", name)
    )
    return [str(p) for p in found]


def test_the_shipped_request_diagram_passes_every_check():
    assert problems_of(SHIPPED) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            (
                'id="record_approval" name="Kirjaa hyväksyntä">',
                'id="record_approval" name="Kirjaa hyväksyntä"><bpmn:documentation>x</bpmn:documentation>',
            ),
            None,
        ),
        (
            ('registry.record_approval"', 'registry.delete_everything"'),
            "service operation 'registry.delete_everything'",
        ),
        (('approval_decision == "approve"', "().__class__.__base__.__subclasses__()"), "Attribute is not allowed"),
        (('approval_decision == "approve"', "__import__('os').system('id')"), "may be called"),
        (('isExecutable="true"', 'isExecutable="false"'), None),
        (('value="approve_request.schema.json"', 'value="missing.schema.json"'), "cannot be read"),
        (('value="approve_request.schema.json"', 'value="../../etc/passwd"'), "plain file name"),
        (('id="lane_director"', 'id="lane_boss"'), "maps to no role"),
        (('<bpmn:sequenceFlow id="flow_approved"', '<bpmn:sequenceFlow id="flow_approved_x"'), None),
    ],
)
def test_a_changed_diagram_is_refused_with_the_reason(change, expected):
    old, new = change
    assert old in SHIPPED
    found = problems_of(SHIPPED.replace(old, new, 1))
    if expected is None and "documentation" in new:
        assert found == []  # harmless edits pass
        return
    assert found, f"{new!r} was accepted"
    if expected:
        assert any(expected in p for p in found), found
    assert all(p.startswith("hostile.bpmn: ") for p in found)


def test_a_script_task_is_refused():
    start = SHIPPED.index('<bpmn:serviceTask id="record_approval"')
    end = SHIPPED.index("</bpmn:serviceTask>", start) + len("</bpmn:serviceTask>")
    script_task = (
        '<bpmn:scriptTask id="record_approval" name="Kirjaa hyväksyntä">'
        "<bpmn:incoming>flow_approved</bpmn:incoming>"
        "<bpmn:outgoing>flow_approval_to_register</bpmn:outgoing>"
        "<bpmn:script>import os; os.system('id')</bpmn:script></bpmn:scriptTask>"
    )
    found = problems_of(SHIPPED[:start] + script_task + SHIPPED[end:])
    assert any("scriptTask 'record_approval'" in p and "not allowed" in p for p in found), found


def test_external_entities_and_entity_expansion_are_refused():
    xxe = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + SHIPPED.split("?>", 1)[1]
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        + SHIPPED.split("?>", 1)[1]
    )
    for text in (xxe, bomb):
        assert any("DOCTYPE" in p for p in problems_of(text))


def test_a_diagram_without_diagram_interchange_is_refused():
    head, _sep, _di = SHIPPED.partition("<bpmndi:BPMNDiagram")
    assert any("no diagram interchange" in p for p in problems_of(head + "</bpmn:definitions>\n"))


def test_a_timer_written_without_quotes_is_refused():
    timer_diagram = (ROOT / "tests/processes/timer_wait/timer_wait.bpmn").read_text(encoding="utf-8")
    assert problems_of(timer_diagram) == []
    assert any("must be a string" in p or "timer" in p for p in problems_of(timer_diagram.replace('"P1D"', "P1D")))


def test_text_that_is_not_bpmn_is_refused():
    assert problems_of("<html><body>hello</body></html>")
    assert problems_of("not xml at all")
