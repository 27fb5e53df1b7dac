"""The audit log's hash chain: real commands build it, verify finds the first modified, deleted or inserted row
(tampered with by SQL, as someone with database access would), concurrent writers never fork it, and an upgraded
database's old events are chained."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import delete, func, select, update

from engine import audit, audit_export, migrate
from engine.audit_verify import verify
from engine.db import Database
from engine.errors import NotFoundError
from engine.models import (
    AuditChainHead,
    AuditEvent,
    Authorization,
    HumanTask,
    HumanTaskOwner,
    Organisation,
    Person,
)
from tests.conftest import registration_form, request_form

ON_POSTGRESQL = (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgres")
events_table = AuditEvent.__table__


def organisation_id(host) -> int:
    with host.db.reader() as s:
        return s.scalar(select(Organisation.id).where(Organisation.key == "merilahti"))


def run_request(host, people, codes, who: str = "employee") -> int:
    """A request from fill-in to registration in Suomi.fi, each step done by one of its owners: the instance id."""
    forms = {
        "endorse_request": {"endorsement_decision": "endorse"},
        "approve_request": {"approval_decision": "approve"},
        "register_in_suomifi": registration_form(),
    }
    started = host.start_request(people[who], people[who], request_form(codes[:2]))
    ready = started.ready_task_ids
    while ready:
        with host.db.reader() as s:
            step = s.get(HumanTask, ready[0]).bpmn_id
            owner = s.scalar(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == ready[0]).limit(1))
        ready = host.complete_task(owner, ready[0], forms[step]).ready_task_ids
    return started.instance_id


def chain(host, org: int) -> list:
    with host.db.reader() as s:
        return list(
            s.execute(
                select(AuditEvent.id, AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash)
                .where(AuditEvent.organisation_id == org)
                .order_by(AuditEvent.seq)
            )
        )


def check(host, org: int):
    with host.db.reader() as s:
        return verify(s, org)


def tamper(host, statement) -> None:
    with host.db.engine.begin() as conn:
        conn.execute(statement)


@pytest.fixture
def built(host, people, codes):
    """The demo organisation after one request run through to registration: (organisation id, its chain)."""
    run_request(host, people, codes)
    org = organisation_id(host)
    return org, chain(host, org)


# -- built by real commands ------------------------------------------------------------------------------------


def test_a_request_run_to_registration_leaves_an_unbroken_chain_numbered_in_commit_order(host, built):
    org, rows = built
    assert len(rows) >= 8  # started, requested ×2, three steps, approvals, registrations, completed
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    assert rows[0].prev_hash == audit.GENESIS
    assert all(r.prev_hash == before.hash for before, r in zip(rows, rows[1:], strict=False))
    result = check(host, org)
    assert result.ok, result.problem
    assert (result.length, result.last_seq, result.last_hash) == (len(rows), len(rows), rows[-1].hash)
    with host.db.reader() as s:
        head = s.get(AuditChainHead, org)
        assert (head.last_seq, head.last_hash) == (len(rows), rows[-1].hash)


def test_events_of_a_rolled_back_savepoint_leave_no_hole_in_the_chain(host, built):
    org, rows = built
    with host.db.unit_of_work() as s:
        audit.record(s, org, "test.kept_before")
        nested = s.begin_nested()
        audit.record(s, org, "test.rolled_back")
        nested.rollback()
        audit.record(s, org, "test.kept_after")
    after = chain(host, org)
    assert [r.seq for r in after] == list(range(1, len(rows) + 3))
    assert check(host, org).ok


def test_a_failed_command_writes_no_event_and_moves_no_head(host, built):
    org, rows = built
    with pytest.raises(RuntimeError), host.db.unit_of_work() as s:
        audit.record(s, org, "test.never")
        raise RuntimeError("the command fails after auditing")
    assert chain(host, org) == rows
    assert check(host, org).ok


# -- tampering -------------------------------------------------------------------------------------------------


def test_verify_reports_an_event_whose_content_was_changed_as_modified(host, built):
    org, rows = built
    target = rows[4]
    tamper(host, update(events_table).where(events_table.c.id == target.id).values(details={"reason": "forged"}))
    result = check(host, org)
    assert not result.ok
    assert (result.problem.kind, result.problem.reason) == ("modified", "hash_mismatch")
    assert (result.problem.seq, result.problem.event_id) == (target.seq, target.id)
    assert result.length == 4  # the events before it are fine


def test_verify_reports_a_rewritten_event_with_a_recomputed_hash_at_the_next_link(host, built):
    org, rows = built
    target = rows[2]
    with host.db.engine.begin() as conn:
        row = conn.execute(select(*audit.CHAIN_COLUMNS).where(events_table.c.id == target.id)).mappings().one()
        forged = {**row, "action": "authorization.cancelled"}
        digest = audit.event_hash(forged, target.seq, target.prev_hash)
        conn.execute(
            update(events_table).where(events_table.c.id == target.id).values(action=forged["action"], hash=digest)
        )
    result = check(host, org)
    assert (result.problem.reason, result.problem.seq, result.problem.event_id) == (
        "prev_hash_mismatch",
        rows[3].seq,
        rows[3].id,
    )


def test_verify_reports_a_deleted_event_as_a_gap_before_the_next_one(host, built):
    org, rows = built
    tamper(host, delete(events_table).where(events_table.c.id == rows[3].id))
    problem = check(host, org).problem
    assert (problem.kind, problem.reason) == ("deleted", "seq_gap")
    assert (problem.expected_seq, problem.seq, problem.event_id) == (rows[3].seq, rows[4].seq, rows[4].id)


def test_verify_reports_events_deleted_from_the_end_of_the_chain(host, built):
    org, rows = built
    tamper(host, delete(events_table).where(events_table.c.id.in_([rows[-1].id, rows[-2].id])))
    problem = check(host, org).problem
    assert (problem.kind, problem.reason) == ("deleted", "head_behind")
    assert (problem.expected_seq, problem.seq) == (len(rows) - 1, len(rows))


def test_verify_reports_a_row_inserted_without_a_place_in_the_chain(host, built, people):
    org, _rows = built
    tamper(
        host,
        sa.insert(events_table).values(
            organisation_id=org,
            at=datetime.now(UTC),
            action="authorization.approved",
            actor_id=people["admin"],
            details={"note": "backdated"},
        ),
    )
    problem = check(host, org).problem
    assert (problem.kind, problem.reason, problem.seq) == ("inserted", "unchained", None)


def test_verify_reports_an_event_inserted_with_a_number_already_taken(host, built, people):
    org, rows = built
    target = rows[5]
    forged = {
        "organisation_id": org,
        "at": datetime.now(UTC),
        "actor_id": people["admin"],
        "action": "authorization.approved",
        "authorization_id": None,
        "instance_id": None,
        "task_id": None,
        "details": {},
    }
    digest = audit.event_hash(forged, target.seq, rows[4].hash)  # a valid-looking link after event 5
    with host.db.engine.begin() as conn:  # someone with database rights removes the uniqueness first
        conn.exec_driver_sql("DROP INDEX ix_audit_events_organisation_seq")
    try:
        tamper(host, sa.insert(events_table).values(**forged, seq=target.seq, prev_hash=rows[4].hash, hash=digest))
        problem = check(host, org).problem
        assert (problem.kind, problem.reason, problem.seq) == ("inserted", "seq_duplicate", target.seq)
        assert problem.other_event_id == target.id and problem.event_id != target.id
    finally:
        with host.db.engine.begin() as conn:
            conn.execute(delete(events_table).where(events_table.c.id > rows[-1].id))
            conn.exec_driver_sql(
                "CREATE UNIQUE INDEX ix_audit_events_organisation_seq ON audit_events (organisation_id, seq)"
            )


def test_verify_reports_a_valid_looking_event_appended_behind_the_heads_back(host, built):
    org, rows = built
    forged = {
        "organisation_id": org,
        "at": datetime.now(UTC),
        "actor_id": None,
        "action": "authorization.approved",
        "authorization_id": None,
        "instance_id": None,
        "task_id": None,
        "details": {},
    }
    seq = len(rows) + 1
    digest = audit.event_hash(forged, seq, rows[-1].hash)
    tamper(host, sa.insert(events_table).values(**forged, seq=seq, prev_hash=rows[-1].hash, hash=digest))
    problem = check(host, org).problem
    assert (problem.kind, problem.reason, problem.seq) == ("inserted", "head_ahead", seq)


# -- concurrency -----------------------------------------------------------------------------------------------


def append_concurrently(host, org: int, writers: int, each: int, *, together: bool) -> list[BaseException]:
    """``writers`` threads each commit ``each`` events; ``together``: all hold an uncommitted event at once
    before any of them commits (PostgreSQL only: SQLite writers queue at BEGIN)."""
    barrier = threading.Barrier(writers)
    problems: list[BaseException] = []

    def write(number: int) -> None:
        try:
            for i in range(each):
                with host.db.unit_of_work() as s:
                    audit.record(s, org, "test.concurrent", details={"writer": number, "i": i})
                    if together and i == 0:
                        barrier.wait(timeout=30)
        except BaseException as err:  # noqa: BLE001 - reported by the test
            problems.append(err)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return problems


def test_many_writers_appending_at_once_leave_one_unbroken_chain(host, built):
    org, rows = built
    assert append_concurrently(host, org, writers=4, each=10, together=False) == []
    after = chain(host, org)
    assert [r.seq for r in after] == list(range(1, len(rows) + 41))
    assert check(host, org).ok


@pytest.mark.skipif(not ON_POSTGRESQL, reason="needs PostgreSQL: SQLite writers never overlap")
def test_two_transactions_extending_the_same_head_on_postgresql_never_fork_the_chain(host, built):
    org, rows = built
    assert append_concurrently(host, org, writers=2, each=5, together=True) == []
    after = chain(host, org)
    assert [r.seq for r in after] == list(range(1, len(rows) + 11))
    assert len({r.prev_hash for r in after}) == len(after)  # no two events follow the same one
    assert check(host, org).ok


@pytest.mark.skipif(not ON_POSTGRESQL, reason="needs PostgreSQL: SQLite writers never overlap")
def test_the_first_events_of_a_new_organisation_written_at_once_start_one_chain(host):
    with host.db.unit_of_work() as s:
        other = Organisation(key="toinen", name={"fi": "Toinen kunta"}, business_id="1234567-8", languages=["fi"])
        s.add(other)
        s.flush()
        org = other.id
    assert append_concurrently(host, org, writers=3, each=3, together=True) == []
    assert [r.seq for r in chain(host, org)] == list(range(1, 10))
    assert check(host, org).ok


# -- upgrading -------------------------------------------------------------------------------------------------


@pytest.fixture
def scratch_url(settings, tmp_path):
    """An empty database beside the test database: a file on SQLite, a schema of its own on PostgreSQL."""
    if settings.database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'upgrade.sqlite3'}"
        return
    admin = Database(settings.database_url)
    with admin.engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS audit_upgrade CASCADE; CREATE SCHEMA audit_upgrade")
    url = settings.database_url
    yield url + ("&" if "?" in url else "?") + "options=-csearch_path%3Daudit_upgrade"
    with admin.engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA audit_upgrade CASCADE")
    admin.dispose()


def test_upgrading_a_database_with_audit_events_chains_them_so_that_it_verifies(scratch_url):
    db = Database(scratch_url)
    migrate.upgrade(db.engine, "0008")
    json = sa.JSON()
    orgs = sa.table(
        "organisations",
        *(sa.column(c) for c in ("id", "key", "business_id")),
        sa.column("name", json),
        sa.column("languages", json),
        sa.column("settings", json),
    )
    people = sa.table(
        "people",
        *(sa.column(c) for c in ("id", "organisation_id", "email", "name", "language", "active")),
        sa.column("title", json),
        sa.column("demo_note", json),
    )
    old_events = sa.table(
        "audit_events",
        *(sa.column(c) for c in ("organisation_id", "actor_id", "action")),
        sa.column("at", AuditEvent.__table__.c.at.type),
        sa.column("details", json),
    )
    with db.engine.begin() as conn:
        for key in (1, 2):
            conn.execute(
                sa.insert(orgs).values(
                    id=key,
                    key=f"kunta{key}",
                    business_id=f"000000{key}-0",
                    name={"fi": f"Kunta {key}"},
                    languages=["fi"],
                    settings={},
                )
            )
        conn.execute(
            sa.insert(people).values(
                id=1,
                organisation_id=1,
                email="a@kunta1.example",
                name="Åsa Öberg",
                language="sv",
                active=True,
                title={},
                demo_note={},
            )
        )
        conn.execute(
            sa.insert(old_events),
            [
                {
                    "organisation_id": 1 + i % 2,
                    "actor_id": 1 if i % 2 == 0 else None,
                    "action": f"old.event{i}",
                    "at": datetime(2025, 1, 1 + i, 12, 0, 0, 123456, tzinfo=UTC),
                    "details": {"z": i, "a": ["ä", {"y": None, "b": True}], "text": "rivi\nrivi"},
                }
                for i in range(7)
            ],
        )
    migrate.upgrade(db.engine)
    try:
        with db.reader() as s:
            for org, count in ((1, 4), (2, 3)):
                result = verify(s, org)
                assert result.ok and result.length == count, result.problem
                ids = list(
                    s.scalars(select(AuditEvent.id).where(AuditEvent.organisation_id == org).order_by(AuditEvent.seq))
                )
                assert ids == sorted(ids)  # chained in id order
        with db.unit_of_work() as s:  # and the chain goes on from there
            audit.record(s, 1, "new.event", actor_id=1)
        with db.reader() as s:
            assert verify(s, 1).length == 5
            assert s.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.organisation_id == 1)) == 5
    finally:
        db.dispose()


# -- export ----------------------------------------------------------------------------------------------------


def test_the_export_about_a_person_holds_exactly_the_events_about_them(host, people, codes):
    mine = run_request(host, people, codes, "employee")
    theirs = run_request(host, people, codes, "anstalld")
    org = organisation_id(host)
    with host.db.unit_of_work() as s:
        audit.record(s, org, "person.moved", details={"person_id": people["employee"], "unit": "x"})
        audit.record(s, org, "person.moved", details={"person_id": people["anstalld"], "unit": "y"})
        audit.record(s, org, "api.token_created", actor_id=people["employee"], details={"token_id": 1})
    with host.db.reader() as s:
        exported = audit_export.person_events(s, org, people["employee"])
        held = set(s.scalars(select(Authorization.id).where(Authorization.holder_id == people["employee"])))
        everything = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    expected = [
        e
        for e in everything
        if e.authorization_id in held or e.instance_id == mine or e.details.get("person_id") == people["employee"]
    ]
    assert [r.event.id for r in exported] == [e.id for e in expected]
    assert {r.event.instance_id for r in exported} == {mine, None}
    assert theirs not in {r.event.instance_id for r in exported}
    assert "api.token_created" not in {r.event.action for r in exported}  # done by them, not about them
    assert sum(r.event.action == "person.moved" for r in exported) == 1


def test_the_export_about_an_authorization_holds_its_events_only(host, people, codes):
    run_request(host, people, codes)
    org = organisation_id(host)
    with host.db.reader() as s:
        first = s.scalar(select(Authorization.id).where(Authorization.holder_id == people["employee"]).limit(1))
        exported = audit_export.authorization_events(s, org, first)
    actions = [r.event.action for r in exported]
    assert actions[0] == "authorization.requested" and "authorization.registered" in actions
    assert {r.event.authorization_id for r in exported} == {first}


def test_another_organisations_person_or_authorization_is_not_found(host, people, codes):
    run_request(host, people, codes)
    with host.db.unit_of_work() as s:
        other = Organisation(key="toinen", name={"fi": "Toinen kunta"}, business_id="1234567-8", languages=["fi"])
        s.add(other)
        s.flush()
        other_id = other.id
    with host.db.reader() as s:
        authorization = s.scalar(select(Authorization.id).limit(1))
        with pytest.raises(NotFoundError):
            audit_export.person_events(s, other_id, people["employee"])
        with pytest.raises(NotFoundError):
            audit_export.authorization_events(s, other_id, authorization)
        assert s.get(Person, people["employee"]).organisation_id != other_id
