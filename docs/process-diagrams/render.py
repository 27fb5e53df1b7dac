"""Render every processes/*/*.bpmn to docs/process-diagrams/<stem>.svg with bpmn-js in headless Chromium.

    python docs/process-diagrams/render.py           # (re-)render all diagrams
    python docs/process-diagrams/render.py --check   # render nothing; exit 1 listing missing or stale SVGs

Each SVG starts with ``<!-- source: processes/<dir>/<file>.bpmn sha256:<hex> rendered by bpmn-js <version> -->``,
so ``--check`` can tell whether a diagram changed since its SVG was drawn without starting a browser.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BPMN_JS = ROOT / "node_modules" / "bpmn-js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
CHROMIUM_ARGS += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGE = '<!DOCTYPE html><body style="margin:0"><div id="canvas" style="width:1800px;height:1200px"></div></body>'
RENDER_JS = """async (xml) => {
  const viewer = new BpmnJS({ container: '#canvas' });
  const { warnings } = await viewer.importXML(xml);
  const { svg } = await viewer.saveSVG();
  viewer.destroy();
  return { svg, warnings: warnings.map((w) => w.message) };
}"""


def sources() -> list[Path]:
    return sorted(ROOT.glob("processes/*/*.bpmn"))


def svg_for(bpmn: Path) -> Path:
    return HERE / f"{bpmn.stem}.svg"


def source_note(bpmn: Path) -> str:
    """The start of the header comment, everything that --check compares (not the bpmn-js version)."""
    return f"<!-- source: {bpmn.relative_to(ROOT).as_posix()} sha256:{hashlib.sha256(bpmn.read_bytes()).hexdigest()} "


def check() -> list[str]:
    """Paths (relative to the project) of SVGs that are missing or were rendered from another version of their .bpmn."""
    stale = []
    for bpmn in sources():
        svg = svg_for(bpmn)
        head = svg.read_text(encoding="utf-8")[:1000] if svg.exists() else ""
        if source_note(bpmn) not in head:
            stale.append(svg.relative_to(ROOT).as_posix())
    return stale


def stable_marker_ids(svg: str) -> str:
    """bpmn-js names arrow-head markers randomly; number them so re-rendering an unchanged diagram changes nothing."""
    found = dict.fromkeys(re.findall(r'<marker id="([^"]+)"', svg))
    new = {old: f"marker-{n}" for n, old in enumerate(found, 1)}
    if not new:
        return svg
    pattern = "|".join(re.escape(old) for old in sorted(new, key=len, reverse=True))
    return re.sub(rf"(?<![\w-])({pattern})(?![\w-])", lambda m: new[m.group(1)], svg)


def with_header(svg: str, bpmn: Path, version: str) -> str:
    comment = f"{source_note(bpmn)}rendered by bpmn-js {version} -->"
    if svg.startswith("<?xml"):
        declaration, _, rest = svg.partition("?>")
        return f"{declaration}?>\n{comment}\n{rest.lstrip()}"
    return f"{comment}\n{svg}"


def render() -> None:
    from playwright.sync_api import sync_playwright

    version = json.loads((BPMN_JS / "package.json").read_text(encoding="utf-8"))["version"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_content(PAGE)
            for css in ("diagram-js.css", "bpmn-js.css"):
                page.add_style_tag(path=BPMN_JS / "dist" / "assets" / css)
            page.add_script_tag(path=BPMN_JS / "dist" / "bpmn-viewer.production.min.js")
            for bpmn in sources():
                result = page.evaluate(RENDER_JS, bpmn.read_text(encoding="utf-8"))
                for warning in result["warnings"]:
                    print(f"{bpmn.relative_to(ROOT)}: warning: {warning}", file=sys.stderr)
                svg, text = svg_for(bpmn), with_header(stable_marker_ids(result["svg"]), bpmn, version)
                svg.write_text(text + "\n", encoding="utf-8", newline="\n")
                print(f"{bpmn.relative_to(ROOT)} -> {svg.relative_to(ROOT)}")
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="render nothing; exit 1 if an SVG is missing or stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = check()
        for path in stale:
            print(f"missing or stale: {path}", file=sys.stderr)
        if stale:
            print("re-render with: .venv/bin/python docs/process-diagrams/render.py", file=sys.stderr)
        return 1 if stale else 0
    render()
    return 0


if __name__ == "__main__":
    sys.exit(main())
