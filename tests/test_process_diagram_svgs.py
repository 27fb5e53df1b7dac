"""The SVGs in docs/process-diagrams/ are drawn from the current version of every diagram in processes/."""

import importlib.util
from pathlib import Path

RENDER = Path(__file__).resolve().parents[1] / "docs" / "process-diagrams" / "render.py"


def load_renderer():
    spec = importlib.util.spec_from_file_location("process_diagram_render", RENDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_diagram_has_an_svg_rendered_from_its_current_version():
    renderer = load_renderer()
    assert renderer.sources(), "no processes/*/*.bpmn found"
    assert renderer.check() == [], "re-render with: .venv/bin/python docs/process-diagrams/render.py"
