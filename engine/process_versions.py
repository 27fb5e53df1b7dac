"""Deploying new versions of a diagram, listing versions, and the diff between two of them.

A process owner uploads a ``.bpmn`` with the forms they changed. Every check of ``valtuus processes check`` runs
(engine/checks.py: safe XML, BPMN 2.0 XSD, executable, DI, lanes, forms, operations, expressions, timers, flows)
and SpiffWorkflow parses it; any refusal stores nothing. A form the upload does not include is taken from the
newest stored version of the same process (so a change made earlier is not lost), else from forms/ on disk.

Which version new instances start, and how the shipped files in processes/ relate to deployed versions, is the
rule in engine/specs.py: the newest version wins; an unchanged shipped file never displaces a deployed version.
Running instances stay on the version they started with.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import audit, specs
from .checks import NS, Problem, check_diagram, parse_xml
from .errors import ConflictError, DiagramError, NotFoundError
from .forms import MAX_FORM_BYTES, read_form_file
from .models import InstanceStatus, Organisation, Person, ProcessInstance, ProcessSpecVersion
from .process_diff import compare

MAX_NOTE_CHARS = 2000
MAX_FORM_FILES = 40
UNFINISHED = (InstanceStatus.RUNNING, InstanceStatus.WAITING, InstanceStatus.ERROR)


@dataclass(frozen=True)
class Deployed:
    process_id: str
    version: int
    version_id: int
    content_hash: str
    identical: bool  # the upload equals this stored version: nothing new was stored
    changes: dict | None
    newest: int  # the version new instances start (after this deployment)


@dataclass(frozen=True)
class VersionInfo:
    id: int
    process_id: str
    name: str
    version: int
    content_hash: str
    created_at: datetime
    deployed_by: str  # the deployer's name; "" when shipped in processes/
    deployed_by_organisation_id: int | None  # versions are shared: a deployer elsewhere is not named to others
    change_note: str
    changes: dict | None
    source: str
    running: int  # unfinished instances on this version (in the organisation asked about)


def deploy(
    session: Session, files: dict[str, bytes], actor_id: int | None, note: str = "", *, forms_dir: Path
) -> Deployed:
    """Check and store an uploaded diagram with its forms as the process's newest version (audited).

    Raises :class:`DiagramError` listing every problem (file, element, reason) – then nothing is stored.
    An upload identical to a stored version stores nothing and says which version it equals."""
    bundle = check_upload(session, files, forms_dir)
    existing = session.scalar(select(ProcessSpecVersion).where(ProcessSpecVersion.content_hash == bundle.content_hash))
    if existing is not None:
        newest = specs.latest_row(session, existing.process_id).version
        return Deployed(existing.process_id, existing.version, existing.id, existing.content_hash, True, None, newest)
    try:
        row = specs.store(session, bundle, deployed_by_id=actor_id, note=(note or "").strip()[:MAX_NOTE_CHARS])
    except IntegrityError as err:  # another deployment of the same process got the version number first
        raise ConflictError("another version was deployed at the same moment; try again") from err
    _audit(session, row, actor_id)
    return Deployed(row.process_id, row.version, row.id, row.content_hash, False, row.changes, row.version)


def check_upload(session: Session, files: dict[str, bytes], forms_dir: Path) -> specs.Bundle:
    """The upload as a bundle ready to store, or :class:`DiagramError` naming every problem."""
    diagrams = [name for name in files if name.lower().endswith(".bpmn")]
    if len(diagrams) != 1:
        raise DiagramError([Problem("upload", "files", "give exactly one .bpmn file")])
    filename = diagrams[0]
    data = files[filename]
    uploaded, problems = _uploaded_forms({n: b for n, b in files.items() if n != filename})
    process_id = _process_id(data)
    previous = specs.latest_row(session, process_id) if process_id else None
    used: dict = {}

    def read_form(name: str) -> dict:
        if name in uploaded:
            used[name] = uploaded[name]
        elif previous is not None and name in previous.forms:
            used[name] = previous.forms[name]
        else:
            used[name] = read_form_file(forms_dir, name)
        return used[name]

    found, root = check_diagram(data, filename, read_form)
    problems += found
    if root is not None and not found:
        problems += specs._parse_problems(data, used, filename)
    if process_id and previous is None:
        problems.append(Problem(filename, f"process {process_id!r}", "is not a version of any process here"))
    problems += [
        Problem(n, "document", "no user task of the diagram uses this form") for n in set(uploaded) - set(used)
    ]
    if problems:
        raise DiagramError(problems)
    process = root.find("bpmn:process", NS)
    name = process.get("name") or ""
    return specs.Bundle(Path(filename), data, used, process_id, name, specs.content_hash(data, used))


def _uploaded_forms(files: dict[str, bytes]) -> tuple[dict, list[Problem]]:
    forms, problems = {}, []
    if len(files) > MAX_FORM_FILES:
        return {}, [Problem("upload", "files", f"at most {MAX_FORM_FILES} form files")]
    for name, raw in files.items():
        if not name.endswith(".json") or "/" in name or "\\" in name or name.startswith("."):
            problems.append(Problem(name, "document", "forms are plain .json file names"))
        elif len(raw) > MAX_FORM_BYTES:
            problems.append(Problem(name, "document", f"larger than {MAX_FORM_BYTES} bytes"))
        else:
            try:
                forms[name] = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError) as err:
                problems.append(Problem(name, "document", f"not JSON: {err}"))
    return forms, problems


def _process_id(data: bytes) -> str | None:
    try:
        process = parse_xml(data).find("bpmn:process", NS)
    except (ValueError, etree.XMLSyntaxError):
        return None
    return process.get("id") if process is not None else None


def _audit(session: Session, row: ProcessSpecVersion, actor_id: int | None) -> None:
    """Versions are shared by every organisation hosted here, so each one's audit trail records the deployment
    (the deployer is named only in their own organisation's)."""
    actor_org = session.scalar(select(Person.organisation_id).where(Person.id == actor_id)) if actor_id else None
    details = {
        "process_id": row.process_id,
        "version": row.version,
        "content_hash": row.content_hash,
        "note": row.change_note,
    }
    for org_id in session.scalars(select(Organisation.id)):
        actor = actor_id if org_id == actor_org else None
        audit.record(session, org_id, "process.deployed", actor_id=actor, details=details)


def versions(session: Session, organisation_id: int | None, process_id: str | None = None) -> list[VersionInfo]:
    """Every stored version (newest first per process), with the unfinished instances on each – counted in
    ``organisation_id`` only (None: in every organisation, for the operator's CLI)."""
    running = select(ProcessInstance.spec_version_id, func.count().label("n")).where(
        ProcessInstance.status.in_([s.value for s in UNFINISHED])
    )
    if organisation_id is not None:
        running = running.where(ProcessInstance.organisation_id == organisation_id)
    running = running.group_by(ProcessInstance.spec_version_id).subquery()
    v = ProcessSpecVersion
    query = (  # the list's columns only: never the diagrams and forms themselves
        select(v.id, v.process_id, v.name, v.version, v.content_hash, v.created_at, Person.name, Person.organisation_id)
        .add_columns(v.change_note, v.changes, v.source, running.c.n)
        .outerjoin(Person, Person.id == v.deployed_by_id)
        .outerjoin(running, running.c.spec_version_id == v.id)
        .order_by(v.process_id, v.version.desc())
    )
    if process_id is not None:
        query = query.where(v.process_id == process_id)
    return [
        VersionInfo(*row[:6], row[6] or "", row[7], row[8] or "", row[9], row[10], row[11] or 0)
        for row in session.execute(query)
    ]


def get_version(session: Session, process_id: str, version: int) -> ProcessSpecVersion:
    row = session.scalar(
        select(ProcessSpecVersion).where(
            ProcessSpecVersion.process_id == process_id, ProcessSpecVersion.version == version
        )
    )
    if row is None:
        raise NotFoundError(f"process {process_id!r} has no version {version}")
    return row


def diff(old_version: ProcessSpecVersion, new_version: ProcessSpecVersion) -> dict:
    """What changed from ``old_version`` to ``new_version`` (engine/process_diff.py describes the shape)."""
    return compare(old_version.bpmn, old_version.forms, new_version.bpmn, new_version.forms)


def forms_zip(row: ProcessSpecVersion) -> bytes:
    """The version's forms as a zip of .json files, as they would lie in forms/."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(row.forms):
            text = json.dumps(row.forms[name], ensure_ascii=False, indent=2) + "\n"
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()
