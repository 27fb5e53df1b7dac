"""Prosessit: the diagrams' versions, what changed between two, downloads, and deploying a new version.

For process owners and pääkäyttäjät. Versions are shared by every organisation hosted here; the count of running
instances per version is the signed-in user's organisation's only.
"""

from __future__ import annotations

from functools import wraps
from pathlib import PurePath

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from engine import instance_migration, process_versions
from engine.checks import MAX_DIAGRAM_BYTES
from engine.errors import ConflictError, DiagramError
from engine.forms import MAX_FORM_BYTES

from ..auth import login_required
from ..host import host
from ..process_problems import problem_reason

bp = Blueprint("processes", __name__, url_prefix="/processes")

ROLES = ("process_owner", "administrator")
MAX_FORMS = process_versions.MAX_FORM_FILES
KIND_LABELS = {
    "process": _l("Process"),
    "lane": _l("Lane"),
    "task": _l("Task"),
    "timer": _l("Timer"),
    "event": _l("Event"),
    "gateway": _l("Gateway"),
    "flow": _l("Flow"),
    "form": _l("Form"),
}
CHANGE_LABELS = {"added": _l("added"), "removed": _l("removed"), "changed": _l("changed")}
STEP_CHANGES = {  # a migration's changes ahead of an instance, and why an instance cannot move
    "added": _l("Step “%(a)s” is added"),
    "removed": _l("Step “%(a)s” is removed"),
    "renamed": _l("Step “%(a)s” is renamed “%(b)s”"),
    "changed": _l("Step “%(a)s” changes"),
    "timer": _l("The timer “%(a)s” it waits for starts counting again"),
}
MIGRATION_REASONS = {
    "removed": _l("The step “%(a)s” it has reached is not in the new version"),
    "changed": _l("The step “%(a)s” it waits at works differently in the new version"),
    "error": _l("It is in error: retry or resolve it first"),
    "subprocess": _l("Its subprocess “%(a)s” is not in the new version"),
}
ATTRIBUTE_LABELS = {
    "name": _l("name"),
    "lane": _l("lane"),
    "form": _l("form"),
    "ui_form": _l("form layout"),
    "due_days": _l("due in days"),
    "operation": _l("service operation"),
    "timer": _l("timer"),
    "condition": _l("condition"),
    "from": _l("from"),
    "to": _l("to"),
    "default": _l("default flow"),
    "type": _l("type"),
    "attached_to": _l("attached to"),
    "interrupting": _l("interrupting"),
    "executable": _l("executable"),
    "required": _l("required"),
    "title": _l("title"),
}


def owner_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not any(g.user.has(role) for role in ROLES):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


@bp.context_processor
def labels():
    return {
        "kind_label": lambda k: KIND_LABELS.get(k, k),
        "change_label": lambda c: CHANGE_LABELS.get(c, c),
        "attribute_label": lambda a: ATTRIBUTE_LABELS.get(a, a),
        "problem_reason": problem_reason,
        "step_change": lambda c: _words(STEP_CHANGES, c),
        "migration_reason": lambda r: _words(MIGRATION_REASONS, r),
    }


def _words(labels: dict, item: tuple) -> str:
    kind, *names = item
    names += ["", ""]
    return str(labels.get(kind, kind)) % {"a": names[0], "b": names[1]}


@bp.get("/")
@owner_required
def index():
    with host().db.reader() as session:
        rows = process_versions.versions(session, g.user.organisation_id)
    grouped: dict[str, list] = {}
    for row in rows:
        grouped.setdefault(row.process_id, []).append(row)
    return render_template("processes/index.html", processes=grouped)


@bp.get("/<process_id>/diff")
@owner_required
def diff(process_id: str):
    old, new = request.args.get("old", type=int), request.args.get("new", type=int)
    if old is None or new is None:
        abort(400)
    with host().db.reader() as session:
        before = process_versions.get_version(session, process_id, old)  # NotFoundError → 404
        after = process_versions.get_version(session, process_id, new)
        changes = process_versions.diff(before, after)
        name = after.name
    return render_template("processes/diff.html", process_id=process_id, name=name, old=old, new=new, changes=changes)


@bp.get("/<process_id>/<int:version>.bpmn")
@owner_required
def download(process_id: str, version: int):
    with host().db.reader() as session:
        row = process_versions.get_version(session, process_id, version)
        body = row.bpmn.encode("utf-8")
    return _attachment(body, "application/xml", f"{process_id}-v{version}.bpmn")


@bp.get("/<process_id>/<int:version>/forms.zip")
@owner_required
def download_forms(process_id: str, version: int):
    with host().db.reader() as session:
        body = process_versions.forms_zip(process_versions.get_version(session, process_id, version))
    return _attachment(body, "application/zip", f"{process_id}-v{version}-forms.zip")


def _attachment(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/deploy")
@owner_required
def deploy_form():
    return render_template("processes/deploy.html", **_limits())


@bp.post("/deploy")
@owner_required
def deploy():
    files, error = _read_files()
    note = request.form.get("note", "").strip()
    if error:
        flash(error, "error")
        return render_template("processes/deploy.html", note=note, **_limits()), 400
    settings = host().settings
    try:
        with host().db.unit_of_work() as session:
            result = process_versions.deploy(session, files, g.user.id, note, forms_dir=settings.forms_dir)
    except DiagramError as err:
        return render_template("processes/deploy.html", problems=err.problems, note=note, **_limits()), 422
    except ConflictError:
        flash(_("Another version was deployed at the same moment. Try again."), "error")
        return render_template("processes/deploy.html", note=note, **_limits()), 409
    if result.identical:
        flash(_("Nothing was deployed: the files are identical to version %(v)s.", v=result.version), "info")
        if result.newest != result.version:
            flash(_("New requests still use version %(newest)s.", newest=result.newest), "info")
        return redirect(url_for(".index", _anchor=f"process-{result.process_id}"), 303)
    flash(
        _("Version %(v)s was deployed. New requests use it; running ones stay on theirs.", v=result.version), "success"
    )
    return redirect(url_for(".diff", process_id=result.process_id, old=result.version - 1, new=result.version), 303)


def _limits() -> dict:
    return {"max_diagram_kb": MAX_DIAGRAM_BYTES // 1000, "max_form_kb": MAX_FORM_BYTES // 1000, "max_forms": MAX_FORMS}


def _read_files() -> tuple[dict[str, bytes], str]:
    """The uploaded diagram and forms by file name, or the reason they cannot be used."""
    diagram = request.files.get("diagram")
    if diagram is None or not diagram.filename:
        return {}, _("Choose the diagram (.bpmn) to deploy.")
    forms = [f for f in request.files.getlist("forms") if f.filename]
    if len(forms) > MAX_FORMS:
        return {}, _("At most %(n)s form files at a time.", n=MAX_FORMS)
    files: dict[str, bytes] = {}
    for upload, limit in [(diagram, MAX_DIAGRAM_BYTES), *((f, MAX_FORM_BYTES) for f in forms)]:
        name = PurePath(upload.filename.replace("\\", "/")).name[:200]
        data = upload.read(limit + 1)
        if len(data) > limit:
            return {}, _("%(name)s is too large (at most %(kb)s kB).", name=name, kb=limit // 1000)
        if name in files:
            return {}, _("Two files are called %(name)s.", name=name)
        files[name] = data
    if not next(iter(files)).lower().endswith(".bpmn"):
        return {}, _("The diagram must be a .bpmn file.")
    return files, ""


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not g.user.has("administrator"):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


@bp.get("/<process_id>/<int:version>/migrate")
@admin_required
def migrate_plan(process_id: str, version: int):
    """The dry run: per unfinished instance on ``version``, what moving it to the newest (or ``?to=``) would change."""
    h = host()
    with h.db.reader() as session:
        newest = process_versions.versions(session, g.user.organisation_id, process_id)
        to = request.args.get("to", type=int) or (newest[0].version if newest else version)
        plans = instance_migration.plan(session, h, process_id, version, to, g.user.organisation_id)
    return render_template("processes/migrate.html", process_id=process_id, old=version, new=to, plans=plans)


@bp.post("/<process_id>/<int:version>/migrate")
@admin_required
def migrate(process_id: str, version: int):
    """Move the instances ticked in the dry run; each one that changed since is refused and left as it was."""
    to = request.form.get("to", type=int)
    chosen = {}
    for value in request.form.getlist("instance"):
        instance_id, _sep, token = value.partition(":")
        if instance_id.isdigit() and token:
            chosen[int(instance_id)] = token
    if to is None:
        abort(400)
    if not chosen:
        flash(_("Choose the processes to move."), "error")
        return redirect(url_for(".migrate_plan", process_id=process_id, version=version, to=to), 303)
    outcomes = instance_migration.migrate(host(), g.user.id, process_id, version, to, chosen)
    moved = sum(o.migrated for o in outcomes)
    moved_text = ngettext(
        "%(num)s process was moved to version %(v)s.", "%(num)s processes were moved to version %(v)s.", moved, v=to
    )
    flash(moved_text, "success" if moved else "info")
    for outcome in outcomes:
        if not outcome.migrated:
            reason = _(
                "Process %(id)s was not moved: it changed since the dry run or cannot move.", id=outcome.instance_id
            )
            flash(reason, "error")
    return redirect(url_for(".migrate_plan", process_id=process_id, version=version, to=to), 303)
