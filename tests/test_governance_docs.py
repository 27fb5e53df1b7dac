"""The governance model in words (docs/hallintamalli.md) against the product as built, and the links of every
document in docs/: the text must not drift from the diagrams, the settings the code reads, or the files it names."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import pytest

from engine.config import Settings
from engine.policy import DEFAULT_POLICY

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MODEL = DOCS / "hallintamalli.md"
README = ROOT / "README.md"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
PROCESS_DIRS = sorted(p for p in (ROOT / "processes").iterdir() if (p / f"{p.name}.bpmn").is_file())

# Environment reads outside engine/config.py: os.environ.get("X" …) or os.environ["X"].
ENV_READ = re.compile(r"""environ(?:\.get\(\s*|\[\s*)["']([A-Z][A-Z0-9_]*)["']""")
# Organisation settings read: (settings or {}).get("x"), policy.get("x"), policy["x"] (also in the diagrams).
SETTING_READ = re.compile(r"""(?:settings or \{\}\)\.get\(|policy\.get\(|policy\[)\s*["']([a-z][a-z0-9_]*)["']""")
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.MULTILINE)
HTML_LINK = re.compile(r"""<(?:img|a)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def model_text() -> str:
    return MODEL.read_text(encoding="utf-8")


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row (separator rows left out)."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("|") and not re.fullmatch(r"\|[\s:|-]+\|", line):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def explained(name: str, text: str) -> bool:
    """A table row names it in backticks and says something about it (at least two more non-empty cells)."""
    return any(any(f"`{name}`" in c for c in row) and sum(1 for c in row if c) >= 3 for row in table_rows(text))


def diagram(process_dir: Path) -> ET.Element:
    return ET.parse(process_dir / f"{process_dir.name}.bpmn").getroot()


def user_tasks(process_dir: Path) -> dict[str, int | None]:
    """Each user task's id and its dueInDays (None when it has none)."""
    tasks = {}
    for node in diagram(process_dir).iter(f"{BPMN}userTask"):
        props = {p.get("name"): p.get("value") for p in node.iter(f"{SPIFF}property")}
        tasks[node.get("id")] = int(props["dueInDays"]) if props.get("dueInDays") else None
    return tasks


def section(text: str, process_id: str) -> str:
    """The part of the model about one process: from its heading to the next heading of the same level."""
    match = re.search(rf"^### .*\(`{process_id}`\).*$", text, re.MULTILINE)
    assert match, f"no section heading names ({process_id}) in docs/hallintamalli.md"
    rest = text[match.end() :]
    following = re.search(r"^#{2,3} ", rest, re.MULTILINE)
    return rest[: following.start()] if following else rest


class _Recorder(dict):
    """An environment that answers every name with one value and remembers which names were asked for."""

    def __init__(self, value: str):
        super().__init__()
        self.value, self.read = value, set()

    def get(self, key, default=None):
        self.read.add(key)
        return self.value

    def __getitem__(self, key):
        self.read.add(key)
        return self.value


def environment_variables() -> set[str]:
    """What Settings.from_env asks for (answered once with "1", once with "" so that every branch runs), and what
    engine/ and web/ read from os.environ directly."""
    names: set[str] = set()
    for value in ("1", ""):
        env = _Recorder(value)
        Settings.from_env(env)
        names |= env.read
    for path in [*(ROOT / "engine").rglob("*.py"), *(ROOT / "web").rglob("*.py")]:
        names |= set(ENV_READ.findall(path.read_text(encoding="utf-8")))
    return names


def organisation_settings() -> set[str]:
    keys = set(DEFAULT_POLICY)
    for path in [*(ROOT / "engine").rglob("*.py"), *(ROOT / "web").rglob("*.py")]:
        keys |= set(SETTING_READ.findall(path.read_text(encoding="utf-8")))
    for process_dir in PROCESS_DIRS:
        keys |= set(SETTING_READ.findall((process_dir / f"{process_dir.name}.bpmn").read_text(encoding="utf-8")))
    return keys


# -- processes -----------------------------------------------------------------------------------------------


def test_there_are_processes_to_describe():
    assert PROCESS_DIRS, "no processes/<id>/<id>.bpmn found"


@pytest.mark.parametrize("process_dir", PROCESS_DIRS, ids=lambda p: p.name)
def test_every_process_is_described_in_the_governance_model(process_dir):
    text = model_text()
    process = diagram(process_dir).find(f"{BPMN}process[@id='{process_dir.name}']")
    assert process is not None, f"{process_dir.name}.bpmn has no process with the id {process_dir.name}"
    assert process_dir.name in text or (process.get("name") or "\0") in text


@pytest.mark.parametrize("process_dir", PROCESS_DIRS, ids=lambda p: p.name)
def test_every_process_shows_its_diagram_and_the_svg_exists(process_dir):
    wanted = f"process-diagrams/{process_dir.name}.svg"
    images = [target for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", model_text()) if target.endswith(wanted)]
    assert images, f"docs/hallintamalli.md embeds no image {wanted}"
    for target in images:
        assert (MODEL.parent / target).is_file(), f"{target} does not exist"


@pytest.mark.parametrize("process_dir", PROCESS_DIRS, ids=lambda p: p.name)
def test_every_user_task_is_a_step_with_the_deadline_its_diagram_sets(process_dir):
    text = section(model_text(), process_dir.name)
    steps = {row[0].split("`")[1]: row for row in table_rows(text) if row[0].startswith("`")}
    for task_id, days in user_tasks(process_dir).items():
        assert task_id in steps, f"the steps of {process_dir.name} do not describe the user task {task_id}"
        if days is not None:
            assert steps[task_id][-1] == f"{days} päivää", f"{task_id}: the diagram sets dueInDays {days}"


def test_the_task_deadline_table_lists_exactly_the_deadlines_the_diagrams_set():
    wanted = {task: days for p in PROCESS_DIRS for task, days in user_tasks(p).items() if days is not None}
    stated = {}
    for row in table_rows(model_text()):
        if "`dueInDays`" in row[0]:
            task = re.findall(r"`([a-z_]+)`", row[0])[-1]
            stated[task] = int(row[1])
    assert stated == wanted


@pytest.mark.parametrize("process_dir", PROCESS_DIRS, ids=lambda p: p.name)
def test_every_setting_a_diagram_reads_is_named_where_its_process_is_described(process_dir):
    text = section(model_text(), process_dir.name)
    source = (process_dir / f"{process_dir.name}.bpmn").read_text(encoding="utf-8")
    for key in set(re.findall(r'policy\["([a-z_0-9]+)"\]', source)):
        assert f"`{key}`" in text, f"the section on {process_dir.name} does not name the setting {key}"


# -- settings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(organisation_settings()))
def test_every_organisation_setting_the_code_reads_is_explained_in_the_governance_model(key):
    assert explained(key, model_text()), f"docs/hallintamalli.md has no table row explaining `{key}`"


@pytest.mark.parametrize("key", sorted(DEFAULT_POLICY))
def test_the_governance_model_states_each_policy_default_as_the_code_has_it(key):
    value = DEFAULT_POLICY[key]
    expected = value if isinstance(value, str) else json.dumps(value)
    rows = [row for row in table_rows(model_text()) if row[0] == f"`{key}`"]
    assert rows, f"no settings table row starts with `{key}`"
    assert rows[0][1].strip("`") == expected, f"`{key}`: engine/policy.py has {expected}, the table {rows[0][1]}"


def test_the_environment_variables_are_found():
    names = environment_variables()
    assert {"DATABASE_URL", "VALTUUS_SMTP_HOST", "VALTUUS_SMTP_STARTTLS", "VALTUUS_DEMO_SIGN_IN"} <= names


@pytest.mark.parametrize("name", sorted(environment_variables()))
def test_every_environment_variable_the_code_reads_is_explained(name):
    documents = model_text() + "\n" + README.read_text(encoding="utf-8")
    assert explained(name, documents), f"neither docs/hallintamalli.md nor README.md explains `{name}`"


def test_the_governance_model_ends_with_a_swedish_summary():
    headings = re.findall(r"^## (.+)$", model_text(), re.MULTILINE)
    assert headings[-1] == "Sammanfattning på svenska"


# -- links in every document ---------------------------------------------------------------------------------

DOCUMENTS = sorted(DOCS.rglob("*.md"))


def link_targets(text: str) -> list[str]:
    """Link and image targets outside code: inline, reference definitions and HTML src/href."""
    text = CODE_SPAN.sub("", FENCE.sub("", text))
    return LINK.findall(text) + REFERENCE.findall(text) + HTML_LINK.findall(text)


def local_file(target: str) -> str | None:
    """The file part of a relative target, or None for web addresses, in-page anchors and the app's own routes."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("#", "/")):
        return None
    return unquote(re.split(r"[#?]", target, maxsplit=1)[0]) or None


def test_the_link_check_finds_links_and_skips_what_is_not_a_file():
    text = '[a](x.md#part) ![b](img/c.svg "t") `[no](code.md)` [w](https://example.org) [r](/help)\n[d]: ../e.md\n'
    assert [local_file(t) for t in link_targets(text)] == ["x.md", "img/c.svg", None, None, "../e.md"]


def test_there_are_documents_to_check():
    assert MODEL in DOCUMENTS


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_image_in_the_document_resolves_to_a_file(document):
    broken = []
    for target in link_targets(document.read_text(encoding="utf-8")):
        path = local_file(target)
        if path is not None and not (document.parent / path).exists():
            broken.append(target)
    assert broken == [], f"{document.relative_to(ROOT)}: links to nothing: {broken}"
