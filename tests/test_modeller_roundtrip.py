"""Every diagram in processes/ survives being opened and re-saved in the bpmn.io modeller, as process owners will do."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.spiff.specs.defaults import ServiceTask, UserTask

from engine import checks, forms, specs
from tests.browser import chromium

ROOT = Path(__file__).resolve().parents[1]
MODELER_JS = ROOT / "node_modules" / "bpmn-js" / "dist" / "bpmn-modeler.production.min.js"
DIAGRAMS = sorted(ROOT.glob("processes/*/*.bpmn"))
PAGE = '<!DOCTYPE html><body style="margin:0"><div id="canvas" style="width:1800px;height:1200px"></div></body>'
ROUNDTRIP_JS = """async ({ xml, rename }) => {
  const modeler = new BpmnJS({ container: '#canvas' });
  try {
    const { warnings } = await modeler.importXML(xml);
    if (rename) {
      const element = modeler.get('elementRegistry').get(rename.id);
      modeler.get('modeling').updateLabel(element, rename.name);
    }
    const { xml: saved } = await modeler.saveXML({ format: true });
    return { saved, warnings: warnings.map((w) => w.message) };
  } finally {
    modeler.destroy();
  }
}"""


@pytest.fixture(scope="module")
def modeller_page():
    with chromium("the modeller round-trip") as browser:
        page = browser.new_page()
        page.set_default_timeout(10_000)
        page.set_content(PAGE)
        page.add_script_tag(path=str(MODELER_JS))
        yield page


def open_and_save(page, xml: str, rename: dict | None = None) -> bytes:
    result = page.evaluate(ROUNDTRIP_JS, {"xml": xml, "rename": rename})
    assert result["warnings"] == [], "bpmn-js warned on import:\n" + "\n".join(result["warnings"])
    return result["saved"].encode("utf-8")


def read_form(name: str) -> dict:
    return forms.read_form_file(ROOT / "forms", name)


def problems_of(data: bytes, name: str) -> list[str]:
    problems, _root = checks.check_diagram(data, name, read_form)
    return [str(p) for p in problems]


def summary(data: bytes) -> dict:
    """What the engine runs from a diagram: tasks, lanes, forms, service operations and branch conditions."""
    _root, spec, _subprocesses = specs.parse(data)
    tasks = [t for t in spec.task_specs.values() if getattr(t, "bpmn_id", None)]
    return {
        "tasks": sorted(t.bpmn_id for t in tasks),
        "lanes": {t.bpmn_id: t.lane for t in tasks},
        "forms": {t.bpmn_id: t.extensions.get("properties") for t in tasks if isinstance(t, UserTask)},
        "operations": {t.bpmn_id: (t.operation_name, t.operation_params) for t in tasks if isinstance(t, ServiceTask)},
        "conditions": {
            (t.bpmn_id, target): condition.args[0]
            for t in tasks
            for condition, target in getattr(t, "cond_task_specs", None) or []
            if condition is not None
        },
    }


def test_there_are_diagrams_to_round_trip():
    assert DIAGRAMS, "no processes/*/*.bpmn found"


@pytest.mark.browser
@pytest.mark.parametrize("diagram", DIAGRAMS, ids=lambda p: p.stem)
def test_a_diagram_reopened_and_resaved_in_the_modeller_still_passes_our_checks_and_runs_the_same(
    modeller_page, diagram
):
    original = diagram.read_bytes()
    saved = open_and_save(modeller_page, original.decode("utf-8"))
    assert problems_of(saved, diagram.name) == []
    assert summary(saved) == summary(original)


@pytest.mark.browser
def test_a_task_renamed_in_the_modeller_keeps_its_form_and_passes_our_checks(modeller_page):
    diagram = ROOT / "processes" / "authorization_request" / "authorization_request.bpmn"
    original = diagram.read_bytes()
    rename = {"id": "endorse_request", "name": "Puolla pyyntöä"}
    saved = open_and_save(modeller_page, original.decode("utf-8"), rename)
    assert problems_of(saved, diagram.name) == []
    _root, spec, _subprocesses = specs.parse(saved)
    assert spec.task_specs["endorse_request"].bpmn_name == "Puolla pyyntöä"
    task = checks.parse_xml(saved).find(".//bpmn:userTask[@id='endorse_request']", checks.NS)
    props = {p.get("name"): p.get("value") for p in task.iterfind(".//spiffworkflow:property", checks.NS)}
    assert props["formJsonSchemaFilename"] == "endorse_request.schema.json"
    assert etree.QName(task.find("bpmn:extensionElements/*", checks.NS)).text == f"{{{checks.SPIFF}}}properties"
    assert summary(saved) == summary(original)
