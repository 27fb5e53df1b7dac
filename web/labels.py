"""Translated labels for the codes the engine stores (statuses, mandate types, actions, roles)."""

from __future__ import annotations

from flask import Flask
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _

from .formrender import schema_text
from .i18n import localized


def status_label(value: str) -> str:
    return {
        "requested": _("Requested"),
        "approved": _("Approved, awaiting registration"),
        "active": _("Active"),
        "rejected": _("Rejected"),
        "revoked": _("Revoked"),
        "expired": _("Expired"),
        "cancelled": _("Cancelled"),
        "running": _("In progress"),
        "waiting": _("Waiting"),
        "complete": _("Finished"),
        "error": _("Error"),
    }.get(value, value)


def mandate_type_label(value: str | None) -> str:
    return {
        "transaction": _("Transaction mandate (asiointivaltuus)"),
        "granting_right": _("Right to grant mandates (valtuutusoikeus)"),
        "representation": _("Mandate to represent (edustamisvaltuus)"),
        "representative_granting_right": _("Representative's right to grant (edustajan valtuutusoikeus)"),
    }.get(value or "", value or "–")


def action_label(value: str) -> str:
    return {
        "process.started": _("Request started"),
        "process.completed": _("Process finished"),
        "task.completed": _("Step done"),
        "authorization.requested": _("Authorization requested"),
        "authorization.approved": _("Authorization approved"),
        "authorization.rejected": _("Authorization rejected"),
        "authorization.registered": _("Registered in Suomi.fi"),
        "authorization.registration_failed": _("Registration in Suomi.fi failed"),
        "authorization.cancelled": _("Removed from the request"),
        "timer.fired": _("Timer fired"),
    }.get(value, value)


def role_label(value: str) -> str:
    return {
        "employee": _("Employee"),
        "supervisor": _("Supervisor"),
        "director": _("Director"),
        "administrator": _("Main administrator"),
        "process_owner": _("Process owner"),
    }.get(value, value)


def outcome_label(value: str) -> str:
    return {
        "end_active": _("Authorization active"),
        "end_rejected": _("Rejected"),
        "end_declined": _("Not endorsed by the supervisor"),
        "end_not_registered": _("Not registered"),
    }.get(value, value)


def decision_label(value: str) -> str:
    return {
        "endorse": _("Endorsed"),
        "decline": _("Not endorsed"),
        "approve": _("Approved"),
        "reject": _("Rejected"),
        "return": _("Returned for clarification"),
        "registered": _("Registered"),
        "failed": _("Could not register"),
    }.get(value, value)


def step_name(step) -> str:
    """A process step's name in the current language: a task row, or the details of its audit event."""
    if isinstance(step, dict):
        return localized(step.get("names") or {"fi": step.get("name", "")})
    return localized(step.names or {"fi": step.name})


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        status_label=status_label,
        mandate_type_label=mandate_type_label,
        action_label=action_label,
        role_label=role_label,
        outcome_label=outcome_label,
        decision_label=decision_label,
        schema_text=schema_text,
        step_name=step_name,
    )
    app.jinja_env.filters["date"] = lambda d: format_date(d, "d.M.yyyy") if d else "–"
    app.jinja_env.filters["datetime"] = lambda d: format_datetime(d, "d.M.yyyy HH:mm") if d else "–"
    app.jinja_env.filters["fidate"] = _iso_to_date


def _iso_to_date(value) -> str:
    from datetime import date

    try:
        return format_date(date.fromisoformat(str(value)), "d.M.yyyy")
    except ValueError:
        return str(value)
