"""HR events over HTTP (token-authenticated JSON), processes in error for the pääkäyttäjä, and renewal offers.

``POST /api/hr/events`` takes one joiner, mover or leaver event from the HR system. The caller authenticates with
``Authorization: Bearer <token>``; valid tokens are configured as SHA-256 hex digests in the organisation's
settings (``hr_token_sha256``) or in VALTUUS_HR_TOKEN_SHA256 (comma-separated). No cookies, so no CSRF token.
"""

from __future__ import annotations

import os
from datetime import timedelta

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import joinedload

from engine import hr_events, lifecycle, scheduler
from engine.clock import local_date
from engine.errors import ConflictError, NotAllowedError, NotFoundError
from engine.models import Authorization, AuthorizationStatus, Organisation, Person, ProcessInstance

from ..auth import role_required
from ..host import host
from ..security import csrf

bp = Blueprint("hr", __name__)


# -- the HR API -------------------------------------------------------------------------------------------


def _env_hashes() -> list[str]:
    return [h.strip().lower() for h in os.environ.get("VALTUUS_HR_TOKEN_SHA256", "").split(",") if h.strip()]


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@bp.post("/api/hr/events")
@csrf.exempt
def receive_event():
    """One HR event as JSON: 200 with the result (also for a duplicate), 400/422 with the reason, 401."""
    payload = request.get_json(silent=True)
    organisation_key = payload.get("organisation") if isinstance(payload, dict) else None
    with host().db.reader() as session:
        organisation_id = hr_events.organisation_for_token(
            session, _bearer(), _env_hashes(), organisation_key if isinstance(organisation_key, str) else None
        )
    if organisation_id is None:
        return (
            {"error": "a valid bearer token is required", "status": 401},
            401,
            {"WWW-Authenticate": 'Bearer realm="valtuushallinta"'},
        )
    if not isinstance(payload, dict):
        result = hr_events.apply_event(host(), organisation_id, payload, source="api")  # audited as received
        return {"error": "the body must be a JSON object (Content-Type: application/json)", **result}, 400
    result = hr_events.apply_event(host(), organisation_id, payload, source="api")
    status = {"applied": 200, "rejected": 422, "failed": 500}[result["status"]]
    return result, status


# -- processes in error -----------------------------------------------------------------------------------


@bp.get("/admin/errors")
@role_required("administrator")
def errors():
    with host().db.reader() as s:
        rows = s.execute(
            select(ProcessInstance, Person)
            .outerjoin(Person, Person.id == ProcessInstance.subject_person_id)
            .where(ProcessInstance.organisation_id == g.user.organisation_id, ProcessInstance.status == "error")
            .order_by(ProcessInstance.updated_at.desc(), ProcessInstance.id.desc())
            .limit(500)
        ).all()
        return render_template("hr/errors.html", rows=rows)


def _instance_action(instance_id: int, action) -> None:
    try:
        action()
    except (NotFoundError, NoResultFound):
        abort(404)
    except NotAllowedError:
        abort(403)
    except ConflictError:
        flash(_("The process is no longer in error."), "info")


@bp.post("/admin/errors/<int:instance_id>/retry")
@role_required("administrator")
def retry(instance_id: int):
    h = host()
    outcome = {"ok": False}

    def run():
        try:
            h.retry_instance(g.user.id, instance_id)
            outcome["ok"] = True
        except (NotFoundError, NotAllowedError, ConflictError, NoResultFound):
            raise
        except Exception as err:  # noqa: BLE001 – the step failed again: record why, show it
            h._mark_error(instance_id, err, h.clock())
            flash(_("The process failed again: %(reason)s", reason=str(err)[:300]), "error")

    _instance_action(instance_id, run)
    if outcome["ok"]:
        flash(_("The process was retried and continues."), "success")
    return redirect(url_for("hr.errors"), 303)


@bp.post("/admin/errors/<int:instance_id>/resolve")
@role_required("administrator")
def resolve(instance_id: int):
    note = request.form.get("note", "").strip()
    outcome = {"ok": False}

    def run():
        scheduler.resolve_instance(host(), g.user.id, instance_id, note)
        outcome["ok"] = True

    _instance_action(instance_id, run)
    if outcome["ok"]:
        flash(_("The process was closed as resolved."), "success")
    return redirect(url_for("hr.errors"), 303)


# -- renewal offers, for the pages that list authorizations -----------------------------------------------


def _renewal_context() -> dict:
    """Per request: the organisation's offer window, today and the people whose renewal the user may start."""
    cached = g.get("_renewal")
    if cached is None:
        today = local_date(host().clock())
        with host().db.reader() as s:
            settings = s.scalar(select(Organisation.settings).where(Organisation.id == g.user.organisation_id))
            reports = set(
                s.scalars(
                    select(Person.id).where(Person.supervisor_id == g.user.id, Person.active.is_(True))
                )
            )
        cached = g._renewal = {
            "today": today,
            "window": lifecycle.renewal_window_days(settings),
            "may_start": reports | {g.user.id},
        }
    return cached


def renewal_offer(row) -> str | None:
    """"link" when the user may start the renewal of this authorization (its holder or their supervisor),
    "note" when it is within the offer window but someone else starts it, else None."""
    if g.get("user") is None:
        return None
    ctx = _renewal_context()
    if not lifecycle.in_renewal_window(row.status, row.valid_until, ctx["today"], ctx["window"]):
        return None
    return "link" if row.holder_id in ctx["may_start"] else "note"


def my_renewals() -> list[Authorization]:
    """The signed-in person's active authorizations within the renewal window (for the front page)."""
    if g.get("user") is None:
        return []
    ctx = _renewal_context()
    with host().db.reader() as s:
        query = (
            select(Authorization)
            .options(joinedload(Authorization.code))
            .where(
                Authorization.organisation_id == g.user.organisation_id,
                Authorization.holder_id == g.user.id,
                Authorization.status == AuthorizationStatus.ACTIVE.value,
                Authorization.valid_until >= ctx["today"],
                Authorization.valid_until <= ctx["today"] + timedelta(days=ctx["window"]),
            )
            .order_by(Authorization.valid_until)
            .limit(20)
        )
        return list(s.scalars(query))


def errors_count() -> int:
    if g.get("user") is None or not g.user.has("administrator"):
        return 0
    with host().db.reader() as s:
        return s.scalar(
            select(func.count(ProcessInstance.id)).where(
                ProcessInstance.organisation_id == g.user.organisation_id, ProcessInstance.status == "error"
            )
        ) or 0


@bp.app_context_processor
def _helpers():
    return {"renewal_offer": renewal_offer, "my_renewals": my_renewals, "processes_in_error": errors_count}

