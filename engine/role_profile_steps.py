"""Role profiles in the processes: the request's profile check, and the joiner's suggested request.

- ``profiles.check_request`` (authorization_request, after the form): codes outside the chosen role profile need
  an extra justification; otherwise the form is refused with a per-field error and nothing is written.
- A joiner whose HR job title matches a profile gets ``processes/role_profile_suggestion``: the supervisor confirms
  (may remove codes, or add some with an extra justification) or declines; ``profiles.start_suggested_request``
  then starts the joiner's request in the same transaction, on the supervisor's behalf (as if they had filled it in
  for their employee).
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .clock import local_date
from .errors import FormValidationError, NotFoundError
from .models import Authorization, AuthorizationStatus, Person
from .operations import OperationContext, operation
from .registry import add_months
from .role_profiles import (
    MIN_EXTRA_JUSTIFICATION,
    active_code_ids,
    justification_draft,
    match_title,
    outside_profile,
    profiles,
)

PROCESS = "role_profile_suggestion"
REQUEST_FIELDS = ("codes", "justification", "valid_from", "valid_until", "role_profile", "extra_justification")
HELD = (AuthorizationStatus.REQUESTED, AuthorizationStatus.APPROVED, AuthorizationStatus.ACTIVE)


def _form(data: dict) -> dict:
    return {k: data[k] for k in REQUEST_FIELDS if k in data}


@operation("profiles.check_request")
def check_request(ctx: OperationContext):
    """Refuse codes outside the chosen role profile unless the extra justification explains them."""
    data = ctx.data
    try:
        outside = outside_profile(ctx.session, ctx.organisation_id, data.get("role_profile"), data.get("codes") or [])
    except NotFoundError:
        raise FormValidationError({"role_profile": [{"code": "invalid_choice"}]}, _form(data)) from None
    extra = str(data.get("extra_justification") or "").strip()
    if outside.code_ids and len(extra) < MIN_EXTRA_JUSTIFICATION:
        error = {"code": "minLength", "params": {"limit": MIN_EXTRA_JUSTIFICATION}} if extra else {"code": "required"}
        raise FormValidationError({"extra_justification": [error]}, _form(data))
    return {"role_profile": data.get("role_profile") or None, "outside_profile": outside.code_ids}


# -- the joiner's suggestion ----------------------------------------------------------------------------------


def suggest_for_joiner(
    host, session: Session, organisation_id: int, person: Person, title: str, start: date
) -> dict | None:
    """Start the supervisor's confirmation of a suggested request when the joiner's title matches a profile.

    Returns None when no profile matches; else ``{"profile", "instance_id"}``, or ``{"profile", "skipped"}``
    when there is no supervisor to confirm or the joiner already has (or has asked for) every code."""
    found = match_title(profiles(session, organisation_id), title or "")
    if found is None:
        return None
    held = set(
        session.scalars(
            select(Authorization.code_id).where(
                Authorization.organisation_id == organisation_id,
                Authorization.holder_id == person.id,
                Authorization.status.in_([s.value for s in HELD]),
            )
        )
    )
    codes = [c for c in active_code_ids(found) if c not in held]
    if not codes:
        return {"profile": found.key, "skipped": "already_held"}
    if person.supervisor_id is None:
        return {"profile": found.key, "skipped": "no_supervisor"}
    now = host.clock()
    valid_from = max(start, local_date(now))
    data = {
        "role_profile": found.key,
        "role_profile_name": found.name,
        "suggested_codes": codes,
        "codes": codes,
        "justification": justification_draft(found, person.language or "fi", codes),
        "valid_from": valid_from.isoformat(),
        "valid_until": add_months(valid_from, 12).isoformat(),
    }
    instance_id = host.start_system_process(PROCESS, organisation_id, subject_id=person.id, data=data, session=session)
    audit.record(
        session,
        organisation_id,
        "role_profile.suggested",
        instance_id=instance_id,
        details={"person_id": person.id, "profile": found.key, "codes": codes},
        at=now,
    )
    return {"profile": found.key, "instance_id": instance_id}


class _SessionBound:
    """Stands in for the Database inside a running command: its unit of work is the command's own session (no
    commit, no second transaction), so the request commits or rolls back with the step that starts it."""

    def __init__(self, session: Session):
        self.session = session

    @property
    def is_sqlite(self) -> bool:
        return self.session.get_bind().dialect.name == "sqlite"

    @contextmanager
    def unit_of_work(self):
        yield self.session


@operation("profiles.start_suggested_request")
def start_suggested_request(ctx: OperationContext):
    """The supervisor confirmed: start the joiner's request with the codes chosen, on the supervisor's behalf (the
    request's own checks apply: its form, and an extra justification for codes outside the profile)."""
    from .revocation import command_host

    data = ctx.data
    codes = [int(c) for c in data.get("codes") or []]
    if not codes:
        raise FormValidationError({"codes": [{"code": "required"}]}, _form(data))
    host = command_host(ctx)
    host.db = _SessionBound(ctx.session)
    form = {**_form(data), "codes": codes}  # a code added outside the profile needs the extra justification
    try:
        result = host.start_request(ctx.actor_id, ctx.subject_person_id, form)
    except FormValidationError as err:  # shown on the confirmation form, with the decision as it was given
        raise FormValidationError(err.errors, {**form, "suggestion_decision": "confirm"}) from None
    audit.record(
        ctx.session,
        ctx.organisation_id,
        "role_profile.request_started",
        actor_id=ctx.actor_id,
        instance_id=ctx.instance_id,
        details={"request_instance_id": result.instance_id, "profile": data.get("role_profile"), "codes": codes},
        at=ctx.now,
    )
    return {"request_instance_id": result.instance_id}
