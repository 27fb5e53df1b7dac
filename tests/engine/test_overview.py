"""Kokonaistilanne: the registry view, its filters, scope, summary and person/code pages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import overview, queries
from engine.errors import NotFoundError
from engine.models import Authorization, AuthorizationCode, Person, Unit
from engine.registry import sync_holders

TODAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 10, tzinfo=UTC)


def grant(session, person_id, code_key, *, status="active", start=None, end=None, review=None, notes=""):
    code = session.scalar(select(AuthorizationCode).where(AuthorizationCode.key == code_key))
    person = session.get(Person, person_id)
    row = Authorization(
        organisation_id=person.organisation_id,
        holder_id=person_id,
        code_id=code.id,
        status=status,
        mandate_type="transaction",
        valid_from=start or TODAY - timedelta(days=100),
        valid_until=end,
        next_review_on=review,
        notes=notes,
        source="import",
    )
    session.add(row)
    session.flush()
    sync_holders(session, person.organisation_id, [person_id])  # as every path that creates one does
    return row.id


@pytest.fixture
def code_keys(host):
    with host.db.reader() as s:
        return list(s.scalars(select(AuthorizationCode.key).order_by(AuthorizationCode.id)))


@pytest.fixture
def registry(host, people, code_keys):
    """A small registry across three units: Financial Services, Group Services and Early Childhood Education."""
    with host.db.unit_of_work() as s:
        ids = {
            "employee_a": grant(s, people["employee"], code_keys[0], end=TODAY + timedelta(days=20),
                                review=TODAY - timedelta(days=3)),
            "employee_b": grant(s, people["employee"], code_keys[1], end=None, review=TODAY + timedelta(days=200)),
            "admin_a": grant(s, people["admin"], code_keys[2], end=TODAY + timedelta(days=400)),
            "anstalld_a": grant(s, people["anstalld"], code_keys[0], end=TODAY + timedelta(days=45)),
            "anstalld_old": grant(s, people["anstalld"], code_keys[3], status="expired",
                                  start=TODAY - timedelta(days=800), end=TODAY - timedelta(days=30)),
        }
    return ids


def page(host, who, people, personal=False, **args):
    with host.db.reader() as s:
        user = queries.user(s, people[who])
        scope = overview.scope_for(s, user, personal=personal)
        flt, bad = overview.RegistryFilter.from_args({k: str(v) for k, v in args.items()})
        assert bad == []
        return overview.registry_page(s, scope, flt, today=TODAY)


def ids(result):
    return {r.id for r in result.rows}


def test_the_main_administrator_sees_the_whole_organisation(host, people, registry):
    assert ids(page(host, "admin", people)) == set(registry.values())


def test_a_director_sees_only_the_units_they_direct_and_their_sub_units(host, people, registry):
    seen = ids(page(host, "director", people))
    assert seen == {registry["employee_a"], registry["employee_b"], registry["admin_a"]}


def test_a_director_asking_for_another_unit_gets_nothing_from_it(host, people, registry):
    with host.db.reader() as s:
        other = s.scalar(select(Unit.id).where(Unit.key == "varhaiskasvatus"))
    assert ids(page(host, "director", people, unit=other)) == set()


def test_an_employee_sees_only_their_own_authorizations(host, people, registry):
    assert ids(page(host, "employee", people)) == {registry["employee_a"], registry["employee_b"]}
    assert ids(page(host, "admin", people, personal=True)) == {registry["admin_a"]}


def test_expiring_overdue_and_open_ended_filters_pick_the_right_rows(host, people, registry):
    assert ids(page(host, "admin", people, expiring=30)) == {registry["employee_a"]}
    assert ids(page(host, "admin", people, expiring=60)) == {registry["employee_a"], registry["anstalld_a"]}
    assert ids(page(host, "admin", people, overdue=1)) == {registry["employee_a"]}
    assert ids(page(host, "admin", people, no_end=1)) == {registry["employee_b"]}
    assert ids(page(host, "admin", people, status="expired")) == {registry["anstalld_old"]}


def test_free_text_finds_people_by_name_and_codes_by_their_swedish_name(host, people, registry, code_keys):
    with host.db.reader() as s:
        code = s.scalar(select(AuthorizationCode).where(AuthorizationCode.key == code_keys[2]))
        anstalld = s.get(Person, people["anstalld"])
    swedish = code.name["sv"]
    assert ids(page(host, "admin", people, q=swedish[2:12].upper())) == {registry["admin_a"]}
    surname = anstalld.name.split()[-1]
    assert ids(page(host, "admin", people, q=surname.lower())) == {registry["anstalld_a"], registry["anstalld_old"]}


def test_search_text_with_like_wildcards_is_taken_literally(host, people, registry):
    with host.db.reader() as s:
        name = s.get(Person, people["employee"]).name
    assert ids(page(host, "admin", people, q=name[:4])) == {registry["employee_a"], registry["employee_b"]}
    assert ids(page(host, "admin", people, q=name[:2] + "_" + name[3:6])) == set()  # as a wildcard it would match
    assert ids(page(host, "admin", people, q="%")) == set()


def test_category_filter_covers_every_code_of_the_category(host, people, registry, code_keys):
    with host.db.reader() as s:
        first = s.scalar(select(AuthorizationCode).where(AuthorizationCode.key == code_keys[0]))
        same_category = set(
            s.scalars(select(AuthorizationCode.key).where(AuthorizationCode.category_id == first.category_id))
        )
    expected = {
        rid for name, rid in registry.items()
        if {"employee_a": code_keys[0], "employee_b": code_keys[1], "admin_a": code_keys[2],
            "anstalld_a": code_keys[0], "anstalld_old": code_keys[3]}[name] in same_category
    }
    assert ids(page(host, "admin", people, category=first.category_id)) == expected


def test_sorting_and_pagination_split_the_view_into_ordered_pages(host, people, registry):
    first = page(host, "admin", people, sort="valid_until", per_page=25)
    ends = [r.valid_until for r in first.rows]
    dated = [d for d in ends if d is not None]
    assert dated == sorted(dated) and ends[-1] is None  # open-ended last
    descending = page(host, "admin", people, sort="valid_until", desc=1)
    assert [r.id for r in descending.rows][: len(dated)] == [r.id for r in first.rows][: len(dated)][::-1]


def test_a_page_past_the_end_shows_the_last_page(host, people, registry):
    result = page(host, "admin", people, page=99, per_page=25)
    assert result.filter.page == 1 and result.total == 5 and len(result.rows) == 5


def test_filter_arguments_round_trip_and_nonsense_is_reported_not_used():
    flt, bad = overview.RegistryFilter.from_args(
        {"unit": "3", "status": "active", "overdue": "1", "q": " Kela ", "sort": "unit", "desc": "1", "page": "2"}
    )
    assert bad == []
    again, _ = overview.RegistryFilter.from_args(flt.to_args())
    assert again == flt
    junk, bad = overview.RegistryFilter.from_args(
        {"unit": "x", "status": "DROP TABLE", "sort": "password", "per_page": "100000", "expiring": "-1"}
    )
    assert junk == overview.RegistryFilter()
    assert set(bad) == {"unit", "status", "sort", "per_page", "expiring"}


def test_summary_counts_by_status_unit_code_and_month(host, people, registry, code_keys):
    with host.db.reader() as s:
        admin = queries.user(s, people["admin"])
        data = overview.summary(s, overview.scope_for(s, admin), today=TODAY, now=NOW)
    status = {c.key: c.value for c in data.by_status}
    assert status["active"] == 4 and status["expired"] == 1 and status["requested"] == 0
    assert data.active == 4 and data.without_end_date == 1 and data.review_overdue == 1
    assert data.expiring_90 == 2
    months = {c.key: c.value for c in data.expiries_by_month}
    assert months[date(2026, 12, 1)] == 1  # employee_a ends 12.12.2026
    assert months[date(2027, 1, 1)] == 1  # anstalld_a ends 6.1.2027
    assert sum(months.values()) == 2  # admin_a ends after twelve months
    assert len(data.expiries_by_month) == 12
    with host.db.reader() as s:
        unit_of = {u.key: u.id for u in s.scalars(select(Unit))}
        code_of = {c.key: c.id for c in s.scalars(select(AuthorizationCode))}
    units = {c.key: c.value for c in data.by_unit}
    assert units[unit_of["talouspalvelut"]] == 2 and units[unit_of["varhaiskasvatus"]] == 1
    codes = {c.key: c.value for c in data.by_code}
    assert codes[code_of[code_keys[0]]] == 2


def test_a_directors_summary_counts_only_their_units(host, people, registry):
    with host.db.reader() as s:
        director = queries.user(s, people["director"])
        data = overview.summary(s, overview.scope_for(s, director), today=TODAY, now=NOW)
    assert data.active == 3 and sum(c.value for c in data.by_status) == 3


def test_open_requests_are_counted_by_age(host, people, codes):
    from tests.conftest import request_form

    host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    with host.db.reader() as s:
        admin = queries.user(s, people["admin"])
        now = datetime.now(UTC) + timedelta(days=10)
        data = overview.summary(s, overview.scope_for(s, admin), today=now.date(), now=now)
    ages = {c.key: c.value for c in data.open_requests_by_age}
    assert ages[(7, 30)] == 1 and sum(ages.values()) == 1
    assert len(data.oldest_open_requests) == 1


def test_person_page_lists_current_and_past_and_is_hidden_outside_the_scope(host, people, registry):
    with host.db.reader() as s:
        admin = queries.user(s, people["admin"])
        view = overview.person_view(s, overview.scope_for(s, admin), people["anstalld"], today=TODAY)
        assert {r.id for r in view.current} == {registry["anstalld_a"]}
        assert {r.id for r in view.past} == {registry["anstalld_old"]}
        director = queries.user(s, people["director"])
        with pytest.raises(NotFoundError):
            overview.person_view(s, overview.scope_for(s, director), people["anstalld"], today=TODAY)
        employee = queries.user(s, people["employee"])
        with pytest.raises(NotFoundError):
            overview.person_view(s, overview.scope_for(s, employee), people["admin"], today=TODAY)


def test_code_page_groups_holders_by_unit_and_hides_them_from_employees(host, people, registry, code_keys):
    with host.db.reader() as s:
        code_id = s.scalar(select(AuthorizationCode.id).where(AuthorizationCode.key == code_keys[0]))
        admin = queries.user(s, people["admin"])
        view = overview.code_view(s, overview.scope_for(s, admin), code_id, today=TODAY)
        holders = {r.id for _unit, rows in view.holders_by_unit for r in rows}
        assert holders == {registry["employee_a"], registry["anstalld_a"]}
        assert len(view.holders_by_unit) == 2
        employee = queries.user(s, people["employee"])
        hidden = overview.code_view(s, overview.scope_for(s, employee), code_id, today=TODAY)
        assert hidden.holders_visible is False and hidden.holders_by_unit == []


def test_a_person_who_moves_takes_their_authorizations_to_the_new_units_view(host, people, registry, settings):
    from engine.directory import load_yaml, upsert_organisation

    doc = load_yaml(settings.demo_file)
    for person in doc["people"]:
        if person["email"].startswith("employee@"):
            person["unit"] = "varhaiskasvatus"
            person["name"] = "Emilia Muuttanut"
    with host.db.unit_of_work() as s:
        upsert_organisation(s, doc)
    moved = {registry["employee_a"], registry["employee_b"]}
    assert ids(page(host, "director", people)) & moved == set()
    with host.db.reader() as s:
        unit = s.scalar(select(Unit.id).where(Unit.key == "varhaiskasvatus"))
    assert moved <= ids(page(host, "admin", people, unit=unit))
    assert ids(page(host, "admin", people, q="muuttanut")) == moved
    assert {r.holder_name for r in page(host, "admin", people, unit=unit).rows if r.id in moved} == {"Emilia Muuttanut"}


@pytest.mark.parametrize("sort", ["unit", "code"])
@pytest.mark.parametrize("desc", [False, True])
def test_pages_sorted_by_unit_or_code_are_the_full_ordering_cut_into_pieces(host, people, code_keys, sort, desc):
    holders = [pid for name, pid in sorted(people.items())][:20]
    with host.db.unit_of_work() as s:
        for i, pid in enumerate(holders):
            for key in code_keys[i % 5 : i % 5 + 3]:
                grant(s, pid, key, end=TODAY + timedelta(days=30 + i))
    args = {"sort": sort, "per_page": 25, **({"desc": 1} if desc else {})}
    with host.db.reader() as s:
        admin = queries.user(s, people["admin"])
        scope = overview.scope_for(s, admin)
        flt, _ = overview.RegistryFilter.from_args({k: str(v) for k, v in args.items()})
        everything, _catalog = overview.registry_rows(s, scope, flt, today=TODAY)
        pieces = []
        for number in (1, 2, 3):
            result = overview.registry_page(s, scope, replace(flt, page=number), today=TODAY)
            pieces += [r.id for r in result.rows]
    assert len(everything) == 60
    assert pieces == [r.id for r in everything]


def test_a_search_counts_its_matches_and_a_page_past_them_shows_the_last(host, people, registry):
    with host.db.reader() as s:
        name = s.get(Person, people["anstalld"]).name
    first = page(host, "admin", people, q=name)
    assert first.total == 2 and len(first.rows) == 2
    beyond = page(host, "admin", people, q=name, page=5)
    assert beyond.filter.page == 1 and {r.id for r in beyond.rows} == {registry["anstalld_a"], registry["anstalld_old"]}
    assert page(host, "admin", people, q="nobody-has-this-name").total == 0
