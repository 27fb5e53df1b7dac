"""Static checks of a diagram and its forms, run by ``valtuus processes check`` and at every load.

Each problem names the file, the element and the reason. Nothing is stored when any is found.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from . import expressions
from .directory import LANE_ROLES
from .forms import schema_problems
from .operations import load_all

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "bpmndi": BPMNDI, "spiffworkflow": SPIFF}
MAX_DIAGRAM_BYTES = 2_000_000
FLOW_NODES = (
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "task",
    "userTask",
    "manualTask",
    "serviceTask",
    "sendTask",
    "receiveTask",
    "businessRuleTask",
    "callActivity",
    "subProcess",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "complexGateway",
    "transaction",
    "adHocSubProcess",
)
# Other places SpiffWorkflow evaluates an expression (conditions and timers are checked on their own)
EXPRESSION_TAGS = (
    f"{{{BPMN}}}condition",
    f"{{{BPMN}}}loopCardinality",
    f"{{{BPMN}}}completionCondition",
    f"{{{BPMN}}}loopCondition",
    f"{{{BPMN}}}messagePath",
    f"{{{SPIFF}}}messagePayload",
)
LANE_ID = re.compile(r"^lane_(?P<role>[a-z_]+)$")
ISO_LOOKING = re.compile(r"^(R\d*/)?P[0-9TWDHMSY]+$")
FormReader = Callable[[str], dict]  # file name → parsed JSON (raises OSError/ValueError)


@dataclass(frozen=True)
class Problem:
    file: str
    element: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.element}: {self.message}"


def parse_xml(data: bytes) -> etree._Element:
    """Parse untrusted XML: no DTDs, no entities, no network, bounded size."""
    if len(data) > MAX_DIAGRAM_BYTES:
        raise ValueError(f"larger than {MAX_DIAGRAM_BYTES} bytes")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError("DOCTYPE and entity declarations are not allowed")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(data, parser)
    if root.getroottree().docinfo.doctype:
        raise ValueError("DOCTYPE is not allowed")
    return root


def check_diagram(data: bytes, filename: str, read_form: FormReader) -> tuple[list[Problem], etree._Element | None]:
    """All problems of one diagram; also the parsed tree when it could be parsed."""
    try:
        root = parse_xml(data)
        data.decode("utf-8")  # versions are stored as text
    except (ValueError, etree.XMLSyntaxError) as err:
        return [Problem(filename, "document", f"not safe, well-formed UTF-8 XML: {err}")], None
    if root.tag != f"{{{BPMN}}}definitions":
        return [Problem(filename, "document", "the root is not a BPMN 2.0 <definitions> element")], None
    try:
        VALIDATOR.validate(root, filename)
    except ValidationException as err:
        return [Problem(filename, f"line {err.line_number}", f"not valid BPMN 2.0: {err}")], root
    problems: list[Problem] = []
    for check in (_check_processes, _check_flows, _check_lanes, _check_tasks, _check_expressions, _check_di):
        problems += check(root, filename, read_form)
    return problems, root


def _el(node) -> str:
    tag = etree.QName(node).localname
    name = node.get("name")
    return f"{tag} {node.get('id')!r}" + (f" ({name})" if name else "")


def _check_processes(root, filename, _read) -> list[Problem]:
    problems = []
    processes = root.findall("bpmn:process", NS)
    if not processes:
        problems.append(Problem(filename, "definitions", "contains no process"))
    for process in processes:
        if process.get("isExecutable") != "true":
            problems.append(Problem(filename, _el(process), 'is not executable (isExecutable="true")'))
    for node in root.iter():
        if node.get("id") in ("Start", "End"):
            problems.append(Problem(filename, _el(node), "the ids Start and End clash with the engine's own"))
    return problems


def _check_flows(root, filename, _read) -> list[Problem]:
    problems = []
    for process in root.findall("bpmn:process", NS):
        nodes = {n.get("id"): n for tag in FLOW_NODES for n in process.iter(f"{{{BPMN}}}{tag}")}
        flows = list(process.iter(f"{{{BPMN}}}sequenceFlow"))
        incoming = {i: 0 for i in nodes}
        outgoing = {i: 0 for i in nodes}
        for flow in flows:
            src, dst = flow.get("sourceRef"), flow.get("targetRef")
            if src not in nodes or dst not in nodes:
                problems.append(Problem(filename, _el(flow), "connects an element that does not exist"))
                continue
            outgoing[src] += 1
            incoming[dst] += 1
        flow_ids = {f.get("id"): f for f in flows}
        for node_id, node in nodes.items():
            tag = etree.QName(node).localname
            for ref in node.findall("bpmn:incoming", NS) + node.findall("bpmn:outgoing", NS):
                flow = flow_ids.get(ref.text)
                side = "targetRef" if etree.QName(ref).localname == "incoming" else "sourceRef"
                if flow is None or flow.get(side) != node_id:
                    problems.append(Problem(filename, _el(node), f"refers to flow {ref.text!r} that does not match"))
            if _needs_no_flows(node):
                continue
            needs_in = tag not in ("startEvent", "boundaryEvent") and not _is_link(node, "intermediateCatchEvent")
            needs_out = tag != "endEvent" and not _is_link(node, "intermediateThrowEvent")
            if needs_in and incoming[node_id] == 0 and not _in_event_subprocess(node):
                problems.append(Problem(filename, _el(node), "has no incoming sequence flow"))
            if needs_out and outgoing[node_id] == 0:
                problems.append(Problem(filename, _el(node), "has no outgoing sequence flow"))
    return problems


def _needs_no_flows(node) -> bool:
    """Event subprocesses and compensation handlers are started by events, not by sequence flow."""
    return node.get("triggeredByEvent") == "true" or node.get("isForCompensation") == "true"


def _is_link(node, tag: str) -> bool:
    """A link event pair stands for a flow: the throw needs no outgoing, the catch no incoming flow."""
    return etree.QName(node).localname == tag and node.find("bpmn:linkEventDefinition", NS) is not None


def _in_event_subprocess(node) -> bool:
    parent = node.getparent()
    return parent is not None and parent.get("triggeredByEvent") == "true"


def _check_lanes(root, filename, _read) -> list[Problem]:
    problems = []
    for process in root.findall("bpmn:process", NS):
        lanes = list(process.iter(f"{{{BPMN}}}lane"))
        names = [lane.get("name") for lane in lanes]
        for lane in lanes:
            match = LANE_ID.match(lane.get("id") or "")
            if not match or match.group("role") not in LANE_ROLES:
                problems.append(
                    Problem(
                        filename,
                        _el(lane),
                        "maps to no role: lane ids are lane_<role> with role one of " + ", ".join(LANE_ROLES),
                    )
                )
            if not lane.get("name") or names.count(lane.get("name")) > 1:
                problems.append(Problem(filename, _el(lane), "needs a name of its own (lane names must be unique)"))
        in_lane = {ref.text for lane in lanes for ref in lane.findall("bpmn:flowNodeRef", NS)}
        for task in process.iter(f"{{{BPMN}}}userTask", f"{{{BPMN}}}manualTask"):
            if task.get("id") not in in_lane:
                problems.append(Problem(filename, _el(task), "is in no lane, so nobody could be its owner"))
    return problems


def _check_tasks(root, filename, read_form) -> list[Problem]:
    problems = []
    operations = load_all()
    for tag in ("scriptTask",):
        for node in root.iter(f"{{{BPMN}}}{tag}"):
            problems.append(Problem(filename, _el(node), "script tasks are not allowed; use a service task"))
    for tag in ("preScript", "postScript", "script"):
        for node in root.iter(f"{{{SPIFF}}}{tag}"):
            problems.append(Problem(filename, _el(node.getparent().getparent()), f"{tag} is not allowed"))
    for task in root.iter(f"{{{BPMN}}}userTask"):
        props = {p.get("name"): p.get("value") for p in task.iter(f"{{{SPIFF}}}property")}
        schema_file = props.get("formJsonSchemaFilename")
        if not schema_file:
            problems.append(Problem(filename, _el(task), "has no form (formJsonSchemaFilename)"))
            continue
        for key in ("formJsonSchemaFilename", "formUiSchemaFilename"):
            if props.get(key):
                problems += _check_form(filename, task, props[key], read_form, key == "formJsonSchemaFilename")
        if props.get("dueInDays") and not props["dueInDays"].isdigit():
            problems.append(Problem(filename, _el(task), "dueInDays must be a whole number of days"))
    for task in root.iter(f"{{{BPMN}}}serviceTask"):
        operator = task.find(".//spiffworkflow:serviceTaskOperator", NS)
        if operator is None:
            problems.append(Problem(filename, _el(task), "names no service operation"))
            continue
        op = operations.get(operator.get("id"))
        if op is None:
            problems.append(Problem(filename, _el(task), f"service operation {operator.get('id')!r} does not exist"))
            continue
        given = {param.get("id") for param in operator.iter(f"{{{SPIFF}}}parameter")}
        for missing in [p for p in _required_params(op) if p not in given]:
            problems.append(Problem(filename, _el(task), f"{op.name} needs the parameter {missing!r}"))
        for param in operator.iter(f"{{{SPIFF}}}parameter"):
            if param.get("id") not in op.params:
                problems.append(Problem(filename, _el(task), f"{op.name} has no parameter {param.get('id')!r}"))
            for found in expressions.problems(param.get("value") or ""):
                problems.append(Problem(filename, _el(task), f"parameter {param.get('id')!r}: {found}"))
    return problems


def _required_params(op) -> list[str]:
    import inspect

    params = inspect.signature(op.func).parameters
    return [
        n for n in op.params if params[n].default is inspect.Parameter.empty and params[n].kind.name != "VAR_KEYWORD"
    ]


def _check_form(filename, task, form_file, read_form, is_schema) -> list[Problem]:
    try:
        doc = read_form(form_file)
    except (OSError, ValueError) as err:
        return [Problem(filename, _el(task), f"form {form_file}: cannot be read as JSON: {err}")]
    if not is_schema:
        ok = isinstance(doc, dict)
        return [] if ok else [Problem(filename, _el(task), f"UI schema {form_file} must be a JSON object")]
    return [Problem(filename, _el(task), f"form {form_file}: {p}") for p in schema_problems(doc)]


def _check_expressions(root, filename, _read) -> list[Problem]:
    problems = []
    for cond in root.iter(f"{{{BPMN}}}conditionExpression"):
        for found in expressions.problems(cond.text or ""):
            problems.append(Problem(filename, _el(cond.getparent()), f"condition: {found}"))
    for node in root.iter(*EXPRESSION_TAGS):
        owner = next((a for a in node.iterancestors() if a.get("id")), root)
        tag = etree.QName(node).localname
        problems += [
            Problem(filename, _el(owner), f"{tag}: {found}") for found in expressions.problems(node.text or "")
        ]
    for definition in root.iter(f"{{{BPMN}}}timerEventDefinition"):
        if not any(definition.find(f"bpmn:{tag}", NS) is not None for tag in ("timeDate", "timeDuration", "timeCycle")):
            problems.append(
                Problem(filename, _el(definition.getparent()), "timer has no timeDate, timeDuration or timeCycle")
            )
    for tag in ("timeDate", "timeDuration", "timeCycle"):
        for timer in root.iter(f"{{{BPMN}}}{tag}"):
            event = timer.getparent().getparent()
            found = expressions.problems(timer.text or "")
            problems += [Problem(filename, _el(event), f"timer: {f}") for f in found]
            if not found:
                problems += _check_timer_literal(filename, event, tag, timer.text)
    return problems


def _check_timer_literal(filename, event, tag, text) -> list[Problem]:
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition as Timer

    try:
        value = expressions.evaluate(text, {})
    except Exception:  # refers to data: checked when it runs – unless it is an unquoted ISO 8601 value
        if ISO_LOOKING.match(text.strip()):
            return [Problem(filename, _el(event), f'timer {tag} {text.strip()} must be quoted: "{text.strip()}"')]
        return []
    if not isinstance(value, str):
        return [Problem(filename, _el(event), f'timer {tag} must be a string such as "P30D" (with quotes)')]
    try:
        if tag == "timeCycle":
            Timer.parse_iso_recurring_interval(value)
        else:
            Timer.parse_time_or_duration(value)
    except Exception as err:
        return [Problem(filename, _el(event), f"timer {value!r} does not parse: {err}")]
    return []


def _check_di(root, filename, _read) -> list[Problem]:
    shapes = {s.get("bpmnElement") for s in root.iter(f"{{{BPMNDI}}}BPMNShape")}
    edges = {e.get("bpmnElement") for e in root.iter(f"{{{BPMNDI}}}BPMNEdge")}
    if root.find("bpmndi:BPMNDiagram", NS) is None:
        return [Problem(filename, "definitions", "has no diagram interchange (BPMNDiagram); modellers cannot open it")]
    problems = []
    for tag in (*FLOW_NODES, "lane", "participant"):
        for node in root.iter(f"{{{BPMN}}}{tag}"):
            if node.get("id") not in shapes:
                problems.append(Problem(filename, _el(node), "has no shape in the diagram (BPMNShape)"))
    for flow in root.iter(f"{{{BPMN}}}sequenceFlow"):
        if flow.get("id") not in edges:
            problems.append(Problem(filename, _el(flow), "has no edge in the diagram (BPMNEdge)"))
    return problems
