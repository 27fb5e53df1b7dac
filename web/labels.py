"""Translated labels for the codes the engine stores (statuses, mandate types, actions, roles)."""

from __future__ import annotations

from flask import Flask
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _

from .formrender import schema_text
from .i18n import localized


def _per_language(build):
    """A label table built once per language (the tables are asked for on every row of a list)."""
    tables: dict[str, dict] = {}

    def lookup(value):
        from flask_babel import get_locale

        key = str(get_locale())
        table = tables.get(key)
        if table is None:
            table = tables[key] = build()
        return table

    return lookup


def status_label(value: str) -> str:
    return _status_labels(None).get(value, value)


@_per_language
def _status_labels() -> dict:
    return {
        "requested": _("Requested"),
        "approved": _("Approved, awaiting registration"),
        "active": _("Active"),
        "rejected": _("Rejected"),
        "revoking": _("Revocation pending"),
        "revoked": _("Revoked"),
        "expired": _("Expired"),
        "cancelled": _("Cancelled"),
        "running": _("In progress"),
        "waiting": _("Waiting"),
        "complete": _("Finished"),
        "error": _("Error"),
    }


def mandate_type_label(value: str | None) -> str:
    return _mandate_labels(None).get(value or "", value or "–")


@_per_language
def _mandate_labels() -> dict:
    return {
        "transaction": _("Transaction mandate (asiointivaltuus)"),
        "granting_right": _("Right to grant mandates (valtuutusoikeus)"),
        "representation": _("Mandate to represent (edustamisvaltuus)"),
        "representative_granting_right": _("Representative's right to grant (edustajan valtuutusoikeus)"),
    }


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
        "authorization.imported": _("Brought in from a list"),
        "authorization.import_updated": _("Updated from a list"),
        "authorization.added_from_suomifi": _("Added after comparing with Suomi.fi"),
        "authorization.closed_not_in_suomifi": _("Ended: not found in Suomi.fi"),
        "authorization.end_date_aligned": _("End date aligned with Suomi.fi"),
        "person.imported": _("Person added from a list"),
        "import.completed": _("List imported"),
        "authorization.revocation_started": _("Revocation started"),
        "authorization.revoked": _("Revoked"),
        "authorization.review_kept": _("Kept in the review"),
        "authorization.review_end_changed": _("End date changed in the review"),
        "revocation.reminder": _("Reminder: invalidate in Suomi.fi"),
        "revocation.escalated": _("Revocation escalated to every main administrator"),
        "review.round_opened": _("Review round opened"),
        "review.decided": _("Review decision"),
        "review.default_applied": _("Default review decision applied"),
        "review.reminder": _("Review reminder"),
        "review.escalated": _("Review escalated to the deputy and the main administrators"),
        "review.round_completed": _("Review round finished"),
        "timer.fired": _("Timer fired"),
        "authorization.expired": _("Expired (end date passed)"),
        "authorization.renewal_offered": _("Renewal offered"),
        "hr_event.received": _("HR event received"),
        "person.joined": _("Employment started (HR)"),
        "person.moved": _("Moved to another unit (HR)"),
        "person.leaving": _("Employment ends (HR)"),
        "person.deactivated": _("Employment ended: person inactive"),
        "person.pseudonymised": _("Personal data pseudonymised (retention)"),
        "person.sign_in_linked": _("Organisation account linked at first sign-in"),
        "process.error": _("Process stopped in error"),
        "process.retried": _("Process retried"),
        "process.resolved": _("Process closed as resolved"),
        "process.deployed": _("New process version deployed"),
        "process.migrated": _("Moved to a newer process version"),
        "process.shipped_version_supersedes_deployed": _("A shipped process version replaced a deployed one"),
        "code_introduction.proposed": _("Code proposal drafted"),
        "code_introduction.corrected": _("Code proposal corrected"),
        "code_introduction.sent_to_dvv": _("Sent to DVV for validation"),
        "code_introduction.validated": _("DVV's validation result recorded"),
        "code_introduction.customer_test": _("Taken into the customer test environment"),
        "code_introduction.production_agreed": _("Production date agreed"),
        "code_introduction.production_postponed": _("Production postponed"),
        "code_introduction.in_production": _("Code in production"),
        "role_profile.created": _("Role profile created"),
        "role_profile.updated": _("Role profile changed"),
        "role_profile.codes_set": _("Role profile's codes changed"),
        "role_profile.suggested": _("Request suggested from the role profile"),
        "role_profile.request_started": _("Suggested request started"),
        "catalog.code_created": _("Authorization code created"),
        "catalog.code_updated": _("Authorization code changed"),
        "catalog.code_replaced": _("Authorization code replaced by a new one"),
        "catalog.code_withdrawn": _("Authorization code withdrawn"),
        "catalog.loaded": _("Shipped code catalog loaded"),
        "webhook.created": _("Webhook address added"),
        "webhook.deleted": _("Webhook address removed"),
        "webhook.paused": _("Webhook address paused"),
        "webhook.resumed": _("Webhook address resumed"),
        "webhook.secret_rotated": _("Webhook signing secret changed"),
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
        "end_revoked": _("Authorization revoked"),
        "end_not_invalidated": _("Revoked; could not be invalidated in Suomi.fi"),
        "end_reviewed": _("Review finished"),
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
        "invalidated": _("Invalidated in Suomi.fi"),
        "not_invalidated": _("Could not be invalidated, or not found"),
        "keep": _("Keep"),
        "change_end": _("Change the end date"),
        "revoke": _("Revoke"),
        "superseded": _("Revocation already started"),
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
        issue_text=issue_text,
        process_title=process_title,
    )
    app.extensions["valtuus_messages"] = _issue_in_language
    app.jinja_env.filters["date"] = lambda d: format_date(d, "d.M.yyyy") if d else "–"
    app.jinja_env.filters["datetime"] = lambda d: format_datetime(d, "d.M.yyyy HH:mm") if d else "–"
    app.jinja_env.filters["fidate"] = _iso_to_date
    app.jinja_env.filters["month"] = lambda d: format_date(d, "LLLL yyyy")


def _iso_to_date(value) -> str:
    from datetime import date

    try:
        return format_date(date.fromisoformat(str(value)), "d.M.yyyy")
    except ValueError:
        return str(value)


def _import_templates() -> dict[str, str]:
    return {
        # reading the file
        "unknown_file_type": _("%(filename)s: only .xlsx and .csv files can be read."),
        "xls_not_supported": _("%(filename)s is an old Excel .xls file. Save it as .xlsx or .csv and try again."),
        "not_xlsx": _("%(filename)s is not a valid .xlsx file."),
        "not_text": _("%(filename)s is not a text (.csv) file."),
        "unreadable_file": _("%(filename)s could not be read: %(reason)s"),
        "file_too_large": _("%(filename)s is too large."),
        "sheet_not_found": _("%(filename)s has no sheet called %(sheet)s (sheets: %(sheets)s)."),
        "no_header_row": _("%(filename)s: no header row was found."),
        "too_many_rows": _("%(filename)s has more than %(limit)s rows."),
        "missing_column": _("The file has no column for %(field)s (expected one of: %(column)s)."),
        # the whole import
        "import_refused": _("Nothing was imported because some rows were rejected. Fix them or choose to skip them."),
        "stale_plan": _("The registry changed after the preview. Check the new preview and confirm again."),
        # people
        "missing_person": _("The row names no person (no name and no e-mail)."),
        "unknown_person": _("No person %(name)s %(email)s in the organisation."),
        "ambiguous_person": _("Several people are called %(name)s: give the e-mail address."),
        "person_without_email": _("%(name)s is not in the organisation and cannot be added without an e-mail address."),
        "bad_email": _("%(email)s is not an e-mail address."),
        "person_created": _("%(name)s <%(email)s> will be added to the organisation."),
        "email_differs": _("No one has the e-mail %(email)s; %(name)s was matched by name (their e-mail is "
                           "%(person_email)s)."),
        "name_differs": _("The e-mail %(email)s belongs to %(person_name)s, not %(name)s."),
        "unit_differs": _("%(name)s was found in %(person_unit)s, not in %(unit)s."),
        "unknown_unit": _("Unit %(unit)s was not found."),
        "person_inactive": _("%(name)s is marked as no longer working in the organisation."),
        # codes
        "missing_code": _("The row names no authorization."),
        "unknown_code": _("Unknown authorization %(code)s. Closest in the catalog: %(suggestions)s"),
        "ambiguous_code": _("%(code)s matches several authorizations (%(matches)s): use the code's identifier."),
        "code_withdrawn": _("Authorization %(code)s has been withdrawn from the catalog."),
        # values
        "bad_date": _("%(column)s: %(value)s is not a date (write it as d.m.yyyy)."),
        "end_before_start": _("The end date is before the start date."),
        "open_ended": _("No end date: Suomi.fi requires one."),
        "too_long": _("Valid for more than 25 years: Suomi.fi allows at most 25."),
        "expired_by_date": _("The end date %(valid_until)s has passed: brought in as expired."),
        "bad_mandate_type": _("Unknown mandate type %(value)s."),
        "bad_status": _("Unknown status %(value)s."),
        "identity_code": _("%(column)s: contains a personal identity code (henkilötunnus). Remove it: none is "
                           "stored."),
        "status_not_importable": _("Status %(value)s cannot be imported: only active, expired and revoked "
                                   "authorizations can be brought in."),
        "duplicate_row": _("Same person and authorization as row %(row)s."),
        "request_in_progress": _("A request for this authorization is in progress (%(status)s): finish it there."),
        "was_closed": _("The registry has this authorization as %(status)s with the same dates; it will be added "
                        "as active."),
        "bad_mapping": _("The column mapping could not be used."),
    }


def issue_text(issue) -> str:
    """An import problem (engine Issue, TableError or ImportRefused) in the reader's language."""
    code = getattr(issue, "code", "")
    params = {k: v for k, v in (getattr(issue, "params", None) or {}).items()}
    for key in ("status",):
        if key in params:
            params[key] = status_label(str(params[key]))
    for key in ("valid_until",):
        if key in params:
            params[key] = _iso_to_date(params[key])
    params = {k: ("" if v is None else v) for k, v in params.items()}
    template = _import_templates().get(code)
    if template is None:
        return issue.text() if hasattr(issue, "text") else str(issue)
    try:
        return " ".join((template % params).split())
    except (KeyError, TypeError, ValueError):
        return issue.text() if hasattr(issue, "text") else str(issue)


def _issue_in_language(issue, language: str) -> str:
    """For the command line: an import problem in the operator's chosen language."""
    from flask_babel import force_locale

    with force_locale(language):
        return issue_text(issue)


def process_title(process_id: str, instance_id: int) -> str:
    """A process page's title: what kind of process it is, and its number."""
    if process_id == "authorization_review":
        return _("Review #%(id)s", id=instance_id)
    if process_id == "authorization_revocation":
        return _("Revocation #%(id)s", id=instance_id)
    if process_id == "code_introduction":
        return _("Code proposal #%(id)s", id=instance_id)
    if process_id == "role_profile_suggestion":
        return _("Suggested request #%(id)s", id=instance_id)
    return _("Request #%(id)s", id=instance_id)
