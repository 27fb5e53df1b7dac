"""The reviewer's page (Tarkastelut) through the Flask test client, CSRF on."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from engine import review
from engine.directory import upsert_organisation
from engine.models import AuditEvent, Authorization, HumanTask, Person, ProcessInstance, ReviewItem
from tests.engine.test_revocation import add_active


@pytest.fixture
def round_(host, people, codes) -> int:
    """Two of the employee's authorizations in one open round (reviewers: the director and the deputy)."""
    today = date.today()
    for code in codes[:2]:
        add_active(
            host,
            people["employee"],
            code,
            registered=today - timedelta(days=340),
            until=today + timedelta(days=700),
            next_review=today + timedelta(days=20),
        )
    assert review.open_due_rounds(host, host.clock()) == 1
    with host.db.reader() as s:
        return s.scalar(select(ProcessInstance.id).where(ProcessInstance.process_id == "authorization_review"))


def items(host, instance_id: int) -> list[ReviewItem]:
    with host.db.reader() as s:
        return list(s.scalars(select(ReviewItem).where(ReviewItem.instance_id == instance_id).order_by(ReviewItem.id)))


def status(host, instance_id: int) -> str:
    with host.db.reader() as s:
        return s.get(ProcessInstance, instance_id).status


def line(item: ReviewItem, decision: str, **fields) -> dict:
    data = {"decide": f"{item.id}:{decision}", f"version-{item.id}": str(item.lock_version)}
    data.update({f"{k}-{item.id}": v for k, v in fields.items()})
    return data


def test_the_reviewer_sees_the_link_and_every_pending_line_while_others_do_not(web, round_, host):
    web.login("director")
    page = web.client.get("/reviews").get_data(as_text=True)
    assert 'href="/reviews"' in web.client.get("/").get_data(as_text=True)
    assert page.count('name="selected"') == 2 and "Emilia Esimerkki" in page
    assert f"/requests/{round_}" in page  # the round, linked to its process page

    web.login("supervisor")
    assert 'href="/reviews"' not in web.client.get("/").get_data(as_text=True)
    assert web.client.get("/reviews").get_data(as_text=True).count('name="selected"') == 0


def test_deciding_the_last_line_finishes_the_round_in_the_same_request(web, round_, host, people):
    first, second = items(host, round_)
    web.login("director")
    assert web.post("/reviews/decide", line(first, "keep"), token_from="/reviews").status_code == 303
    assert status(host, round_) == "running"
    web.login("mikael.holmstrom")  # the deputy sees only what is left
    assert web.client.get("/reviews").get_data(as_text=True).count('name="selected"') == 1
    response = web.post(
        "/reviews/decide",
        line(second, "change_end", end=(date.today() + timedelta(days=90)).isoformat()),
        token_from="/reviews",
    )
    assert response.status_code == 303
    assert status(host, round_) == "complete"
    with host.db.reader() as s:
        changed = s.get(Authorization, second.authorization_id)
        kept = s.get(Authorization, first.authorization_id)
    assert changed.valid_until == date.today() + timedelta(days=90) and changed.open_instance_id is None
    assert kept.last_reviewed_on == date.today()
    assert [i.decided_by_id for i in items(host, round_)] == [people["director"], people["mikael.holmstrom"]]


def test_bulk_decisions_apply_to_the_selected_lines_only(web, round_, host):
    first, second = items(host, round_)
    web.login("director")
    data = {
        "bulk": "revoke",
        "bulk_reason": "Tehtävät siirtyivät",
        "selected": [str(first.id)],
        f"version-{first.id}": "1",
        f"version-{second.id}": "1",
    }
    assert web.post("/reviews/decide", data, token_from="/reviews").status_code == 303
    assert [i.decision for i in items(host, round_)] == ["revoke", None]


def test_a_revocation_without_reason_is_refused_with_a_message_and_nothing_is_written(web, round_, host):
    first, second = items(host, round_)
    web.login("director")
    response = web.post("/reviews/decide", line(first, "revoke", reason=" "), token_from="/reviews")
    assert response.status_code == 422
    assert f'id="error-{first.id}"' in response.get_data(as_text=True)
    data = {
        "bulk": "change_end",
        "bulk_end": "2001-01-01",
        "selected": [str(first.id), str(second.id)],
        f"version-{first.id}": "1",
        f"version-{second.id}": "1",
    }
    assert web.post("/reviews/decide", data, token_from="/reviews").status_code == 422
    assert [i.decision for i in items(host, round_)] == [None, None]
    with host.db.reader() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "review.decided")) == 0


def test_the_second_of_two_people_deciding_one_line_gets_a_conflict(web, round_, host, client, people):
    first, _second = items(host, round_)
    web.login("director")
    token = web.token("/reviews")
    assert web.client.post("/reviews/decide", data={"csrf_token": token, **line(first, "keep")}).status_code == 303
    web.login("mikael.holmstrom")  # the page they loaded earlier still carried version 1
    response = web.post("/reviews/decide", line(first, "revoke", reason="Ei tarvita"), token_from="/reviews")
    assert response.status_code == 409
    assert items(host, round_)[0].decision == "keep"


def test_a_round_with_pending_lines_cannot_be_finished(web, round_, host):
    web.login("director")
    assert web.post(f"/reviews/rounds/{round_}/finish", {}, token_from="/reviews").status_code == 409
    with host.db.reader() as s:
        task_id = s.scalar(select(HumanTask.id).where(HumanTask.instance_id == round_, HumanTask.status == "ready"))
    assert web.post(f"/tasks/{task_id}", {}, token_from="/reviews").status_code == 409  # nor through the task page
    assert status(host, round_) == "running"


def test_posts_without_a_csrf_token_are_refused(web, round_, host):
    first, _ = items(host, round_)
    web.login("director")
    assert web.client.post("/reviews/decide", data=line(first, "keep")).status_code == 400
    assert items(host, round_)[0].decision is None


def test_someone_outside_the_round_or_the_organisation_can_decide_nothing(web, round_, host):
    first, _ = items(host, round_)
    web.login("employee")  # the holder is no reviewer of their own authorizations
    assert web.post("/reviews/decide", line(first, "keep"), token_from="/reviews").status_code == 404
    with host.db.unit_of_work() as s:
        upsert_organisation(
            s,
            {
                "organisation": {"key": "toinen", "name": {"fi": "Toinen kunta"}, "business_id": "0000000-0"},
                "units": [{"key": "hallinto", "name": {"fi": "Hallinto"}, "director": "boss@toinen.example"}],
                "people": [
                    {
                        "email": "boss@toinen.example",
                        "name": "Toisen Pomo",
                        "unit": "hallinto",
                        "roles": ["administrator"],
                    }
                ],
            },
        )
        web.people["outsider"] = s.scalar(select(Person.id).where(Person.email == "boss@toinen.example"))
    web.login("outsider")
    assert "Emilia" not in web.client.get("/reviews").get_data(as_text=True)
    assert web.post("/reviews/decide", line(first, "keep"), token_from="/reviews").status_code == 404
    assert web.post(f"/reviews/rounds/{round_}/finish", {}, token_from="/reviews").status_code == 404
    assert items(host, round_)[0].decision is None


def test_the_registry_shows_the_review_under_way(web, round_, host):
    web.login("admin")
    page = web.client.get("/authorizations").get_data(as_text=True)
    assert page.count(f'href="/requests/{round_}"') == 2
