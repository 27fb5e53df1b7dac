"""Process spec versions: read diagrams with their forms, check them, store them once per
content hash, and keep each version parsed in memory (parsing costs ~1 ms; a lookup ~1 µs).

Which version new instances start: the newest (highest version number) of the process. Versions come from two
places – the shipped files in processes/ (synced at every start) and deployments by process owners
(engine/process_versions.py). Syncing stores a shipped file only when its content (diagram + forms) is new, so an
unchanged shipped file never displaces a version deployed after it: it is found by its hash and nothing happens.
A shipped file whose content changed (a software update) becomes the newest version – also over a deployed one,
because the software may need it; then it is not silent: the new version's ``changes`` names the deployed version
it supersedes (``supersedes``), the sync logs a warning and the audit trail of every organisation records it.
Running instances always stay on the version they started with.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from sqlalchemy import select
from sqlalchemy.orm import Session

from .checks import BPMN, LANE_ID, NS, SPIFF, Problem, check_diagram
from .errors import DiagramError, NotFoundError
from .forms import make_validator, read_form_file
from .models import ProcessSpecVersion


@dataclass(frozen=True)
class TaskInfo:
    bpmn_id: str
    name: str
    lane: str
    role: str
    form: str
    ui_form: str
    due_days: int | None
    names: dict  # {"fi": name in the diagram, "sv"/"en": from properties name_sv / name_en}


@dataclass
class LoadedSpec:
    version_id: int
    process_id: str
    version: int
    spec: object
    subprocess_specs: dict
    forms: dict
    tasks: dict[str, TaskInfo] = field(default_factory=dict)
    start_task: str | None = None  # the first user task after the start event
    _validators: dict = field(default_factory=dict)

    def form(self, filename: str) -> dict:
        return self.forms.get(filename) or {}

    def validator(self, filename: str):
        """A JSON Schema validator per form, built once per version."""
        cached = self._validators.get(filename)
        if cached is None:
            cached = self._validators[filename] = make_validator(self.form(filename))
        return cached


@dataclass(frozen=True)
class Bundle:
    """A diagram file with the forms it references, ready to be checked and stored."""

    path: Path
    bpmn: bytes
    forms: dict
    process_id: str
    name: str
    content_hash: str


def diagram_files(processes_dir: Path) -> list[Path]:
    return sorted(processes_dir.glob("*/*.bpmn"))


def read_bundle(path: Path, forms_dir: Path) -> Bundle:
    """Read and check one diagram with its forms; raise :class:`DiagramError` naming every problem."""
    data = path.read_bytes()
    forms: dict = {}

    def read_form(filename: str) -> dict:
        forms[filename] = read_form_file(forms_dir, filename)
        return forms[filename]

    problems, root = check_diagram(data, path.name, read_form)
    if root is not None and not problems:
        problems += _parse_problems(data, forms, path.name)
    if problems:
        raise DiagramError(problems)
    process = root.find("bpmn:process", NS)
    return Bundle(path, data, forms, process.get("id"), process.get("name") or "", content_hash(data, forms))


def content_hash(data: bytes, forms: dict) -> str:
    """The identity of a version: the diagram's bytes and its forms' content."""
    return hashlib.sha256(data + b"\0" + json.dumps(forms, sort_keys=True).encode()).hexdigest()


def _parse_problems(data: bytes, forms: dict, filename: str) -> list[Problem]:
    try:
        parse(data)
    except Exception as err:  # the library's own parse errors, whatever their class
        return [Problem(filename, "process", f"SpiffWorkflow cannot run it: {err}")]
    return []


def parse(data: bytes, process_id: str | None = None):
    from .checks import parse_xml

    root = parse_xml(data)
    parser = SpiffBpmnParser()  # XSD validation already done by check_diagram
    parser.add_bpmn_xml(root, "diagram.bpmn")
    process_id = process_id or root.find("bpmn:process", NS).get("id")
    return root, parser.get_spec(process_id), parser.get_subprocess_specs(process_id)


def sync(session: Session, processes_dir: Path, forms_dir: Path) -> list[ProcessSpecVersion]:
    """Store every diagram in ``processes_dir`` whose content is new. All are checked first:
    one broken diagram stores nothing and raises, naming the file, element and problem."""
    bundles, problems = [], []
    for path in diagram_files(processes_dir):
        try:
            bundles.append(read_bundle(path, forms_dir))
        except DiagramError as err:
            problems += err.problems
    if problems:
        raise DiagramError(problems)
    return [store(session, b) for b in bundles]


def latest_row(session: Session, process_id: str) -> ProcessSpecVersion | None:
    return session.scalar(
        select(ProcessSpecVersion)
        .where(ProcessSpecVersion.process_id == process_id)
        .order_by(ProcessSpecVersion.version.desc())
        .limit(1)
    )


def store(session: Session, bundle: Bundle, *, deployed_by_id: int | None = None, note: str = "") -> ProcessSpecVersion:
    """The stored version with the bundle's content: the existing one, or a new newest version (see the
    module docstring). ``deployed_by_id`` None means shipped in processes/."""
    from .process_diff import compare

    existing = session.scalar(select(ProcessSpecVersion).where(ProcessSpecVersion.content_hash == bundle.content_hash))
    if existing is not None:
        return existing
    previous = latest_row(session, bundle.process_id)
    changes = compare(previous.bpmn, previous.forms, bundle.bpmn, bundle.forms) if previous is not None else None
    row = ProcessSpecVersion(
        process_id=bundle.process_id,
        version=(previous.version if previous is not None else 0) + 1,
        content_hash=bundle.content_hash,
        name=bundle.name,
        bpmn=bundle.bpmn.decode("utf-8"),
        forms=bundle.forms,
        source=str(bundle.path.name),
        deployed_by_id=deployed_by_id,
        change_note=note,
        changes=changes,
    )
    if previous is not None and previous.deployed_by_id is not None and deployed_by_id is None:
        row.changes = changes | {"supersedes": previous.version}
        _shipped_supersedes(session, row, previous)
    session.add(row)
    session.flush()
    return row


def _shipped_supersedes(session: Session, row: ProcessSpecVersion, previous: ProcessSpecVersion) -> None:
    """A changed shipped file replaces a deployed version as the newest: say so loudly."""
    from . import audit
    from .models import Organisation

    logging.getLogger("valtuus.processes").warning(
        "%s: the changed shipped file becomes version %d, superseding version %d deployed by a process owner",
        row.process_id,
        row.version,
        previous.version,
    )
    details = {"process_id": row.process_id, "version": row.version, "supersedes": previous.version}
    for org_id in session.scalars(select(Organisation.id)):
        audit.record(session, org_id, "process.shipped_version_supersedes_deployed", details=details)


class SpecCache:
    """Parsed specs by version id. Versions never change, so entries never go stale."""

    def __init__(self):
        self._by_version: dict[int, LoadedSpec] = {}
        self._latest: dict[str, int] = {}

    def get(self, session: Session, version_id: int) -> LoadedSpec:
        loaded = self._by_version.get(version_id)
        if loaded is None:
            row = session.get(ProcessSpecVersion, version_id)
            if row is None:
                raise NotFoundError(f"process version {version_id} does not exist")
            loaded = self._by_version[version_id] = _load(row)
        return loaded

    def latest(self, session: Session, process_id: str) -> LoadedSpec:
        version_id = session.scalar(
            select(ProcessSpecVersion.id)
            .where(ProcessSpecVersion.process_id == process_id)
            .order_by(ProcessSpecVersion.version.desc())
            .limit(1)
        )
        if version_id is None:
            raise NotFoundError(f"process {process_id!r} has not been loaded")
        return self.get(session, version_id)


def _load(row: ProcessSpecVersion) -> LoadedSpec:
    root, spec, subprocess_specs = parse(row.bpmn.encode("utf-8"), row.process_id)
    lanes = {}
    for lane in root.iter(f"{{{BPMN}}}lane"):
        match = LANE_ID.match(lane.get("id") or "")
        lanes[lane.get("name")] = match.group("role") if match else ""
    tasks = {}
    for node in root.iter(f"{{{BPMN}}}userTask"):
        props = {p.get("name"): p.get("value") for p in node.iter(f"{{{SPIFF}}}property")}
        task_spec = spec.task_specs[node.get("id")]
        lane = task_spec.lane or ""
        due = props.get("dueInDays")
        tasks[node.get("id")] = TaskInfo(
            node.get("id"),
            node.get("name") or node.get("id"),
            lane,
            lanes.get(lane, ""),
            props.get("formJsonSchemaFilename", ""),
            props.get("formUiSchemaFilename", ""),
            int(due) if due and due.isdigit() else None,
            {"fi": node.get("name") or node.get("id")} | {k[5:]: v for k, v in props.items() if k.startswith("name_")},
        )
    return LoadedSpec(
        row.id, row.process_id, row.version, spec, subprocess_specs, row.forms, tasks, _first_user_task(spec, tasks)
    )


def _first_user_task(spec, tasks: dict) -> str | None:
    queue, seen = [spec.start], set()
    while queue:
        task_spec = queue.pop(0)
        if task_spec.name in seen:
            continue
        seen.add(task_spec.name)
        if getattr(task_spec, "bpmn_id", None) in tasks:
            return task_spec.bpmn_id
        queue.extend(task_spec.outputs)
    return None
