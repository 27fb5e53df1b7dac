"""Kokonaistilanne: the organisation-wide registry view, its summary, person and code pages.

Everything here reads the registry tables (never a workflow) and is scoped before anything else: the
pääkäyttäjä sees the organisation, a director the units they direct (with sub-units), everyone their own.
Filters travel in the URL, so ``RegistryFilter`` parses and writes plain string mappings and never trusts
them: unknown values are dropped and reported, never passed to the database as given.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from . import directory
from .errors import NotFoundError
from .models import (
    AuditEvent,
    Authorization,
    AuthorizationCategory,
    AuthorizationCode,
    AuthorizationStatus,
    InstanceStatus,
    Person,
    ProcessInstance,
    Unit,
)
from .queries import User

S = AuthorizationStatus
LISTED_STATUSES = [s.value for s in S if s is not S.CANCELLED]
OPEN_STATUSES = (S.REQUESTED.value, S.APPROVED.value)
SORTS = ("holder", "unit", "code", "valid_from", "valid_until", "status", "next_review")
PAGE_SIZES = (25, 50, 100, 200)
MAX_EXPIRING_DAYS = 3650


def fold(text: str) -> str:
    """Casefolded, accents kept (ä ≠ a in Finnish), whitespace collapsed: for matching what people type."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text or "")).strip().casefold()


# --- scope -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose authorizations a reader may see."""

    organisation_id: int
    whole_organisation: bool = False
    unit_ids: frozenset[int] = frozenset()
    person_id: int | None = None  # the reader themself (always visible to themself)
    own_unit_id: int | None = None

    def clause(self):
        if self.whole_organisation:
            return Authorization.organisation_id == self.organisation_id
        own = Authorization.holder_id == self.person_id
        if self.unit_ids and self.own_unit_id in self.unit_ids:  # their own rows are in their units: no OR,
            return and_(  # so the database can read the unit index instead of walking every row
                Authorization.organisation_id == self.organisation_id, Authorization.unit_id.in_(self.unit_ids)
            )
        if self.unit_ids:
            return and_(
                Authorization.organisation_id == self.organisation_id,
                or_(Authorization.unit_id.in_(self.unit_ids), own),
            )
        return and_(Authorization.organisation_id == self.organisation_id, own)

    def sees_person(self, person: Person) -> bool:
        if person.organisation_id != self.organisation_id:
            return False
        return self.whole_organisation or person.id == self.person_id or person.unit_id in self.unit_ids

    @property
    def is_personal(self) -> bool:
        return not self.whole_organisation and not self.unit_ids


def scope_for(session: Session, actor: User, *, personal: bool = False) -> Scope:
    """The registry scope of a signed-in person; ``personal`` narrows anyone to their own (Omat valtuudet)."""
    if personal:
        return Scope(actor.organisation_id, person_id=actor.id)
    if actor.has("administrator"):
        return Scope(actor.organisation_id, whole_organisation=True, person_id=actor.id)
    if actor.has("director"):
        units = directory.directed_unit_ids(session, session.get(Person, actor.id))
        return Scope(
            actor.organisation_id, unit_ids=frozenset(units), person_id=actor.id, own_unit_id=actor.unit_id
        )
    return Scope(actor.organisation_id, person_id=actor.id)


def organisation_scope(organisation_id: int) -> Scope:
    """The whole organisation, for operators' commands (export from the command line)."""
    return Scope(organisation_id, whole_organisation=True)


# --- filters -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryFilter:
    unit: int | None = None
    person: int | None = None
    code: int | None = None
    category: int | None = None
    status: str = ""
    expiring: int | None = None  # active and ending within this many days
    overdue: bool = False  # active and the next review date has passed
    no_end: bool = False  # without an end date
    q: str = ""
    sort: str = "holder"
    desc: bool = False
    page: int = 1
    per_page: int = 50

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> tuple[RegistryFilter, list[str]]:
        """Parse URL arguments. Returns the filter and the names of arguments that were not understood."""
        values: dict = {}
        bad: list[str] = []

        def integer(name: str, low: int = 1, high: int = 2**31 - 1) -> None:
            raw = (args.get(name) or "").strip()
            if not raw:
                return
            if raw.isdigit() and low <= int(raw) <= high:
                values[name] = int(raw)
            else:
                bad.append(name)

        for name in ("unit", "person", "code", "category"):
            integer(name)
        integer("expiring", 0, MAX_EXPIRING_DAYS)
        integer("page")
        status = (args.get("status") or "").strip()
        if status in LISTED_STATUSES or status == "open":
            values["status"] = status
        elif status:
            bad.append("status")
        for name in ("overdue", "no_end", "desc"):
            raw = (args.get(name) or "").strip()
            if raw in ("1", "true", "on"):
                values[name] = True
            elif raw not in ("", "0", "false"):
                bad.append(name)
        q = (args.get("q") or "").strip()
        if len(q) > 100:
            bad.append("q")
        elif q:
            values["q"] = q
        sort = (args.get("sort") or "").strip()
        if sort in SORTS:
            values["sort"] = sort
        elif sort:
            bad.append("sort")
        per_page = (args.get("per_page") or "").strip()
        if per_page.isdigit() and int(per_page) in PAGE_SIZES:
            values["per_page"] = int(per_page)
        elif per_page:
            bad.append("per_page")
        return cls(**values), bad

    def to_args(self, **changes) -> dict[str, str]:
        """The non-default values as URL arguments (for links that keep the view)."""
        current = replace(self, **changes)
        default = RegistryFilter()
        result = {}
        for f in fields(self):
            value = getattr(current, f.name)
            if value == getattr(default, f.name):
                continue
            result[f.name] = "1" if value is True else str(value)
        return result

    @property
    def active_filters(self) -> bool:
        return any(
            getattr(self, name) != getattr(RegistryFilter(), name)
            for name in ("unit", "person", "code", "category", "status", "expiring", "overdue", "no_end", "q")
        )


# --- lookups (small tables, loaded once per page) -----------------------------------------------------


@dataclass
class Catalog:
    units: dict[int, Unit]
    codes: dict[int, AuthorizationCode]
    categories: dict[int, AuthorizationCategory]

    @classmethod
    def load(cls, session: Session, organisation_id: int) -> Catalog:
        units = session.scalars(select(Unit).where(Unit.organisation_id == organisation_id))
        codes = session.scalars(select(AuthorizationCode).where(AuthorizationCode.organisation_id == organisation_id))
        cats = session.scalars(
            select(AuthorizationCategory).where(AuthorizationCategory.organisation_id == organisation_id)
        )
        return cls({u.id: u for u in units}, {c.id: c for c in codes}, {c.id: c for c in cats})

    def code_ids_matching(self, text: str) -> set[int]:
        needle = fold(text)
        return {
            c.id
            for c in self.codes.values()
            if needle in fold(c.key) or any(needle in fold(v) for v in (c.name or {}).values())
        }

    def unit_ids_matching(self, text: str) -> set[int]:
        needle = fold(text)
        return {u.id for u in self.units.values() if any(needle in fold(v) for v in (u.name or {}).values())}

    def unit_with_descendants(self, unit_id: int) -> set[int]:
        result, frontier = {unit_id}, {unit_id}
        while frontier:
            frontier = {u.id for u in self.units.values() if u.parent_id in frontier} - result
            result |= frontier
        return result


def _local(names: dict | None, language: str) -> str:
    names = names or {}
    return names.get(language) or names.get("fi") or next(iter(names.values()), "")


# --- the registry list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryRow:
    id: int
    status: str
    mandate_type: str | None
    valid_from: date | None
    valid_until: date | None
    next_review_on: date | None
    request_instance_id: int | None
    source: str
    notes: str
    holder_id: int
    holder_name: str
    holder_email: str
    unit: Unit | None
    code: AuthorizationCode
    category: AuthorizationCategory | None
    open_instance_id: int | None = None  # a review round or revocation under way

    @property
    def pending_request_id(self) -> int | None:
        return self.request_instance_id if self.status in OPEN_STATUSES else None

    @property
    def pending_instance_id(self) -> int | None:
        """The process under way for this row: its request while requested/approved, else a review or revocation."""
        return self.pending_request_id or self.open_instance_id


@dataclass
class RegistryPage:
    filter: RegistryFilter
    rows: list[RegistryRow]
    total: int
    catalog: Catalog

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.filter.per_page))

    @property
    def first_index(self) -> int:
        return (self.filter.page - 1) * self.filter.per_page + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.rows) - 1 if self.rows else 0


_COLUMNS = (
    Authorization.id,
    Authorization.status,
    Authorization.mandate_type,
    Authorization.valid_from,
    Authorization.valid_until,
    Authorization.next_review_on,
    Authorization.request_instance_id,
    Authorization.source,
    Authorization.notes,
    Authorization.holder_id,
    Authorization.holder_name,
    Person.email,
    Authorization.unit_id,
    Authorization.code_id,
    Authorization.open_instance_id,
)


PEOPLE_IN_LIST = 5000


def _conditions(
    scope: Scope, flt: RegistryFilter, catalog: Catalog, today: date, session: Session | None = None
) -> list:
    conditions = [scope.clause(), Authorization.status != S.CANCELLED.value]
    if flt.unit is not None:
        conditions.append(Authorization.unit_id.in_(catalog.unit_with_descendants(flt.unit)))
    if flt.person is not None:
        conditions.append(Authorization.holder_id == flt.person)
    if flt.code is not None:
        conditions.append(Authorization.code_id == flt.code)
    if flt.category is not None:
        ids = [c.id for c in catalog.codes.values() if c.category_id == flt.category]
        conditions.append(Authorization.code_id.in_(ids))
    if flt.status == "open":
        conditions.append(Authorization.status.in_(OPEN_STATUSES))
    elif flt.status:
        conditions.append(Authorization.status == flt.status)
    if flt.expiring is not None:
        conditions += [
            Authorization.status == S.ACTIVE.value,
            Authorization.valid_until >= today,
            Authorization.valid_until <= today + timedelta(days=flt.expiring),
        ]
    if flt.overdue:
        conditions += [Authorization.status == S.ACTIVE.value, Authorization.next_review_on < today]
    if flt.no_end:
        conditions.append(Authorization.valid_until.is_(None))
    if flt.q:
        needle = f"%{_escape_like(flt.q)}%".lower()
        people = select(Person.id).where(
            Person.organisation_id == scope.organisation_id,
            or_(func.lower(Person.name).like(needle, escape="\\"), func.lower(Person.email).like(needle, escape="\\")),
        )
        if session is not None and session.get_bind().dialect.name == "sqlite":
            # SQLite plans a short list of ids better than the subquery (PostgreSQL the other way round)
            found = list(session.scalars(people.limit(PEOPLE_IN_LIST + 1)))
            people = found if len(found) <= PEOPLE_IN_LIST else people
        alternatives = [Authorization.holder_id.in_(people)]
        code_ids = catalog.code_ids_matching(flt.q)
        if code_ids:
            alternatives.append(Authorization.code_id.in_(code_ids))
        unit_ids = catalog.unit_ids_matching(flt.q)
        if unit_ids:
            alternatives.append(Authorization.unit_id.in_(unit_ids))
        conditions.append(or_(*alternatives))
    return conditions


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _rank(names: dict[int, str]):
    """Order ids by their localized name in the database (a CASE over the few units or codes)."""
    ordered = sorted(names, key=lambda i: (fold(names[i]), i))
    return {item: position for position, item in enumerate(ordered)}


def _group_ranks(flt: RegistryFilter, catalog: Catalog, language: str):
    """For the unit and code sorts: the grouping column and each group's place in the localized order."""
    if flt.sort == "unit":
        return Authorization.unit_id, _rank({u.id: _local(u.name, language) for u in catalog.units.values()})
    if flt.sort == "code":
        return Authorization.code_id, _rank({c.id: _local(c.name, language) for c in catalog.codes.values()})
    return None, {}


def _order(flt: RegistryFilter, catalog: Catalog, language: str) -> list:
    column, ranks = _group_ranks(flt, catalog, language)
    if column is not None:
        key = case(ranks, value=column, else_=len(ranks)) if ranks else column
    elif flt.sort == "status":
        key = case({s: i for i, s in enumerate(LISTED_STATUSES)}, value=Authorization.status, else_=99)
    else:
        key = {
            "holder": Authorization.holder_name,
            "valid_from": Authorization.valid_from,
            "valid_until": Authorization.valid_until,
            "next_review": Authorization.next_review_on,
        }[flt.sort]
    primary = key.desc() if flt.desc else key.asc()
    if flt.sort in ("valid_from", "valid_until", "next_review"):
        primary = primary.nulls_last()  # "no date" sorts after every date, in both databases
    secondary = [Authorization.holder_name.asc(), Authorization.id.asc()] if flt.sort != "holder" else [
        Authorization.id.asc()
    ]
    return [primary, *secondary]


def registry_page(
    session: Session, scope: Scope, flt: RegistryFilter, *, today: date, language: str = "fi"
) -> RegistryPage:
    catalog = Catalog.load(session, scope.organisation_id)
    conditions = _conditions(scope, flt, catalog, today, session)
    column, ranks = _group_ranks(flt, catalog, language)
    order = _order(flt, catalog, language)

    def page_query(conditions: list, offset: int, *extra):
        return (
            select(*_COLUMNS, *extra)
            .join(Person, Person.id == Authorization.holder_id)
            .where(*conditions)
            .order_by(*order)
            .limit(flt.per_page)
            .offset(offset)
        )

    if column is None and flt.q:
        # A search reads every match anyway: count them in the same pass (a window count), not in a second one.
        found = session.execute(page_query(conditions, (flt.page - 1) * flt.per_page, func.count().over())).all()
        if found:
            return RegistryPage(flt, [_row(r, catalog) for r in found], found[0][-1], catalog)
    if column is None:
        total = session.scalar(select(func.count(Authorization.id)).where(*conditions))
    else:  # count per unit (or code) from the index, then read only the groups that reach this page
        groups = dict(session.execute(select(column, func.count()).where(*conditions).group_by(column)).all())
        total = sum(groups.values())
    pages = max(1, -(-total // flt.per_page))
    if flt.page > pages:
        flt = replace(flt, page=pages)
    offset = (flt.page - 1) * flt.per_page
    window = []
    if column is not None:
        ordered = sorted(groups, key=lambda k: ranks.get(k, len(ranks)), reverse=flt.desc)
        before = 0
        for key in ordered:
            if before + groups[key] <= offset and not window:
                before += groups[key]
                continue
            if before + sum(groups[k] for k in window) >= offset + flt.per_page:
                break
            window.append(key)
        offset -= before
        present = [k for k in window if k is not None]
        in_window = column.in_(present)
        conditions = [*conditions, or_(in_window, column.is_(None)) if None in window else in_window]
    rows = [_row(r, catalog) for r in session.execute(page_query(conditions, offset))] if total else []
    return RegistryPage(flt, rows, total, catalog)


def registry_rows(
    session: Session, scope: Scope, flt: RegistryFilter, *, today: date, language: str = "fi"
) -> tuple[list[RegistryRow], Catalog]:
    """Every row of the filtered view in its order (for export), not just one page."""
    catalog = Catalog.load(session, scope.organisation_id)
    query = (
        select(*_COLUMNS)
        .join(Person, Person.id == Authorization.holder_id)
        .where(*_conditions(scope, flt, catalog, today, session))
        .order_by(*_order(flt, catalog, language))
    )
    return [_row(r, catalog) for r in session.execute(query)], catalog


def registry_after(
    session: Session, scope: Scope, flt: RegistryFilter, *, today: date, after_id: int = 0, limit: int = 50
) -> list[RegistryRow]:
    """Keyset page for the integration API: the registry's filters and scope, in id order, after ``after_id``
    (a stable cursor while rows are added or change; the filter's sort and page are ignored)."""
    catalog = Catalog.load(session, scope.organisation_id)
    query = (
        select(*_COLUMNS)
        .join(Person, Person.id == Authorization.holder_id)
        .where(*_conditions(scope, flt, catalog, today, session), Authorization.id > after_id)
        .order_by(Authorization.id.asc())
        .limit(limit)
    )
    return [_row(r, catalog) for r in session.execute(query)]


def _row(r, catalog: Catalog) -> RegistryRow:
    code = catalog.codes[r.code_id]
    return RegistryRow(
        r.id,
        r.status,
        r.mandate_type,
        r.valid_from,
        r.valid_until,
        r.next_review_on,
        r.request_instance_id,
        r.source,
        r.notes,
        r.holder_id,
        r.holder_name,
        r.email,
        catalog.units.get(r.unit_id),
        code,
        catalog.categories.get(code.category_id),
        r.open_instance_id,
    )


# --- the summary -----------------------------------------------------------------------------------------


@dataclass
class Count:
    key: object
    label: dict | str
    value: int
    extra: dict = field(default_factory=dict)


@dataclass
class Summary:
    by_status: list[Count]
    by_unit: list[Count]
    by_code: list[Count]
    expiries_by_month: list[Count]  # key: first day of the month
    open_requests_by_age: list[Count]  # key: (low, high) days
    oldest_open_requests: list  # rows of (id, created_at, name): the instance rows hold workflow state
    active: int
    without_end_date: int
    review_overdue: int
    expiring_90: int
    catalog: Catalog


AGE_BUCKETS = ((0, 7), (7, 30), (30, 90), (90, None))


def _month_start(day: date, offset: int) -> date:
    month = day.month - 1 + offset
    return date(day.year + month // 12, month % 12 + 1, 1)


def summary(session: Session, scope: Scope, *, today: date, now: datetime) -> Summary:
    catalog = Catalog.load(session, scope.organisation_id)
    visible = [scope.clause(), Authorization.status != S.CANCELLED.value]
    active = Authorization.status == S.ACTIVE.value

    # One pass over the visible rows, grouped small: status × code × unit (a few thousand groups at most).
    by_status: dict[str, int] = {}
    by_unit: dict[int | None, list[int]] = {}
    by_code: dict[int, int] = {}
    grouped = session.execute(  # grouped in the covering index's order: the database streams it, no hash table
        select(Authorization.status, Authorization.code_id, Authorization.unit_id, func.count())
        .where(*visible)
        .group_by(Authorization.unit_id, Authorization.status, Authorization.code_id)
    )
    for status, code_id, unit_id, n in grouped:
        by_status[status] = by_status.get(status, 0) + n
        unit = by_unit.setdefault(unit_id, [0, 0])
        if status == S.ACTIVE.value:
            unit[0] += n
            by_code[code_id] = by_code.get(code_id, 0) + n
        elif status in OPEN_STATUSES:
            unit[1] += n

    # End dates of the next twelve months: a range of the (organisation, status, valid_until) index.
    months = [_month_start(today, i) for i in range(13)]
    first = min(months[0], today)
    ending = session.execute(
        select(Authorization.valid_until, func.count())
        .where(*visible, active, Authorization.valid_until >= first, Authorization.valid_until < months[-1])
        .group_by(Authorization.valid_until)
    ).all()
    per_month = [
        sum(n for day, n in ending if lo <= day < hi) for lo, hi in zip(months, months[1:], strict=False)
    ]
    expiring_90 = sum(n for day, n in ending if today <= day <= today + timedelta(days=90))
    without_end = session.scalar(select(func.count()).where(*visible, active, Authorization.valid_until.is_(None)))
    overdue = session.scalar(select(func.count()).where(*visible, active, Authorization.next_review_on < today))

    # open requests: instances of the request process whose subject is visible, by age
    subject = aliased(Person)
    open_query = (
        select(ProcessInstance.id, ProcessInstance.created_at, subject.name)
        .join(subject, subject.id == ProcessInstance.subject_person_id)
        .where(
            ProcessInstance.organisation_id == scope.organisation_id,
            ProcessInstance.process_id == "authorization_request",
            ProcessInstance.status.in_([InstanceStatus.RUNNING.value, InstanceStatus.WAITING.value]),
        )
    )
    if not scope.whole_organisation:
        own = subject.id == scope.person_id
        open_query = open_query.where(or_(subject.unit_id.in_(scope.unit_ids), own) if scope.unit_ids else own)
    open_instances = session.execute(open_query.order_by(ProcessInstance.created_at)).all()
    ages = []
    for low, high in AGE_BUCKETS:
        count = sum(
            1
            for inst in open_instances
            if (now - inst.created_at).days >= low and (high is None or (now - inst.created_at).days < high)
        )
        ages.append(Count((low, high), "", count))

    return Summary(
        by_status=[Count(s, s, by_status.get(s, 0)) for s in LISTED_STATUSES],
        by_unit=sorted(
            (
                Count(uid, catalog.units[uid].name if uid in catalog.units else "", n, {"open": o})
                for uid, (n, o) in by_unit.items()
            ),
            key=lambda c: (-c.value, fold(_local(c.label, "fi") if isinstance(c.label, dict) else "")),
        ),
        by_code=sorted(
            (Count(cid, catalog.codes[cid].name, n) for cid, n in by_code.items()),
            key=lambda c: (-c.value, fold(_local(c.label, "fi"))),
        ),
        expiries_by_month=[Count(months[i], "", per_month[i]) for i in range(12)],
        open_requests_by_age=ages,
        oldest_open_requests=open_instances[:10],
        active=by_status.get(S.ACTIVE.value, 0),
        without_end_date=without_end or 0,
        review_overdue=overdue or 0,
        expiring_90=expiring_90,
        catalog=catalog,
    )


# --- person and code pages -----------------------------------------------------------------------------


@dataclass
class HistoryItem:
    event: AuditEvent
    actor: Person | None
    code: AuthorizationCode | None


@dataclass
class PersonView:
    person: Person
    unit: Unit | None
    supervisor: Person | None
    current: list[RegistryRow]
    past: list[RegistryRow]
    history: list[HistoryItem]


def person_view(session: Session, scope: Scope, person_id: int, *, today: date, language: str = "fi") -> PersonView:
    person = session.get(Person, person_id)
    if person is None or not scope.sees_person(person):
        raise NotFoundError("person not found")
    rows, catalog = registry_rows(
        session,
        Scope(scope.organisation_id, whole_organisation=True),
        RegistryFilter(person=person.id, sort="code", per_page=200),
        today=today,
        language=language,
    )
    current = [r for r in rows if r.status in (S.ACTIVE.value, S.REVOKING.value, *OPEN_STATUSES)]
    past = [r for r in rows if r not in current]
    actor = aliased(Person)
    events = session.execute(
        select(AuditEvent, actor, Authorization.code_id)
        .join(Authorization, Authorization.id == AuditEvent.authorization_id)
        .outerjoin(actor, actor.id == AuditEvent.actor_id)
        .where(Authorization.holder_id == person.id, AuditEvent.organisation_id == scope.organisation_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(500)
    ).all()
    return PersonView(
        person,
        catalog.units.get(person.unit_id),
        session.get(Person, person.supervisor_id) if person.supervisor_id else None,
        current,
        past,
        [HistoryItem(e, a, catalog.codes.get(cid)) for e, a, cid in events],
    )


@dataclass
class CodeView:
    code: AuthorizationCode
    category: AuthorizationCategory | None
    holders_by_unit: list[tuple[Unit | None, list[RegistryRow]]]
    open_requests: int
    holders_visible: bool
    related: Any = None  # catalog_read.Related: what it replaces, what replaces it, what it is confused with


def code_view(session: Session, scope: Scope, code_id: int, *, today: date, language: str = "fi") -> CodeView:
    code = session.get(AuthorizationCode, code_id)
    if code is None or code.organisation_id != scope.organisation_id:
        raise NotFoundError("code not found")
    category = session.get(AuthorizationCategory, code.category_id) if code.category_id else None
    from .catalog_read import related

    links = related(session, code)
    if scope.is_personal:  # anyone may read what a code means; only managers see who holds it
        return CodeView(code, category, [], 0, False, links)
    rows, _catalog = registry_rows(
        session, scope, RegistryFilter(code=code.id, sort="unit"), today=today, language=language
    )
    groups: dict[int | None, tuple[Unit | None, list[RegistryRow]]] = {}
    for row in rows:
        if row.status != S.ACTIVE.value:
            continue
        key = row.unit.id if row.unit else None
        groups.setdefault(key, (row.unit, []))[1].append(row)
    return CodeView(
        code, category, list(groups.values()), sum(r.status in OPEN_STATUSES for r in rows), True, links
    )


def people_choices(session: Session, scope: Scope) -> list[tuple[int, str]]:
    """People whose authorizations the reader may filter by (id, name), by name."""
    query = select(Person.id, Person.name).where(Person.organisation_id == scope.organisation_id)
    if not scope.whole_organisation:
        own = Person.id == scope.person_id
        query = query.where(or_(Person.unit_id.in_(scope.unit_ids), own) if scope.unit_ids else own)
    return [(pid, name) for pid, name in session.execute(query.order_by(Person.name).limit(5000))]
