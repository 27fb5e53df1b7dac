"""Bringing the existing lists in (upload → preview → confirm) and comparing with Suomi.fi (pääkäyttäjä only).

The uploaded file is kept in the database between the preview and the confirmation, so any worker can
serve the next step; it is deleted once imported or cancelled. The preview is computed again on
confirmation and must match what the pääkäyttäjä saw (its fingerprint travels in the form): if the
registry changed in between, the new preview is shown instead and nothing is written.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import PurePath

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import delete

from engine import importer
from engine import reconcile as suomifi
from engine.clock import local_date
from engine.errors import EngineError
from engine.models import ImportUpload
from engine.models.base import utcnow
from engine.tabular import OLE_MAGIC, ZIP_MAGIC, TableError

from ..auth import role_required
from ..host import host
from ..labels import issue_text

bp = Blueprint("imports", __name__, url_prefix="/registry")

ALLOWED_SUFFIXES = (".xlsx", ".csv", ".txt")
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
UPLOAD_LIFETIME = timedelta(days=1)
PREVIEW_ROWS = 500


def _read_upload(kind: str) -> ImportUpload | None:
    """Validate the uploaded file; flash the reason and return None when it cannot be used."""
    file = request.files.get("file")
    if file is None or not file.filename:
        flash(_("Choose a file to upload."), "error")
        return None
    name = PurePath(file.filename).name[:200]
    if not name.lower().endswith(ALLOWED_SUFFIXES):
        flash(_("Only .xlsx and .csv files can be imported."), "error")
        return None
    data = file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        flash(_("The file is too large (at most %(mb)s MB).", mb=MAX_UPLOAD_BYTES // (1024 * 1024)), "error")
        g.upload_status = 413
        return None
    if not data:
        flash(_("The file is empty."), "error")
        return None
    if data.startswith(OLE_MAGIC):  # an old binary .xls, whatever its name: say how to fix it
        flash(issue_text(TableError("xls_not_supported", filename=name)), "error")
        return None
    if not content_matches_name(name, data):
        flash(_("The file's content is not what its name says: only .xlsx and .csv files can be imported."), "error")
        return None
    options = {"create_people": request.form.get("create_people") == "1"}
    mapping_file = request.files.get("mapping")
    if mapping_file is not None and mapping_file.filename:
        text = mapping_file.read(64 * 1024 + 1)
        try:
            if len(text) > 64 * 1024:
                raise ValueError("too large")
            importer.load_mapping(text.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, EngineError) as err:
            flash(_("The column mapping could not be used: %(reason)s", reason=str(err)), "error")
            return None
        options["mapping"] = text.decode("utf-8")
    return ImportUpload(
        organisation_id=g.user.organisation_id,
        uploaded_by_id=g.user.id,
        kind=kind,
        filename=name,
        sha256=hashlib.sha256(data).hexdigest(),
        content=data,
        options=options,
        created_at=utcnow(),
    )


def content_matches_name(name: str, data: bytes) -> bool:
    """Content sniffing before anything is stored: an .xlsx is a zip; a .csv/.txt is text (UTF-16 with its BOM,
    else no NUL bytes) or an .xlsx saved under the wrong name, which the reader accepts too."""
    if name.lower().endswith(".xlsx"):
        return data.startswith(ZIP_MAGIC)
    return data.startswith((ZIP_MAGIC, b"\xff\xfe", b"\xfe\xff")) or b"\x00" not in data[:4096]


def _store(upload: ImportUpload) -> int:
    with host().db.unit_of_work() as s:
        # uploads nobody confirmed are not kept around
        s.execute(delete(ImportUpload).where(ImportUpload.created_at < utcnow() - UPLOAD_LIFETIME))
        s.add(upload)
        s.flush()
        return upload.id


def _upload(session, upload_id: int, kind: str) -> ImportUpload:
    upload = session.get(ImportUpload, upload_id)
    if upload is None or upload.organisation_id != g.user.organisation_id or upload.kind != kind:
        abort(404)
    return upload


def _mapping(upload: ImportUpload):
    text = (upload.options or {}).get("mapping")
    if not text:
        return None
    base = importer.SUOMIFI_MAPPING if upload.kind == "suomifi" else importer.DEFAULT_MAPPING
    return importer.load_mapping(text, base=base)


def _plan(session, upload: ImportUpload):
    return importer.plan_import(
        session,
        upload.organisation_id,
        upload.content,
        upload.filename,
        mapping=_mapping(upload),
        create_people=bool((upload.options or {}).get("create_people")),
        today=local_date(utcnow()),
    )


@bp.get("/import")
@role_required("administrator")
def new():
    return render_template("imports/new.html", max_mb=MAX_UPLOAD_BYTES // (1024 * 1024))


@bp.post("/import")
@role_required("administrator")
def upload():
    upload = _read_upload("authorizations")
    if upload is None:
        status = g.get("upload_status", 400)
        return render_template("imports/new.html", max_mb=MAX_UPLOAD_BYTES // (1024 * 1024)), status
    return redirect(url_for("imports.preview", upload_id=_store(upload)), 303)


@bp.get("/import/<int:upload_id>")
@role_required("administrator")
def preview(upload_id: int):
    with host().db.reader() as s:
        upload = _upload(s, upload_id, "authorizations")
        try:
            plan = _plan(s, upload)
        except TableError as err:
            flash(issue_text(err), "error")
            return render_template("imports/new.html", max_mb=MAX_UPLOAD_BYTES // (1024 * 1024)), 400
        return render_template("imports/preview.html", upload=upload, plan=plan, limit=PREVIEW_ROWS)


@bp.post("/import/<int:upload_id>")
@role_required("administrator")
def confirm(upload_id: int):
    skip_invalid = request.form.get("skip_invalid") == "1"
    now = utcnow()
    try:
        with host().db.unit_of_work() as s:
            upload = _upload(s, upload_id, "authorizations")
            plan = _plan(s, upload)
            if plan.fingerprint != request.form.get("fingerprint"):
                raise _Changed()
            summary = importer.apply_import(
                s, upload.organisation_id, plan, actor_id=g.user.id, skip_invalid=skip_invalid, now=now
            )
            s.delete(upload)
    except _Changed:
        flash(_("The registry or the file changed after the preview. Check the new preview and confirm again."),
              "error")
        return redirect(url_for("imports.preview", upload_id=upload_id), 303)
    except importer.ImportRefused as err:
        flash(issue_text(err), "error")
        return redirect(url_for("imports.preview", upload_id=upload_id), 303)
    host().db.optimize()  # many rows may have arrived at once
    flash(
        _(
            "Imported: %(created)s new, %(updated)s updated, %(unchanged)s unchanged, %(skipped)s rejected rows "
            "skipped.",
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
            skipped=summary.skipped,
        ),
        "success",
    )
    return redirect(url_for("registry.index", sort="holder"), 303)


class _Changed(Exception):
    pass


@bp.post("/import/<int:upload_id>/cancel")
@role_required("administrator")
def cancel(upload_id: int):
    with host().db.unit_of_work() as s:
        s.delete(_upload(s, upload_id, "authorizations"))
    flash(_("The import was cancelled. Nothing was changed."), "info")
    return redirect(url_for("imports.new"), 303)


# --- comparison with Suomi.fi -------------------------------------------------------------------------


@bp.get("/reconcile")
@role_required("administrator")
def reconcile():
    return render_template("imports/reconcile_new.html", max_mb=MAX_UPLOAD_BYTES // (1024 * 1024))


@bp.post("/reconcile")
@role_required("administrator")
def reconcile_upload():
    upload = _read_upload("suomifi")
    if upload is None:
        status = g.get("upload_status", 400)
        return render_template("imports/reconcile_new.html", max_mb=MAX_UPLOAD_BYTES // (1024 * 1024)), status
    return redirect(url_for("imports.comparison", upload_id=_store(upload)), 303)


def _compare(session, upload: ImportUpload):
    return suomifi.compare_with_suomifi(
        session,
        upload.organisation_id,
        upload.content,
        upload.filename,
        mapping=_mapping(upload),
        today=local_date(utcnow()),
    )


@bp.get("/reconcile/<int:upload_id>")
@role_required("administrator")
def comparison(upload_id: int):
    with host().db.reader() as s:
        upload = _upload(s, upload_id, "suomifi")
        try:
            result = _compare(s, upload)
        except TableError as err:
            flash(issue_text(err), "error")
            return render_template("imports/reconcile_new.html", max_mb=MAX_UPLOAD_BYTES // (1024 * 1024)), 400
        return render_template("imports/reconcile.html", upload=upload, result=result)


@bp.post("/reconcile/<int:upload_id>")
@role_required("administrator")
def reconcile_act(upload_id: int):
    action = request.form.get("action", "")
    key = request.form.get("key", "")
    now = utcnow()
    with host().db.unit_of_work() as s:
        upload = _upload(s, upload_id, "suomifi")
        result = _compare(s, upload)
        if action == "add":
            line = next((ln for ln in result.only_in_suomifi if ln.key == key), None)
            if line is None:
                return _gone(upload_id)
            suomifi.add_from_suomifi(s, upload.organisation_id, line, g.user.id, now)
            message = _("Added to the registry.")
        elif action == "close":
            line = next((ln for ln in result.only_in_registry if ln.key == key), None)
            if line is None:
                return _gone(upload_id)
            suomifi.close_missing_in_suomifi(s, upload.organisation_id, line.authorization_id, g.user.id, now)
            message = _("Marked as ended in the registry.")
        elif action == "align":
            line = next((ln for ln in result.end_date_differs if ln.key == key), None)
            if line is None:
                return _gone(upload_id)
            suomifi.align_end_date(
                s, upload.organisation_id, line.authorization_id, line.suomifi_valid_until, g.user.id, now
            )
            message = _("The end date in the registry now matches Suomi.fi.")
        else:
            abort(400)
    flash(message, "success")
    return redirect(url_for("imports.comparison", upload_id=upload_id), 303)


def _gone(upload_id: int):
    flash(_("That line has already been handled or no longer applies."), "error")
    return redirect(url_for("imports.comparison", upload_id=upload_id), 303)


@bp.post("/reconcile/<int:upload_id>/done")
@role_required("administrator")
def reconcile_done(upload_id: int):
    with host().db.unit_of_work() as s:
        s.delete(_upload(s, upload_id, "suomifi"))
    return redirect(url_for("registry.index"), 303)

