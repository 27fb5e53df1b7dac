"""Comparing the registry with a list downloaded from Suomi.fi, and acting on the differences."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from engine.errors import ConflictError, NotFoundError
from engine.importer import SUOMIFI_MAPPING, Issue, load_mapping
from engine.models import AuditEvent, Authorization, AuthorizationCode, Organisation
from engine.reconcile import add_from_suomifi, align_end_date, close_missing_in_suomifi, compare_with_suomifi

TODAY = date(2025, 6, 1)
NOW = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)

REGISTRY = [  # holder, code, from, until
    ("anstalld", "tulorekisteri_palkkatietojen_ilmoittaminen", date(2025, 3, 1), date(2026, 2, 28)),
    ("henrik.aberg", "vero_veroilmoittaminen", date(2025, 1, 1), date(2025, 12, 31)),
    ("jari.hamalainen", "tulli_tulliselvittaminen", date(2024, 1, 1), date(2026, 12, 31)),
]

SUOMIFI_CSV = """Valtuutettu;Valtuusasia;Alkaa;Päättyy;Tila
Sofia Lindqvist;Palkkatietojen ilmoittaminen;1.3.2025;28.2.2026;Voimassa
Henrik Åberg;Veroilmoittaminen;1.1.2025;30.6.2026;Voimassa
Söderberg Elin;Etuustietojen katselu ja maksuvaatimusten rekisteröinti;15.1.2025;14.1.2027;Voimassa
Tuntematon Henkilö;Veroilmoittaminen;1.1.2025;31.12.2025;Voimassa
Mikael Holmström;Veroasioiden hoito;1.1.2023;31.12.2024;Päättynyt
"""


def org_id(host) -> int:
    with host.db.reader() as s:
        return s.scalar(select(Organisation.id))


@pytest.fixture
def registry(host, people) -> dict[str, int]:
    """Three active authorizations; holder → authorization id."""
    ids = {}
    with host.db.unit_of_work() as s:
        codes = {c.key: c.id for c in s.scalars(select(AuthorizationCode))}
        for holder, code, start, end in REGISTRY:
            row = Authorization(organisation_id=org_id(host), holder_id=people[holder], code_id=codes[code],
                                status="active", mandate_type="transaction", valid_from=start, valid_until=end,
                                next_review_on=end)  # fmt: skip
            s.add(row)
            s.flush()
            ids[holder] = row.id
    return ids


def compare(host, data: bytes = SUOMIFI_CSV.encode("utf-8-sig"), **options):
    with host.db.reader() as s:
        return compare_with_suomifi(s, org_id(host), data, "suomifi.csv", today=TODAY, **options)


def written(host) -> tuple[int, int]:
    with host.db.reader() as s:
        return (
            s.scalar(select(func.count()).select_from(Authorization)),
            s.scalar(select(func.count()).select_from(AuditEvent)),
        )


def test_each_kind_of_difference_is_listed_and_nothing_is_written(host, people, registry):
    before = written(host)
    result = compare(host)
    assert written(host) == before
    assert result.matching == 1 and result.not_in_force == 1

    [only_suomifi] = result.only_in_suomifi
    assert (only_suomifi.row, only_suomifi.person_id) == (4, people["elin.soderberg"])
    assert only_suomifi.name == "Elin Söderberg"
    assert (only_suomifi.suomifi_valid_from, only_suomifi.suomifi_valid_until) == (date(2025, 1, 15), date(2027, 1, 14))

    [only_registry] = result.only_in_registry
    assert only_registry.authorization_id == registry["jari.hamalainen"]
    assert only_registry.registry_valid_until == date(2026, 12, 31) and only_registry.name == "Jari Hämäläinen"

    [differs] = result.end_date_differs
    assert differs.authorization_id == registry["henrik.aberg"]
    assert (differs.registry_valid_until, differs.suomifi_valid_until) == (date(2025, 12, 31), date(2026, 6, 30))

    [unmatched] = result.unmatched
    assert unmatched.row == 5
    assert unmatched.issues == [Issue("unknown_person", {"name": "Tuntematon Henkilö", "email": ""})]


def test_line_keys_are_stable_between_comparisons(host, registry):
    first, second = compare(host), compare(host)
    keys = [line.key for line in (*first.only_in_suomifi, *first.only_in_registry, *first.end_date_differs)]
    assert len(set(keys)) == 3
    assert all(second.line(key) is not None for key in keys)
    assert second.line("registry:999999") is None


def test_acting_on_the_differences_brings_the_registry_in_line_with_suomifi(host, people, registry):
    result = compare(host)
    org = org_id(host)
    with host.db.unit_of_work() as s:
        added = add_from_suomifi(s, org, result.only_in_suomifi[0], people["admin"], NOW)
        close_missing_in_suomifi(s, org, result.only_in_registry[0].authorization_id, people["admin"], NOW)
        differs = result.end_date_differs[0]
        align_end_date(s, org, differs.authorization_id, differs.suomifi_valid_until, people["admin"], NOW)
    with host.db.reader() as s:
        added = s.get(Authorization, added.id)
        assert (added.status, added.source, added.holder_id) == ("active", "reconciliation", people["elin.soderberg"])
        assert (added.valid_from, added.valid_until, added.registered_on) == (
            date(2025, 1, 15),
            date(2027, 1, 14),
            date(2025, 1, 15),
        )
        assert added.next_review_on == date(2026, 1, 15)
        closed = s.get(Authorization, registry["jari.hamalainen"])
        assert (closed.status, closed.closing_reason, closed.next_review_on) == (
            "revoked",
            "not found in Suomi.fi",
            None,
        )
        aligned = s.get(Authorization, registry["henrik.aberg"])
        assert (aligned.valid_until, aligned.next_review_on) == (date(2026, 6, 30), date(2026, 1, 1))
        events = {e.action: e for e in s.scalars(select(AuditEvent).where(AuditEvent.actor_id == people["admin"]))}
    assert set(events) == {
        "authorization.added_from_suomifi",
        "authorization.closed_not_in_suomifi",
        "authorization.end_date_aligned",
    }
    assert events["authorization.end_date_aligned"].details == {"from": "2025-12-31", "to": "2026-06-30"}
    again = compare(host)
    assert (again.matching, again.only_in_suomifi, again.only_in_registry, again.end_date_differs) == (3, [], [], [])


def test_actions_refuse_what_is_not_theirs_to_change(host, people, registry):
    result = compare(host)
    org = org_id(host)
    with host.db.unit_of_work() as s:
        close_missing_in_suomifi(s, org, registry["jari.hamalainen"], None, NOW)
    with host.db.unit_of_work() as s:
        with pytest.raises(ConflictError):
            close_missing_in_suomifi(s, org, registry["jari.hamalainen"], None, NOW)  # no longer active
        with pytest.raises(ConflictError):
            align_end_date(s, org, registry["jari.hamalainen"], date(2027, 1, 1), None, NOW)
        with pytest.raises(NotFoundError):
            close_missing_in_suomifi(s, org + 1, registry["anstalld"], None, NOW)  # another organisation's
        with pytest.raises(ConflictError):
            add_from_suomifi(s, org, result.only_in_registry[0], None, NOW)  # not a Suomi.fi-only line
    with host.db.unit_of_work() as s:
        add_from_suomifi(s, org, result.only_in_suomifi[0], None, NOW)
    with host.db.unit_of_work() as s, pytest.raises(ConflictError):
        add_from_suomifi(s, org, result.only_in_suomifi[0], None, NOW)  # added already


def test_suomifi_columns_can_be_mapped(host, registry):
    mapping = load_mapping("columns: {name: Fullmaktshavare, code: Ärende, valid_until: Slutar}", base=SUOMIFI_MAPPING)
    data = "Fullmaktshavare,Ärende,Slutar\nÅberg Henrik,Deklarering,31.12.2025\nSofia Lindqvist,Okänd,1.1.2026\n"
    result = compare(host, data.encode(), mapping=mapping)
    assert result.matching == 1 and len(result.only_in_registry) == 2
    assert [line.issues[0].code for line in result.unmatched] == ["unknown_code"]
