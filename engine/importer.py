"""Bringing an existing authorization list into the registry (the comparison with Suomi.fi: reconcile.py).

Municipalities start with a spreadsheet the pääkäyttäjä has kept for years. An import is planned
first (nothing written, every row explained) and applied only when the plan is confirmed, all or
nothing, in the caller's transaction. Re-importing the same list, or the registry's own export,
changes nothing: rows are matched to authorizations by holder and code.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from . import audit
from .errors import NotFoundError
from .import_mapping import (  # noqa: F401  (re-exported: the importer's public vocabulary)
    DEFAULT_MAPPING,
    EXPORT_HEADERS,
    FIELDS,
    IMPORTABLE_CLOSED,
    IN_REQUEST,
    ISSUE_TEXT,
    MANDATE_WORDS,
    MAX_YEARS,
    STATUS_WORDS,
    SUOMIFI_MAPPING,
    ImportRefused,
    Issue,
    Mapping,
    MappingError,
    _email,
    _name_key,
    _name_variants,
    _plausible_email,
    _text,
    _token,
    load_mapping,
)
from .models import (
    Authorization,
    AuthorizationCode,
    AuthorizationSource,
    AuthorizationStatus,
    Organisation,
    Person,
    Unit,
)
from .privacy import contains_identity_code
from .registry import add_months, next_review_date, review_interval_months, sync_holders
from .tabular import Row, Table, normalise_header, parse_date, read_table

S = AuthorizationStatus

class _Directory:
    """The organisation's people, units and codes, loaded once so that rows cost no queries."""

    def __init__(self, session: Session, organisation_id: int):
        self.people = {
            p.id: p
            for p in session.execute(
                select(Person.id, Person.email, Person.name, Person.unit_id, Person.active).where(
                    Person.organisation_id == organisation_id
                )
            )
        }
        self.units = {
            u.id: u
            for u in session.execute(
                select(Unit.id, Unit.key, Unit.name, Unit.parent_id).where(Unit.organisation_id == organisation_id)
            )
        }
        self.codes = {
            c.id: c
            for c in session.execute(
                select(
                    AuthorizationCode.id,
                    AuthorizationCode.key,
                    AuthorizationCode.name,
                    AuthorizationCode.agency,
                    AuthorizationCode.mandate_type,
                    AuthorizationCode.status,
                ).where(AuthorizationCode.organisation_id == organisation_id)
            )
        }
        self.by_email = {p.email.strip().lower(): p.id for p in self.people.values()}
        self.by_name: dict[str, set[int]] = {}
        for p in self.people.values():
            for key in _name_variants(p.name):
                self.by_name.setdefault(key, set()).add(p.id)
        self.unit_index: dict[str, set[int]] = {}
        for u in self.units.values():
            for text in (u.key, *(u.name or {}).values()):
                self.unit_index.setdefault(_token(str(text)), set()).add(u.id)
        children: dict[int | None, list[int]] = {}
        for u in self.units.values():
            children.setdefault(u.parent_id, []).append(u.id)
        self._children = children
        self._subtrees: dict[int, set[int]] = {}
        self.code_index: dict[str, set[int]] = {}
        self._choices: dict[str, str] = {}  # token of a name in any language → the code's key
        for c in self.codes.values():
            names = [str(n) for n in (c.name or {}).values() if n]
            for text in (c.key, *names, *(f"{c.agency} {n}" for n in names if c.agency)):
                self.code_index.setdefault(_token(text), set()).add(c.id)
            for text in names:
                self._choices.setdefault(_token(text), c.key)
        self._by_code_key = {c.key: c for c in self.codes.values()}
        self._suggestions: dict[str, list[str]] = {}

    # units
    def unit(self, text: str) -> int | None:
        found = self.unit_index.get(_token(text))
        if not found:
            for separator in ("/", ">", ","):  # "Konsernipalvelut / Talouspalvelut": the last part
                if separator in text:
                    found = self.unit_index.get(_token(text.rsplit(separator, 1)[1]))
                    break
        return min(found) if found and len(found) == 1 else None

    def subtree(self, unit_id: int) -> set[int]:
        if unit_id not in self._subtrees:
            result, frontier = {unit_id}, [unit_id]
            while frontier:
                frontier = [c for u in frontier for c in self._children.get(u, []) if c not in result]
                result.update(frontier)
            self._subtrees[unit_id] = result
        return self._subtrees[unit_id]

    def unit_name(self, unit_id: int | None) -> str:
        unit = self.units.get(unit_id) if unit_id else None
        return (unit.name or {}).get("fi") or unit.key if unit else ""

    # people
    def same_name(self, person_id: int, name: str) -> bool:
        return _name_key(name) in _name_variants(self.people[person_id].name)

    def find_person(self, name: str, email: str, unit_id: int | None, unit_text: str) -> tuple[int | None, list, list]:
        """(person id, errors, warnings): by e-mail, else by name within the row's unit, else in the organisation."""
        errors: list[Issue] = []
        warnings: list[Issue] = []
        if email:
            person_id = self.by_email.get(email.lower())
            if person_id is not None:
                if name and not self.same_name(person_id, name):
                    known = self.people[person_id].name
                    warnings.append(Issue("name_differs", {"email": email, "name": name, "person_name": known}))
                return person_id, errors, warnings
        if not name:
            return None, errors, warnings
        candidates = self.by_name.get(_name_key(name), set())
        found: int | None = None
        if unit_id is not None and candidates:
            subtree = self.subtree(unit_id)
            in_unit = {c for c in candidates if self.people[c].unit_id in subtree}
            if len(in_unit) == 1:
                found = next(iter(in_unit))
            elif len(in_unit) > 1:
                errors.append(Issue("ambiguous_person", {"name": name}))
                return None, errors, warnings
        if found is None and len(candidates) == 1:
            found = next(iter(candidates))
            if unit_id is not None:
                warnings.append(
                    Issue(
                        "unit_differs",
                        {"name": name, "unit": unit_text, "person_unit": self.unit_name(self.people[found].unit_id)},
                    )
                )
        elif found is None and len(candidates) > 1:
            errors.append(Issue("ambiguous_person", {"name": name}))
            return None, errors, warnings
        if found is not None and email:
            warnings.append(
                Issue("email_differs", {"email": email, "name": name, "person_email": self.people[found].email})
            )
        return found, errors, warnings

    # codes
    def find_code(self, text: str) -> tuple[SimpleNamespace | None, Issue | None]:
        found = self.code_index.get(_token(text), set())
        if len(found) == 1:
            return self.codes[next(iter(found))], None
        if len(found) > 1:
            matches = "; ".join(sorted(self.codes[c].key for c in found))
            return None, Issue("ambiguous_code", {"code": text, "matches": matches})
        keys = self.suggest(text)
        names = [(self._by_code_key[k].name or {}).get("fi") or k for k in keys]
        return None, Issue(
            "unknown_code",
            {"code": text, "suggestions": "; ".join(names) or "–", "suggestion_keys": "; ".join(keys)},
        )

    def suggest(self, text: str) -> list[str]:
        """Keys of the three catalog codes whose names are closest (any language)."""
        token = _token(text)
        if token not in self._suggestions:
            keys: list[str] = []
            for match in difflib.get_close_matches(token, list(self._choices), n=10, cutoff=0.6):
                if self._choices[match] not in keys:
                    keys.append(self._choices[match])
            self._suggestions[token] = keys[:3]
        return self._suggestions[token]

    def code_name(self, code_id: int) -> str:
        code = self.codes[code_id]
        return (code.name or {}).get("fi") or code.key


def _resolve_columns(table: Table, mapping: Mapping) -> tuple[dict[str, str], list[Issue]]:
    """field → header found in the file; missing required columns as issues."""
    by_norm = {normalise_header(h): h for h in table.headers}
    columns: dict[str, str] = {}
    taken: set[str] = set()
    for name in FIELDS:
        for alias in mapping.columns.get(name, ()):
            header = by_norm.get(normalise_header(alias))
            if header and header not in taken:
                columns[name] = header
                taken.add(header)
                break
    issues = []
    if "code" not in columns:
        issues.append(Issue("missing_column", {"field": "code", "column": " / ".join(mapping.columns.get("code", ()))}))
    if "name" not in columns and "email" not in columns:
        aliases = (*mapping.columns.get("name", ()), *mapping.columns.get("email", ()))
        issues.append(Issue("missing_column", {"field": "name", "column": " / ".join(aliases)}))
    return columns, issues


MATRIX_CODE = "Valtuus (sarakkeen otsikosta)"
MATRIX_UNTIL = "Päättyy (solusta)"
_UNMARKED = frozenset({"", "-", "–", "—", "ei", "nej", "no", "0", "false", "n"})


def _unpivot_matrix(table: Table, columns: dict[str, str], directory: _Directory) -> Table | None:
    """A list kept as a matrix – people on rows, one column per code, a mark (x, ✓, kyllä) or an end date in
    the cell – as one row per marked cell, so the rest of the import treats it like any other list.

    Only headers that name exactly one catalog code count as code columns; ``columns`` gains the code (and,
    where cells hold dates, the end date) column. None when the file has no code columns."""
    used = set(columns.values())
    code_headers = [
        h for h in table.headers if h not in used and len(directory.code_index.get(_token(h), ())) == 1
    ]
    if not code_headers:
        return None
    rows = []
    for row in table.rows:
        base = {k: v for k, v in row.values.items() if k not in code_headers}
        for header in code_headers:
            mark = row.values.get(header)
            blank = isinstance(mark, str) and mark.strip().casefold() in _UNMARKED
            if mark is None or mark is False or mark == 0 or blank:
                continue
            values = {**base, MATRIX_CODE: header}
            if isinstance(mark, date | datetime) or (isinstance(mark, str) and _looks_like_date(mark)):
                values[MATRIX_UNTIL] = mark  # the cell holds the end date
            rows.append(Row(row.number, values))
    columns["code"] = MATRIX_CODE
    if any(MATRIX_UNTIL in r.values for r in rows):
        if "valid_until" in columns:  # a date in the cell wins over the row's common end date
            for r in rows:
                if MATRIX_UNTIL in r.values:
                    r.values[columns["valid_until"]] = r.values.pop(MATRIX_UNTIL)
        else:
            columns["valid_until"] = MATRIX_UNTIL
    return Table(headers=[*table.headers, MATRIX_CODE], rows=rows, header_row=table.header_row)


def _looks_like_date(text: str) -> bool:
    if not any(sep in text for sep in ".-/"):  # "1" is a mark, not Excel's serial day 1
        return False
    try:
        return parse_date(text.strip()) is not None
    except ValueError:
        return False


def _fingerprint(session: Session, organisation_id: int) -> str:
    """What the plan was compared against: any change to authorizations or people alters it."""
    auth = session.execute(
        select(func.count(Authorization.id), func.max(Authorization.id), func.max(Authorization.updated_at)).where(
            Authorization.organisation_id == organisation_id
        )
    ).one()
    people = session.execute(
        select(func.count(Person.id), func.max(Person.id)).where(Person.organisation_id == organisation_id)
    ).one()
    stamp = auth[2].isoformat() if isinstance(auth[2], datetime) else str(auth[2])
    return f"a{auth[0]}:{auth[1]}:{stamp}/p{people[0]}:{people[1]}"


def _organisation(session: Session, organisation_id: int) -> Organisation:
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFoundError("organisation not found", organisation_id=organisation_id)
    return org


# -- planning ----------------------------------------------------------------------------------

Action = str  # "create" | "update" | "unchanged" | "rejected"


@dataclass
class PlannedPerson:
    email: str
    name: str
    unit_id: int | None
    row: int  # the first row naming them


@dataclass
class RowResult:
    row: int
    action: Action = "rejected"
    issues: list[Issue] = field(default_factory=list)  # errors: the row cannot be imported
    warnings: list[Issue] = field(default_factory=list)
    name: str = ""
    email: str = ""
    unit: str = ""
    code: str = ""  # as written in the file
    person_id: int | None = None
    new_person_email: str | None = None  # the holder is a person the import creates
    code_id: int | None = None
    code_key: str = ""
    valid_from: date | None = None
    valid_until: date | None = None
    mandate_type: str | None = None
    status: str | None = None
    notes: str = ""
    registered_on: date | None = None
    next_review_on: date | None = None
    changes: dict[str, list] = field(default_factory=dict)  # field → [registry value, file value]
    authorization_id: int | None = None  # the existing authorization the row matched
    last_reviewed_on: date | None = None  # the matched authorization's, for its next review


@dataclass
class ImportPlan:
    organisation_id: int
    filename: str
    sha256: str
    headers: list[str]
    columns: dict[str, str]
    rows: list[RowResult]
    issues: list[Issue]  # the file as a whole (missing columns): nothing can be imported
    people_to_create: list[PlannedPerson]
    fingerprint: str
    today: date
    counts: dict[str, int] = field(default_factory=dict)
    warnings_count: int = 0

    @property
    def ok(self) -> bool:
        return not self.issues and not self.counts.get("rejected")


@dataclass
class ImportSummary:
    created: int
    updated: int
    unchanged: int
    skipped: int
    people_created: int
    authorization_ids: list[int]


def _count(rows: list[RowResult]) -> dict[str, int]:
    counts = {"create": 0, "update": 0, "unchanged": 0, "rejected": 0}
    for r in rows:
        counts[r.action] += 1
    return counts


class _Registry:
    """The organisation's authorizations indexed by (holder, code), with the ones already claimed by a row."""

    def __init__(self, session: Session, organisation_id: int):
        rows = session.execute(
            select(
                Authorization.id,
                Authorization.holder_id,
                Authorization.code_id,
                Authorization.status,
                Authorization.mandate_type,
                Authorization.valid_from,
                Authorization.valid_until,
                Authorization.notes,
                Authorization.registered_on,
                Authorization.last_reviewed_on,
            )
            .where(Authorization.organisation_id == organisation_id)
            .order_by(Authorization.id)
        ).all()
        self.active: dict[tuple, object] = {}
        self.in_request: dict[tuple, list] = {}
        self.closed: dict[tuple, list] = {}
        for a in rows:
            key = (a.holder_id, a.code_id)
            if a.status == S.ACTIVE.value:
                self.active.setdefault(key, a)
            elif a.status in IN_REQUEST:
                self.in_request.setdefault(key, []).append(a)
            else:
                self.closed.setdefault(key, []).append(a)
        self.claimed: dict[int, int] = {}  # authorization id → the row that matched it


def _registry_key(key: tuple) -> tuple[int, int] | None:
    """(holder id, code id) for a holder already in the directory; None for a person the import creates."""
    return (key[1], key[2]) if key[0] == "person" else None


class _Planner:
    """Decides each row's action against the registry and the rows before it (one instance per file)."""

    def __init__(
        self,
        session: Session,
        organisation_id: int,
        mapping: Mapping,
        columns: dict[str, str],
        create_people: bool,
        today: date,
    ):
        self.directory = _Directory(session, organisation_id)
        self.registry = _Registry(session, organisation_id)
        self.interval = review_interval_months(_organisation(session, organisation_id).settings)
        self.mapping = mapping
        self.columns = columns
        self.create_people = create_people
        self.today = today
        self.planned: dict[str, PlannedPerson] = {}
        self.active_rows: dict[tuple, int] = {}  # (holder, code) → first row bringing it in as active
        self.closed_rows: dict[tuple, int] = {}  # (holder, code, from, until) → first row creating it

    def cell(self, row: Row, name: str) -> object:
        header = self.columns.get(name)
        return row.values.get(header) if header else None

    def plan(self, row: Row) -> RowResult:
        result = RowResult(
            row=row.number,
            name=_text(self.cell(row, "name")),
            email=_email(self.cell(row, "email")),
            unit=_text(self.cell(row, "unit")),
            code=_text(self.cell(row, "code")),
            notes=_text(self.cell(row, "notes")),
        )
        for header, value in row.values.items():  # no henkilötunnus is ever stored (engine/privacy.py)
            if contains_identity_code(value):
                result.issues.append(Issue("identity_code", {"column": header}))
        holder = self._person(result)
        code = self._code(result)
        mandate_type = self._mandate_type(row, result)
        self._status(row, result)
        self._dates(row, result)
        if result.issues or holder is None or code is None:
            result.action = "rejected"
            return result
        result.mandate_type = mandate_type or code.mandate_type
        if result.status == S.ACTIVE.value and result.valid_until and result.valid_until < self.today:
            result.status = S.EXPIRED.value
            result.warnings.append(Issue("expired_by_date", {"valid_until": result.valid_until.isoformat()}))
        key = (*holder, code.id)  # ("person", id, code) or ("new", e-mail, code)
        if result.status == S.ACTIVE.value:
            self._match_active(result, key, mandate_type)
        elif result.status in IMPORTABLE_CLOSED:
            self._match_closed(result, key, mandate_type)
        else:
            self._match_unimportable(result, key)
        self._check_values(result, code)
        if result.issues:
            result.action = "rejected"
        else:
            result.next_review_on = self._next_review(result)
        return result

    # -- resolving the row's person, code and values
    def _person(self, result: RowResult) -> tuple | None:
        d = self.directory
        if not result.name and not result.email:
            result.issues.append(Issue("missing_person"))
            return None
        unit_id = d.unit(result.unit) if result.unit else None
        if result.unit and unit_id is None:
            result.warnings.append(Issue("unknown_unit", {"unit": result.unit}))
        person_id, errors, warnings = d.find_person(result.name, result.email, unit_id, result.unit)
        result.issues += errors
        result.warnings += warnings
        if person_id is not None:
            result.person_id = person_id
            if not d.people[person_id].active:
                result.warnings.append(Issue("person_inactive", {"name": d.people[person_id].name}))
            return ("person", person_id)
        if errors:
            return None
        if not self.create_people:
            result.issues.append(Issue("unknown_person", {"name": result.name, "email": result.email}))
            return None
        if not result.email:
            result.issues.append(Issue("person_without_email", {"name": result.name}))
            return None
        email = result.email.lower()
        if not _plausible_email(email):
            result.issues.append(Issue("bad_email", {"email": result.email}))
            return None
        if email not in self.planned:
            self.planned[email] = PlannedPerson(email, result.name or email, unit_id, result.row)
            result.warnings.append(Issue("person_created", {"name": result.name or email, "email": email}))
        result.new_person_email = email
        return ("new", email)

    def _code(self, result: RowResult):
        if not result.code:
            result.issues.append(Issue("missing_code"))
            return None
        code, issue = self.directory.find_code(result.code)
        if issue:
            result.issues.append(issue)
            return None
        result.code_id, result.code_key = code.id, code.key
        return code

    def _mandate_type(self, row: Row, result: RowResult) -> str | None:
        text = _text(self.cell(row, "mandate_type"))
        if not text:
            return None
        value = MANDATE_WORDS.get(_token(text))
        if value is None:
            result.issues.append(Issue("bad_mandate_type", {"value": text}))
        return value

    def _status(self, row: Row, result: RowResult) -> None:
        text = _text(self.cell(row, "status"))
        token = _token(text)
        status = S.ACTIVE.value if not token else self.mapping.status_values.get(token) or STATUS_WORDS.get(token)
        if status is None:
            result.issues.append(Issue("bad_status", {"value": text}))
        result.status = status

    def _dates(self, row: Row, result: RowResult) -> None:
        for name in ("valid_from", "valid_until", "registered_on"):
            raw = self.cell(row, name)
            try:
                setattr(result, name, parse_date(raw))
            except ValueError:
                result.issues.append(Issue("bad_date", {"column": self.columns[name], "value": _text(raw)}))

    # -- comparing with the registry and earlier rows
    def _claim(self, result: RowResult, existing) -> bool:
        earlier = self.registry.claimed.get(existing.id)
        if earlier is not None:
            result.issues.append(Issue("duplicate_row", {"row": earlier}))
            return False
        self.registry.claimed[existing.id] = result.row
        result.authorization_id = existing.id
        return True

    def _merge(self, result: RowResult, existing, mandate_type: str | None) -> None:
        """Fill what the row leaves empty from the registry, and list what the row changes.

        An empty cell (or a column the file lacks) never erases a date or a type already recorded;
        notes are compared only when the file has a notes column.
        """
        new = {
            "valid_from": result.valid_from or existing.valid_from,
            "valid_until": result.valid_until or existing.valid_until,
            "mandate_type": mandate_type or existing.mandate_type,
            "status": result.status,
        }
        if "notes" in self.columns:
            new["notes"] = result.notes
        old = {
            "valid_from": existing.valid_from,
            "valid_until": existing.valid_until,
            "mandate_type": existing.mandate_type,
            "status": existing.status,
            "notes": existing.notes or "",
        }
        result.changes = {k: [old[k], v] for k, v in new.items() if old[k] != v}
        result.valid_from, result.valid_until = new["valid_from"], new["valid_until"]
        result.mandate_type = new["mandate_type"]
        result.notes = new.get("notes", old["notes"])
        result.registered_on = existing.registered_on
        result.action = "update" if result.changes else "unchanged"
        result.last_reviewed_on = existing.last_reviewed_on

    def _same_dates(self, result: RowResult, existing) -> bool:
        return (result.valid_from or existing.valid_from) == existing.valid_from and (
            result.valid_until or existing.valid_until
        ) == existing.valid_until

    def _match_active(self, result: RowResult, key: tuple, mandate_type: str | None) -> None:
        earlier = self.active_rows.get(key)
        if earlier is not None:
            result.issues.append(Issue("duplicate_row", {"row": earlier}))
            return
        self.active_rows[key] = result.row
        registry_key = _registry_key(key)
        existing = self.registry.active.get(registry_key)
        if existing is not None:
            if self._claim(result, existing):
                self._merge(result, existing, mandate_type)
            return
        pending = self.registry.in_request.get(registry_key, [])
        if pending:
            result.issues.append(Issue("request_in_progress", {"status": pending[0].status}))
            return
        result.action = "create"
        for closed in self.registry.closed.get(registry_key, []):
            if closed.valid_from == result.valid_from and closed.valid_until == result.valid_until:
                result.warnings.append(Issue("was_closed", {"status": closed.status}))
                break

    def _match_closed(self, result: RowResult, key: tuple, mandate_type: str | None) -> None:
        """An expired or revoked row: history already recorded, the active one now closed, or new history.

        Identical closed rows match identical records one to one; a row beyond those is a duplicate.
        """
        registry_key = _registry_key(key)
        closed_key = (key, result.valid_from, result.valid_until)
        if registry_key is not None:
            for closed in self.registry.closed.get(registry_key, []):
                if (
                    closed.status in IMPORTABLE_CLOSED
                    and closed.id not in self.registry.claimed
                    and closed.valid_from == result.valid_from
                    and closed.valid_until == result.valid_until
                ):
                    self._claim(result, closed)
                    self.closed_rows.setdefault(closed_key, result.row)
                    result.action = "unchanged"
                    result.status = closed.status
                    return
        earlier = self.closed_rows.get(closed_key)
        if earlier is not None:
            result.issues.append(Issue("duplicate_row", {"row": earlier}))
            return
        self.closed_rows[closed_key] = result.row
        active = self.registry.active.get(registry_key) if registry_key else None
        if active is not None and active.valid_from == result.valid_from:  # the same mandate, now closed
            if self._claim(result, active):
                self._merge(result, active, mandate_type)
            return
        result.action = "create"

    def _match_unimportable(self, result: RowResult, key: tuple) -> None:
        """Requested, approved, rejected and cancelled rows are accepted only as they already are."""
        registry_key = _registry_key(key)
        pool = self.registry.in_request.get(registry_key, []) + self.registry.closed.get(registry_key, [])
        for existing in pool:
            if (
                existing.status == result.status
                and existing.id not in self.registry.claimed
                and self._same_dates(result, existing)
            ):
                self._claim(result, existing)
                result.action = "unchanged"
                return
        if result.status in IN_REQUEST and self.registry.in_request.get(registry_key):
            result.issues.append(
                Issue("request_in_progress", {"status": self.registry.in_request[registry_key][0].status})
            )
            return
        result.issues.append(Issue("status_not_importable", {"value": result.status}))

    def _check_values(self, result: RowResult, code) -> None:
        if result.valid_from and result.valid_until and result.valid_until < result.valid_from:
            result.issues.append(Issue("end_before_start"))
        if result.action not in ("create", "update") or result.status != S.ACTIVE.value:
            return
        if result.action == "create" and code.status != "active":
            result.issues.append(Issue("code_withdrawn", {"code": self.directory.code_name(code.id)}))
        if result.valid_until is None:
            result.warnings.append(Issue("open_ended"))
        elif result.valid_until > add_months(result.valid_from or self.today, 12 * MAX_YEARS):
            result.warnings.append(Issue("too_long"))

    def _next_review(self, result: RowResult) -> date | None:
        if result.action == "create":
            result.registered_on = result.registered_on or result.valid_from
        probe = SimpleNamespace(  # next_review_date reads only these
            status=result.status,
            last_reviewed_on=result.last_reviewed_on,
            registered_on=result.registered_on,
            valid_from=result.valid_from,
            valid_until=result.valid_until,
        )
        return next_review_date(probe, self.interval)  # type: ignore[arg-type]


def plan_import(
    session: Session,
    organisation_id: int,
    data: bytes,
    filename: str,
    *,
    mapping: Mapping | None = None,
    create_people: bool = False,
    today: date,
    progress: Callable[[int, int], None] | None = None,
) -> ImportPlan:
    """Explain, row by row, what importing the file would do. Reads the registry once; writes nothing."""
    mapping = mapping or DEFAULT_MAPPING
    table = read_table(
        data, filename, sheet=mapping.sheet, header_row=mapping.header_row, known_headers=mapping.known_headers()
    )
    columns, issues = _resolve_columns(table, mapping)
    fingerprint = _fingerprint(session, organisation_id)
    planner = _Planner(session, organisation_id, mapping, columns, create_people, today)
    if "code" not in columns:  # perhaps a matrix: one column per code, a mark (or an end date) per holder
        unpivoted = _unpivot_matrix(table, columns, planner.directory)
        if unpivoted is not None:
            table = unpivoted
            issues = [i for i in issues if not (i.code == "missing_column" and i.params.get("field") == "code")]
    rows: list[RowResult] = []
    total = len(table.rows)
    if not issues:
        for index, row in enumerate(table.rows, start=1):
            rows.append(planner.plan(row))
            if progress and (index % 250 == 0 or index == total):
                progress(index, total)
    used = {r.new_person_email for r in rows if r.action == "create"}
    plan = ImportPlan(
        organisation_id=organisation_id,
        filename=filename,
        sha256=hashlib.sha256(data).hexdigest(),
        headers=table.headers,
        columns=columns,
        rows=rows,
        issues=issues,
        people_to_create=[p for p in planner.planned.values() if p.email in used],
        fingerprint=fingerprint,
        today=today,
    )
    plan.counts = _count(rows)
    plan.warnings_count = sum(len(r.warnings) for r in rows)
    return plan


# -- applying ----------------------------------------------------------------------------------


def _jsonable(value: object) -> object:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def apply_import(
    session: Session,
    organisation_id: int,
    plan: ImportPlan,
    *,
    actor_id: int | None,
    skip_invalid: bool = False,
    now: datetime,
) -> ImportSummary:
    """Write the plan in the caller's transaction (the caller commits): all of it, or nothing.

    Refused when a row was rejected (unless ``skip_invalid``) or when the registry changed after planning.
    """
    if plan.organisation_id != organisation_id:
        raise NotFoundError("the import plan belongs to another organisation")
    if plan.issues or (plan.counts["rejected"] and not skip_invalid):
        raise ImportRefused(
            f"{plan.counts['rejected']} rows were rejected; nothing was imported",
            counts=dict(plan.counts),
            file_issues=[i.code for i in plan.issues],
        )
    if _fingerprint(session, organisation_id) != plan.fingerprint:
        raise ImportRefused("the registry changed after the import was previewed; preview it again", code="stale_plan")
    people = _create_people(session, organisation_id, plan, actor_id, now)
    created = [r for r in plan.rows if r.action == "create"]
    updated = [r for r in plan.rows if r.action == "update"]
    ids = _insert_authorizations(session, organisation_id, created, people, now)
    _update_authorizations(session, updated, now)
    events = [
        {
            "action": "authorization.imported",
            "actor_id": actor_id,
            "authorization_id": auth_id,
            "details": _jsonable(
                {
                    "row": r.row,
                    "filename": plan.filename,
                    "code": r.code_key,
                    "status": r.status,
                    "mandate_type": r.mandate_type,
                    "valid_from": r.valid_from,
                    "valid_until": r.valid_until,
                }
            ),
        }
        for r, auth_id in zip(created, ids, strict=True)
    ]
    events += [
        {
            "action": "authorization.import_updated",
            "actor_id": actor_id,
            "authorization_id": r.authorization_id,
            "details": _jsonable({"row": r.row, "filename": plan.filename, "changes": r.changes}),
        }
        for r in updated
    ]
    summary = ImportSummary(
        created=len(created),
        updated=len(updated),
        unchanged=plan.counts["unchanged"],
        skipped=plan.counts["rejected"],
        people_created=len(people),
        authorization_ids=ids + [r.authorization_id for r in updated if r.authorization_id],
    )
    events.append(
        {
            "action": "import.completed",
            "actor_id": actor_id,
            "details": {
                "filename": plan.filename,
                "sha256": plan.sha256,
                "counts": dict(plan.counts),
                "people_created": len(people),
                "skipped_rows": [r.row for r in plan.rows if r.action == "rejected"][:1000],
            },
        }
    )
    audit.record_many(session, organisation_id, events, at=now)
    return summary


def _create_people(
    session: Session, organisation_id: int, plan: ImportPlan, actor_id: int | None, now: datetime
) -> dict[str, int]:
    if not plan.people_to_create:
        return {}
    rows = session.execute(
        insert(Person).returning(Person.id, Person.email, sort_by_parameter_order=True),
        [
            {
                "organisation_id": organisation_id,
                "email": p.email,
                "name": p.name,
                "unit_id": p.unit_id,
                "title": {},
                "demo_note": {},
                "active": True,
            }
            for p in plan.people_to_create
        ],
    ).all()
    people = {email: person_id for person_id, email in rows}
    audit.record_many(
        session,
        organisation_id,
        [
            {
                "action": "person.imported",
                "actor_id": actor_id,
                "details": {"person_id": people[p.email], "email": p.email, "name": p.name, "row": p.row},
            }
            for p in plan.people_to_create
        ],
        at=now,
    )
    return people


def _insert_authorizations(
    session: Session, organisation_id: int, rows: list[RowResult], people: dict[str, int], now: datetime
) -> list[int]:
    if not rows:
        return []
    values = [
        {
            "organisation_id": organisation_id,
            "holder_id": r.person_id if r.person_id is not None else people[r.new_person_email or ""],
            "code_id": r.code_id,
            "status": r.status,
            "mandate_type": r.mandate_type,
            "valid_from": r.valid_from,
            "valid_until": r.valid_until,
            "justification": "",
            "registered_on": r.registered_on or r.valid_from,
            "closing_reason": "" if r.status == S.ACTIVE.value else "imported",
            "notes": r.notes,
            "source": AuthorizationSource.IMPORT.value,
            "next_review_on": r.next_review_on,
            "created_at": now,
            "updated_at": now,
        }
        for r in rows
    ]
    result = session.execute(insert(Authorization).returning(Authorization.id, sort_by_parameter_order=True), values)
    ids = list(result.scalars())
    sync_holders(session, organisation_id, {v["holder_id"] for v in values})  # name and unit for the lists
    return ids


def _update_authorizations(session: Session, rows: list[RowResult], now: datetime) -> None:
    if not rows:
        return
    values = []
    for r in rows:
        change = {"id": r.authorization_id, "updated_at": now, "next_review_on": r.next_review_on}
        for name, (_old, new) in r.changes.items():
            change[name] = new
        if "valid_until" in r.changes:
            change["renewal_offered_days"] = None  # a new end date: renewal is offered again before it
        if "status" in r.changes and r.status != S.ACTIVE.value:
            change["closing_reason"] = "imported"
        values.append(change)
    session.execute(update(Authorization), values)


__all__ = [
    "DEFAULT_MAPPING",
    "EXPORT_HEADERS",
    "ISSUE_TEXT",
    "SUOMIFI_MAPPING",
    "ImportPlan",
    "ImportRefused",
    "ImportSummary",
    "Issue",
    "Mapping",
    "MappingError",
    "PlannedPerson",
    "RowResult",
    "apply_import",
    "load_mapping",
    "plan_import",
]
