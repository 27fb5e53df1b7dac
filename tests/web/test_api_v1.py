"""The integration API /api/v1: tokens and scopes, the read endpoints, writes with idempotency keys, problem
details, cursor pagination, the rate limit and the OpenAPI document – against the real database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from engine import api_tokens
from engine.models import ApiToken, AuditEvent, Authorization, Organisation, Person, ProcessInstance, Unit
from tests.conftest import request_form
from tests.engine.test_overview import grant


@pytest.fixture
def org_id(host) -> int:
    with host.db.reader() as s:
        return s.scalar(select(Unit.organisation_id).limit(1))


def make_token(host, organisation_id: int, scopes=("read", "hr-events", "requests")) -> tuple[int, str]:
    with host.db.unit_of_work() as s:
        row, secret = api_tokens.create(s, organisation_id, "integration", list(scopes), created_by=None,
                                        now=host.clock())
        return row.id, secret


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def token(host, org_id) -> str:
    return make_token(host, org_id)[1]


@pytest.fixture
def code_keys(host):
    from engine.models import AuthorizationCode

    with host.db.reader() as s:
        return list(s.scalars(select(AuthorizationCode.key).order_by(AuthorizationCode.id)))


@pytest.fixture
def registry(host, people, code_keys) -> list[int]:
    today = date.today()
    with host.db.unit_of_work() as s:
        ids = [grant(s, people["employee"], code_keys[i % 5], end=today + timedelta(days=10 + i)) for i in range(7)]
        ids.append(grant(s, people["anstalld"], code_keys[0], status="expired", end=today - timedelta(days=3)))
    return ids


@pytest.fixture
def other_organisation(host) -> tuple[int, int]:
    """A second organisation with one person; returns (organisation id, person id)."""
    with host.db.unit_of_work() as s:
        org = Organisation(key="toinen", name={"fi": "Toinen kunta"}, business_id="1234567-8", languages=["fi"])
        s.add(org)
        s.flush()
        person = Person(organisation_id=org.id, email="joku@toinen.example", name="Joku Toinen")
        s.add(person)
        s.flush()
        return org.id, person.id


def is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["type"]
    return body


# -- authentication and scopes ------------------------------------------------------------------------------


def test_without_a_token_or_with_an_unknown_one_every_endpoint_answers_401_problem(client, token):
    for path in ("/api/v1/authorizations", "/api/v1/people", "/api/v1/units", "/api/v1/codes", "/api/v1/tasks"):
        is_problem(client.get(path), 401)
        is_problem(client.get(path, headers=bearer("vh_not-a-token")), 401)
        is_problem(client.get(path, headers={"Authorization": f"Basic {token}"}), 401)
    response = client.post("/api/v1/hr-events", json={})
    is_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_call_refused_for_want_of_a_token_is_logged_with_method_path_and_address(client, caplog):
    with caplog.at_level("WARNING"):
        is_problem(client.get("/api/v1/people?x=1", headers=bearer("vh_guess")), 401)
    assert any("GET /api/v1/people" in r.getMessage() and "127.0.0.1" in r.getMessage() for r in caplog.records)


def test_a_revoked_token_is_refused_and_the_hash_alone_is_stored(client, host, org_id):
    token_id, secret = make_token(host, org_id)
    assert client.get("/api/v1/units", headers=bearer(secret)).status_code == 200
    with host.db.unit_of_work() as s:
        row = s.get(ApiToken, token_id)
        assert secret not in (row.token_sha256, row.name) and row.token_sha256 == api_tokens.token_hash(secret)
        assert row.last_used_at is not None
        api_tokens.revoke(s, org_id, token_id, actor_id=None, now=host.clock())
    is_problem(client.get("/api/v1/units", headers=bearer(secret)), 401)


def test_a_token_without_the_scope_gets_403(client, host, org_id):
    _id, read_only = make_token(host, org_id, scopes=["read"])
    _id, hr_only = make_token(host, org_id, scopes=["hr-events"])
    is_problem(client.get("/api/v1/authorizations", headers=bearer(hr_only)), 403)
    is_problem(client.post("/api/v1/hr-events", json={"event_id": "x"}, headers=bearer(read_only)), 403)
    is_problem(client.post("/api/v1/requests", json={}, headers=bearer(read_only)), 403)


def test_tokens_need_known_scopes_and_a_name():
    with pytest.raises(ValueError):
        api_tokens.create(None, 1, "x", ["admin"], created_by=None, now=None)
    with pytest.raises(ValueError):
        api_tokens.create(None, 1, "", ["read"], created_by=None, now=None)


def test_another_organisations_rows_are_404_and_never_listed(client, host, token, people, registry, other_organisation):
    other_org, other_person = other_organisation
    with host.db.unit_of_work() as s:
        from engine.models import AuthorizationCode

        code = AuthorizationCode(organisation_id=other_org, key="x", name={"fi": "X"})
        s.add(code)
        s.flush()
        foreign = Authorization(organisation_id=other_org, holder_id=other_person, holder_name="Joku Toinen",
                                code_id=code.id, status="active", source="import")
        s.add(foreign)
        s.flush()
        foreign_id = foreign.id
    is_problem(client.get(f"/api/v1/authorizations/{foreign_id}", headers=bearer(token)), 404)
    is_problem(client.get(f"/api/v1/people/{other_person}", headers=bearer(token)), 404)
    listed = client.get("/api/v1/authorizations?limit=200", headers=bearer(token)).get_json()
    assert foreign_id not in {item["id"] for item in listed["items"]}
    people_ids = {p["id"] for p in client.get("/api/v1/people?limit=200", headers=bearer(token)).get_json()["items"]}
    assert other_person not in people_ids
    other_token = make_token(host, other_org)[1]
    is_problem(client.get(f"/api/v1/authorizations/{registry[0]}", headers=bearer(other_token)), 404)
    is_problem(client.post("/api/v1/requests", headers=bearer(other_token), json={
        "holder_id": people["employee"], "codes": [1], "justification": "x",
        "valid_from": date.today().isoformat(), "valid_until": date.today().isoformat()}), 404)


# -- reads --------------------------------------------------------------------------------------------------


def test_the_read_endpoints_answer_their_documented_shapes(client, token, people, registry):
    one = client.get(f"/api/v1/authorizations/{registry[0]}", headers=bearer(token))
    assert one.status_code == 200
    body = one.get_json()
    assert body["holder"]["id"] == people["employee"] and body["status"] == "active" and body["code"]["key"]
    person = client.get(f"/api/v1/people/{people['employee']}", headers=bearer(token)).get_json()
    assert person["email"].startswith("employee@") and len(person["authorizations"]) == 7
    units = client.get("/api/v1/units", headers=bearer(token)).get_json()
    assert units["items"] and all(u["key"] for u in units["items"])
    codes = client.get("/api/v1/codes", headers=bearer(token)).get_json()
    assert codes["items"] and codes["items"][0]["name"]["fi"]
    is_problem(client.get("/api/v1/authorizations/999999", headers=bearer(token)), 404)


def test_the_registry_filters_work_as_on_the_registry_page(client, token, people, registry):
    def ids(query):
        response = client.get(f"/api/v1/authorizations?{query}", headers=bearer(token))
        assert response.status_code == 200, response.get_data(as_text=True)
        return {item["id"] for item in response.get_json()["items"]}

    assert ids("status=expired") == {registry[-1]}
    assert ids(f"person={people['employee']}") == set(registry[:-1])
    assert ids("expiring=12") == set(registry[:3])
    assert ids("q=nobody-matches-this") == set()
    body = is_problem(client.get("/api/v1/authorizations?status=bogus&expiring=x", headers=bearer(token)), 422)
    assert {e["field"] for e in body["errors"]} == {"status", "expiring"}


def test_cursor_pagination_walks_every_row_exactly_once(client, token, registry):
    seen, url, pages = [], "/api/v1/authorizations?limit=3", 0
    while url:
        response = client.get(url, headers=bearer(token))
        assert response.status_code == 200
        body = response.get_json()
        seen += [item["id"] for item in body["items"]]
        url, pages = body["next"], pages + 1
    assert seen == sorted(registry) and pages == 3
    is_problem(client.get("/api/v1/authorizations?cursor=!!!", headers=bearer(token)), 422)
    is_problem(client.get("/api/v1/authorizations?limit=201", headers=bearer(token)), 422)
    is_problem(client.get("/api/v1/people?limit=0", headers=bearer(token)), 422)


def test_people_are_paginated_too(client, token, people):
    seen, url = [], "/api/v1/people?limit=7"
    while url:
        body = client.get(url, headers=bearer(token)).get_json()
        seen += [p["id"] for p in body["items"]]
        url = body["next"]
    assert sorted(seen) == sorted(people.values()) and len(seen) == len(set(seen))


# -- writes -------------------------------------------------------------------------------------------------


def test_a_request_started_through_the_api_waits_for_the_supervisor_and_names_the_token(
    client, host, org_id, people, codes
):
    token_id, secret = make_token(host, org_id, scopes=["requests", "read"])
    form = request_form(codes[:2])
    response = client.post("/api/v1/requests", headers=bearer(secret), json={"holder_id": people["employee"], **form})
    assert response.status_code == 201, response.get_data(as_text=True)
    instance_id = response.get_json()["instance_id"]
    with host.db.reader() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.subject_person_id == people["employee"] and instance.started_by_id is None
        started = s.scalar(select(AuditEvent).where(AuditEvent.action == "process.started",
                                                    AuditEvent.instance_id == instance_id))
        assert started.actor_id is None and started.details["via"]["api_token"] == token_id
    tasks = client.get("/api/v1/tasks", headers=bearer(secret)).get_json()["items"]
    assert any(t["instance_id"] == instance_id and people["supervisor"] in t["owner_ids"] for t in tasks)


def test_request_validation_failures_are_problem_details_listing_the_fields(client, token, people, codes):
    body = is_problem(client.post("/api/v1/requests", headers=bearer(token), json={"codes": []}), 422)
    assert {"holder_id", "codes", "justification", "valid_from", "valid_until"} <= {e["field"] for e in body["errors"]}
    past = request_form(codes[:1], valid_from=(date.today() - timedelta(days=5)).isoformat())
    body = is_problem(client.post("/api/v1/requests", headers=bearer(token),
                                  json={"holder_id": people["employee"], **past}), 422)
    assert body["errors"][0]["field"] == "valid_from"
    is_problem(client.post("/api/v1/requests", headers=bearer(token), data="nope"), 400)


def hr_joiner(event_id="api-1", **extra) -> dict:
    return {"event_id": event_id, "type": "joiner", "email": "api.tulija@merilahti.example", "name": "Api Tulija",
            "unit": "talouspalvelut", "title": "Palkkasihteeri", "date": "1.3.2027", **extra}


def test_an_hr_event_is_applied_once_like_on_the_hr_endpoint(client, host, token):
    first = client.post("/api/v1/hr-events", headers=bearer(token), json=hr_joiner())
    assert first.status_code == 200 and first.get_json()["status"] == "applied"
    again = client.post("/api/v1/hr-events", headers=bearer(token), json=hr_joiner(name="Joku Muu"))
    assert again.status_code == 200 and again.get_json().get("duplicate") is True
    with host.db.reader() as s:
        assert s.scalar(select(Person.name).where(Person.email == "api.tulija@merilahti.example")) == "Api Tulija"
    body = is_problem(client.post("/api/v1/hr-events", headers=bearer(token), json={"type": "sideways"}), 422)
    assert {"event_id", "type", "email"} <= {e["field"] for e in body["errors"]}
    rejected = is_problem(client.post("/api/v1/hr-events", headers=bearer(token),
                                      json=hr_joiner("api-2", unit="no-such-unit")), 422)
    assert rejected["event_id"] == "api-2" and rejected["detail"]


def test_the_same_idempotency_key_answers_the_stored_response_and_another_body_is_422(
    client, host, token, people, codes
):
    form = {"holder_id": people["employee"], **request_form(codes[:1])}
    headers = {**bearer(token), "Idempotency-Key": "k-1"}
    first = client.post("/api/v1/requests", headers=headers, json=form)
    second = client.post("/api/v1/requests", headers=headers, json=form)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json() and second.headers["Idempotent-Replayed"] == "true"
    with host.db.reader() as s:
        assert len(s.scalars(select(ProcessInstance.id).where(ProcessInstance.process_id == "authorization_request"
                                                              )).all()) == 1
    is_problem(client.post("/api/v1/requests", headers=headers, json={**form, "justification": "other"}), 422)


# -- audit, rate limit, documents ---------------------------------------------------------------------------


def test_every_authenticated_call_is_audited_with_token_method_path_and_status(client, host, org_id):
    token_id, secret = make_token(host, org_id, scopes=["read"])
    client.get("/api/v1/units", headers=bearer(secret))
    client.get("/api/v1/people/999999", headers=bearer(secret))
    with host.db.reader() as s:
        calls = [e.details for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "api.call")
                                               .order_by(AuditEvent.id))]
    assert [(c["token_id"], c["method"], c["path"], c["status"]) for c in calls] == [
        (token_id, "GET", "/api/v1/units", 200), (token_id, "GET", "/api/v1/people/999999", 404)
    ]


def test_past_the_rate_limit_the_answer_is_429_with_retry_after(app, host, org_id):
    app.config["API_RATE_LIMIT"] = 3
    app.extensions.pop("valtuus_api_limiter", None)
    client = app.test_client()
    _id, secret = make_token(host, org_id)
    _id, other = make_token(host, org_id)
    statuses = [client.get("/api/v1/units", headers=bearer(secret)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/api/v1/units", headers=bearer(secret))
    is_problem(limited, 429)
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert client.get("/api/v1/units", headers=bearer(other)).status_code == 200  # per token


def test_the_rate_limiter_opens_a_new_window():
    now = [0.0]
    limiter = api_tokens.RateLimiter(2, 60, clock=lambda: now[0])
    assert [limiter.hit(1), limiter.hit(1)] == [None, None] and limiter.hit(1) == 60
    now[0] = 61.0
    assert limiter.hit(1) is None


def test_the_openapi_document_is_openapi_3_with_every_path_and_schema(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and spec["info"]["title"] and spec["info"]["version"]
    assert set(spec["paths"]) == {
        "/authorizations", "/authorizations/{authorization_id}", "/people", "/people/{person_id}", "/units",
        "/codes", "/codes/{code_id}", "/tasks", "/hr-events", "/requests",
    }
    schemas = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert method in ("get", "post", "patch") and operation["responses"]
            for status, response in operation["responses"].items():
                assert status.isdigit() and response["description"]
                for content in response.get("content", {}).values():
                    assert content["schema"]["$ref"].split("/")[-1] in schemas
            for parameter in operation.get("parameters", []):
                assert parameter["in"] in ("query", "path", "header") and "schema" in parameter
                if "{" in path and parameter["in"] == "path":
                    assert "{" + parameter["name"] + "}" in path


def test_the_docs_page_lists_paths_and_schemas_without_scripts(client):
    response = client.get("/api/v1/docs")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<script" not in html
    assert "GET /api/v1/authorizations" in html and "AuthorizationSchema" in html


# -- the pääkäyttäjä's token page ---------------------------------------------------------------------------


def test_the_administrator_creates_a_token_sees_it_once_and_revokes_it(web, client, host):
    web.login("admin")
    page = web.post("/admin/api-tokens", {"name": "HR-järjestelmä", "scopes": ["read", "hr-events"]})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    secret = html.split('<code id="new-token">')[1].split("</code>")[0]
    assert client.get("/api/v1/units", headers=bearer(secret)).status_code == 200
    assert secret not in client.get("/admin/api-tokens").get_data(as_text=True)
    with host.db.reader() as s:
        row = s.scalar(select(ApiToken))
        assert row.scopes == ["read", "hr-events"] and row.created_by_id == web.people["admin"]
    assert web.post(f"/admin/api-tokens/{row.id}/revoke", {}, token_from="/admin/api-tokens").status_code == 303
    is_problem(client.get("/api/v1/units", headers=bearer(secret)), 401)


def test_a_token_needs_a_name_and_a_scope_and_only_the_administrator_may_manage_tokens(web, client, host):
    web.login("admin")
    assert web.post("/admin/api-tokens", {"name": "", "scopes": ["read"]}).status_code == 303
    assert web.post("/admin/api-tokens", {"name": "x"}).status_code == 303
    with host.db.reader() as s:
        assert s.scalar(select(ApiToken)) is None
    web.login("employee")
    assert client.get("/admin/api-tokens").status_code == 403
    assert client.post("/admin/api-tokens", data={"name": "x", "scopes": ["read"]}).status_code in (400, 403)


def test_an_unknown_api_path_or_a_malformed_id_is_a_problem_too(client, token):
    is_problem(client.get("/api/v1/nothing-here", headers=bearer(token)), 404)
    is_problem(client.get("/api/v1/people/abc", headers=bearer(token)), 404)
    is_problem(client.delete("/api/v1/units", headers=bearer(token)), 405)


def test_ids_and_cursors_beyond_the_database_integer_range_are_404_and_422_not_500(client, token):
    is_problem(client.get(f"/api/v1/authorizations/{2**80}", headers=bearer(token)), 404)
    is_problem(client.get(f"/api/v1/people/{2**80}", headers=bearer(token)), 404)
    from web.api import _encode_cursor

    is_problem(client.get(f"/api/v1/people?cursor={_encode_cursor(2**80)}", headers=bearer(token)), 422)
    is_problem(client.get(f"/api/v1/authorizations?cursor={_encode_cursor(-1)}", headers=bearer(token)), 422)


def test_a_request_for_an_id_beyond_the_integer_range_is_a_validation_problem(client, token):
    today = date.today().isoformat()
    body = is_problem(client.post("/api/v1/requests", headers=bearer(token), json={
        "holder_id": 2**80, "codes": [2**80], "justification": "x", "valid_from": today, "valid_until": today}), 422)
    assert {"holder_id", "codes.0"} <= {e["field"] for e in body["errors"]}
