"""Comparing the registry with a list downloaded from Suomi.fi – never importing it – and acting on each difference.

Suomi.fi offers no API listing the mandates an organisation has granted; its pages may offer a csv download, so
the file is read with a configurable column mapping (SUOMIFI_MAPPING) and the differences are listed: only in
Suomi.fi, only in the registry, end dates that differ. Each action on a line is its own audited change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .clock import local_date
from .errors import ConflictError, EngineError, NotFoundError
from .importer import (
    SUOMIFI_MAPPING,
    Issue,
    Mapping,
    RowResult,
    S,
    _email,
    _jsonable,
    _organisation,
    _Planner,
    _resolve_columns,
    _text,
)
from .models import Authorization, AuthorizationCode, AuthorizationSource, Person
from .registry import next_review_date, review_interval_months
from .tabular import read_table


@dataclass
class ReconciliationLine:
    kind: str  # "only_in_suomifi" | "only_in_registry" | "end_date_differs" | "unmatched"
    key: str  # stable: the web names a line by it when acting on it
    row: int | None = None  # the file's row (None for only_in_registry)
    name: str = ""
    code: str = ""  # the code's Finnish name, or the file's text when unmatched
    person_id: int | None = None
    code_id: int | None = None
    authorization_id: int | None = None
    suomifi_valid_from: date | None = None
    suomifi_valid_until: date | None = None
    registry_valid_from: date | None = None
    registry_valid_until: date | None = None
    issues: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)


@dataclass
class Reconciliation:
    filename: str
    sha256: str
    issues: list[Issue]
    only_in_suomifi: list[ReconciliationLine]
    only_in_registry: list[ReconciliationLine]
    end_date_differs: list[ReconciliationLine]
    unmatched: list[ReconciliationLine]
    matching: int
    not_in_force: int  # rows of the file that are expired, revoked or past their end date

    def line(self, key: str) -> ReconciliationLine | None:
        for line in (*self.only_in_suomifi, *self.only_in_registry, *self.end_date_differs, *self.unmatched):
            if line.key == key:
                return line
        return None


def compare_with_suomifi(
    session: Session,
    organisation_id: int,
    data: bytes,
    filename: str,
    *,
    mapping: Mapping | None = None,
    today: date,
) -> Reconciliation:
    """Compare a list downloaded from Suomi.fi with the registry's active authorizations. Writes nothing."""
    mapping = mapping or SUOMIFI_MAPPING
    table = read_table(
        data, filename, sheet=mapping.sheet, header_row=mapping.header_row, known_headers=mapping.known_headers()
    )
    columns, issues = _resolve_columns(table, mapping)
    planner = _Planner(session, organisation_id, mapping, columns, False, today)
    d, registry = planner.directory, planner.registry
    result = Reconciliation(filename, hashlib.sha256(data).hexdigest(), issues, [], [], [], [], 0, 0)
    seen: dict[tuple[int, int], int] = {}
    for row in [] if issues else table.rows:
        line = ReconciliationLine(kind="unmatched", key=f"row:{row.number}", row=row.number)
        probe = RowResult(
            row=row.number,
            name=_text(planner.cell(row, "name")),
            email=_email(planner.cell(row, "email")),
            unit=_text(planner.cell(row, "unit")),
            code=_text(planner.cell(row, "code")),
        )
        holder = planner._person(probe)
        code = planner._code(probe)
        planner._status(row, probe)
        planner._dates(row, probe)
        line.name, line.code = probe.name or probe.email, probe.code
        line.person_id, line.code_id = probe.person_id, probe.code_id
        line.suomifi_valid_from, line.suomifi_valid_until = probe.valid_from, probe.valid_until
        line.warnings = [w for w in probe.warnings if w.code != "unknown_unit"]
        if probe.issues or holder is None or code is None:
            line.issues = probe.issues
            result.unmatched.append(line)
            continue
        if probe.status != S.ACTIVE.value or (probe.valid_until and probe.valid_until < today):
            result.not_in_force += 1
            continue
        line.name, line.code = d.people[probe.person_id].name, d.code_name(code.id)
        key = (probe.person_id, code.id)
        if key in seen:
            line.issues = [Issue("duplicate_row", {"row": seen[key]})]
            result.unmatched.append(line)
            continue
        seen[key] = row.number
        existing = registry.active.get(key)
        if existing is None:
            line.kind = "only_in_suomifi"
            line.key = f"suomifi:{key[0]}:{key[1]}:{_iso(probe.valid_from)}:{_iso(probe.valid_until)}"
            if registry.in_request.get(key):
                line.warnings.append(Issue("request_in_progress", {"status": registry.in_request[key][0].status}))
            result.only_in_suomifi.append(line)
            continue
        registry.claimed[existing.id] = row.number
        line.authorization_id = existing.id
        line.registry_valid_from, line.registry_valid_until = existing.valid_from, existing.valid_until
        if probe.valid_until is None or existing.valid_until == probe.valid_until:  # no date in the file: no say
            result.matching += 1
        else:
            line.kind = "end_date_differs"
            line.key = f"end:{existing.id}:{_iso(probe.valid_until)}"
            result.end_date_differs.append(line)
    if not issues:
        for (holder_id, code_id), existing in registry.active.items():
            if existing.id in registry.claimed:
                continue
            result.only_in_registry.append(
                ReconciliationLine(
                    kind="only_in_registry",
                    key=f"registry:{existing.id}",
                    name=d.people[holder_id].name,
                    code=d.code_name(code_id),
                    person_id=holder_id,
                    code_id=code_id,
                    authorization_id=existing.id,
                    registry_valid_from=existing.valid_from,
                    registry_valid_until=existing.valid_until,
                )
            )
    return result


def _iso(day: date | None) -> str:
    return day.isoformat() if day else "-"


def _authorization(session: Session, organisation_id: int, authorization_id: int) -> Authorization:
    row = session.get(Authorization, authorization_id)
    if row is None or row.organisation_id != organisation_id:
        raise NotFoundError("authorization not found", authorization_id=authorization_id)
    return row


def _interval(session: Session, organisation_id: int) -> int:
    return review_interval_months(_organisation(session, organisation_id).settings)


def add_from_suomifi(
    session: Session, organisation_id: int, line: ReconciliationLine, actor_id: int | None, now: datetime
) -> Authorization:
    """Record a mandate found in Suomi.fi but missing here as an active authorization."""
    if line.kind != "only_in_suomifi" or line.person_id is None or line.code_id is None:
        raise ConflictError("only a mandate found only in Suomi.fi can be added")
    person = session.get(Person, line.person_id)
    code = session.get(AuthorizationCode, line.code_id)
    if person is None or person.organisation_id != organisation_id:
        raise NotFoundError("person not found", person_id=line.person_id)
    if code is None or code.organisation_id != organisation_id:
        raise NotFoundError("authorization code not found", code_id=line.code_id)
    already = session.scalar(
        select(Authorization.id).where(
            Authorization.organisation_id == organisation_id,
            Authorization.holder_id == person.id,
            Authorization.code_id == code.id,
            Authorization.status == S.ACTIVE.value,
        )
    )
    if already is not None:
        raise ConflictError("the registry already has this authorization as active", authorization_id=already)
    if line.suomifi_valid_from and line.suomifi_valid_until and line.suomifi_valid_until < line.suomifi_valid_from:
        raise EngineError("the end date is before the start date")
    row = Authorization(
        organisation_id=organisation_id,
        holder_id=person.id,
        holder_name=person.name,
        unit_id=person.unit_id,
        code_id=code.id,
        status=S.ACTIVE.value,
        mandate_type=code.mandate_type,
        valid_from=line.suomifi_valid_from,
        valid_until=line.suomifi_valid_until,
        justification="",
        registered_on=line.suomifi_valid_from or local_date(now),
        source=AuthorizationSource.RECONCILIATION.value,
        created_at=now,
        updated_at=now,
    )
    row.next_review_on = next_review_date(row, _interval(session, organisation_id))
    session.add(row)
    session.flush()  # the audit event needs the id
    audit.record(
        session,
        organisation_id,
        "authorization.added_from_suomifi",
        actor_id=actor_id,
        authorization_id=row.id,
        details=_jsonable(
            {
                "code": code.key,
                "row": line.row,
                "valid_from": line.suomifi_valid_from,
                "valid_until": line.suomifi_valid_until,
            }
        ),
        at=now,
    )
    return row


CLOSING_REASON_NOT_IN_SUOMIFI = "not found in Suomi.fi"


def close_missing_in_suomifi(
    session: Session, organisation_id: int, authorization_id: int, actor_id: int | None, now: datetime
) -> Authorization:
    """Revoke an active authorization that Suomi.fi no longer has (the registry follows Suomi.fi)."""
    row = _authorization(session, organisation_id, authorization_id)
    if row.status != S.ACTIVE.value:
        raise ConflictError("only an active authorization can be closed", status=row.status)
    row.status = S.REVOKED.value
    row.closing_reason = CLOSING_REASON_NOT_IN_SUOMIFI
    row.next_review_on = None
    row.updated_at = now
    audit.record(
        session,
        organisation_id,
        "authorization.closed_not_in_suomifi",
        actor_id=actor_id,
        authorization_id=row.id,
        details={"from": S.ACTIVE.value, "to": S.REVOKED.value, "reason": CLOSING_REASON_NOT_IN_SUOMIFI},
        at=now,
    )
    return row


def align_end_date(
    session: Session,
    organisation_id: int,
    authorization_id: int,
    valid_until: date,
    actor_id: int | None,
    now: datetime,
) -> Authorization:
    """Take the end date Suomi.fi has; the next review moves with it."""
    row = _authorization(session, organisation_id, authorization_id)
    if row.status != S.ACTIVE.value:
        raise ConflictError("only an active authorization's end date can be aligned", status=row.status)
    if row.valid_from and valid_until < row.valid_from:
        raise EngineError("the end date is before the start date")
    old = row.valid_until
    row.valid_until = valid_until
    row.renewal_offered_days = None if valid_until != old else row.renewal_offered_days
    row.next_review_on = next_review_date(row, _interval(session, organisation_id))
    row.updated_at = now
    audit.record(
        session,
        organisation_id,
        "authorization.end_date_aligned",
        actor_id=actor_id,
        authorization_id=row.id,
        details=_jsonable({"from": old, "to": valid_until}),
        at=now,
    )
    return row


