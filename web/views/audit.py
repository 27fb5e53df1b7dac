"""The audit log for the pääkäyttäjä: the chain's state (/admin/audit) and CSV downloads of the events about a
person or an authorization of their own organisation."""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, render_template
from flask_babel import gettext as _

from engine import audit_export, tabular
from engine.audit import canonical_json
from engine.audit_verify import ChainBreak, verify
from engine.errors import NotFoundError

from ..auth import role_required
from ..host import host
from ..labels import action_label

bp = Blueprint("audit", __name__)


@bp.get("/admin/audit")
@role_required("administrator")
def admin():
    with host().db.reader() as s:
        result = verify(s, g.user.organisation_id)
    return render_template(
        "audit/admin.html", result=result, problem=break_text(result.problem) if result.problem else None
    )


@bp.get("/audit/people/<int:person_id>.csv")
@role_required("administrator")
def person_csv(person_id: int):
    with host().db.reader() as s:
        try:
            rows = audit_export.person_events(s, g.user.organisation_id, person_id)
        except NotFoundError:
            abort(404)
        return _csv(rows, f"audit-person-{person_id}.csv")


@bp.get("/audit/authorizations/<int:authorization_id>.csv")
@role_required("administrator")
def authorization_csv(authorization_id: int):
    with host().db.reader() as s:
        try:
            rows = audit_export.authorization_events(s, g.user.organisation_id, authorization_id)
        except NotFoundError:
            abort(404)
        return _csv(rows, f"audit-authorization-{authorization_id}.csv")


def _csv(rows: list[audit_export.ExportedEvent], filename: str) -> Response:
    headers, table = export_table(rows)
    return Response(
        tabular.write_csv(headers, table),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def export_table(rows: list[audit_export.ExportedEvent]) -> tuple[list[str], list[list]]:
    """Headers and rows of an audit export (the CLI uses the same), in the current language."""
    headers = [
        _("Number in the chain"),
        _("Event id"),
        _("Time (UTC)"),
        _("Action"),
        _("Description"),
        _("Actor id"),
        _("Actor"),
        _("Authorization id"),
        _("Process id"),
        _("Task id"),
        _("Details"),
        _("Hash"),
    ]
    table = [
        [
            r.event.seq,
            r.event.id,
            r.event.at.isoformat(timespec="seconds"),
            r.event.action,
            action_label(r.event.action),
            r.event.actor_id,
            r.actor.name if r.actor else _("the system"),
            r.event.authorization_id,
            r.event.instance_id,
            r.event.task_id,
            canonical_json(r.event.details),
            r.event.hash,
        ]
        for r in rows
    ]
    return headers, table


def break_text(problem: ChainBreak) -> str:
    """What is wrong with the chain, for a person (the page and ``valtuus audit verify``)."""
    values = {
        "seq": problem.seq,
        "id": problem.event_id,
        "first": problem.expected_seq,
        "other": problem.other_event_id,
    }
    text = {
        "hash_mismatch": _("Event %(seq)s (id %(id)s) has been modified: its content does not match its hash."),
        "head_mismatch": _("Event %(seq)s (id %(id)s) has been modified: it is not the last event the chain recorded."),
        "seq_gap": _("Events have been deleted: numbers from %(first)s are missing before event %(seq)s (id %(id)s)."),
        "head_behind": _("Events have been deleted from the end of the chain: numbers %(first)s–%(seq)s are missing."),
        "seq_duplicate": _("An event has been inserted: number %(seq)s appears twice (ids %(other)s and %(id)s)."),
        "prev_hash_mismatch": _(
            "An event has been inserted or moved: event %(seq)s (id %(id)s) does not follow the event before it."
        ),
        "unchained": _("An event has been inserted past the audit log: id %(id)s has no place in the chain."),
        "head_ahead": _("An event has been inserted after the end of the chain: event %(seq)s (id %(id)s)."),
    }[problem.reason]
    return text % values
