"""Organisations hosted together are strictly separated: organisation A's pääkäyttäjä and process owner, who may see
everything of A, asks every route that names an object for organisation B's objects – by URL, query string and form –
and gets 404 and nothing of B; lists, filters and the integration API show nothing of B either; nothing of B changes."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.models import (
    ApiToken,
    Authorization,
    AuthorizationCode,
    HumanTask,
    ImportUpload,
    Notification,
    OutboxMessage,
    Person,
    ProcessInstance,
    ReviewItem,
    RoleProfile,
    RoleProfileCode,
    Unit,
    WebhookEndpoint,
)
from engine.runtime import Host
from tests.conftest import request_form
from tests.web.access_world import FIXED, ID_PARAMS, World, markers, world_fixture  # noqa: F401 – "world"
from tests.web.test_access_matrix import RULES, TOKEN_RULES, set_hr_token
from web.api import MAX_LIMIT

VISITOR = "admin"  # Pia Pääkäyttäjä: administrator and process owner of A, who may see everything of A
CROSS_FORM = {  # POST routes whose form (not their URL) names an object
    "requests.create": {**request_form([]), "holder_id": "{person_id}"},
    "revocations.create": {"authorization": "{authorization_id}", "reason": "Ei tarvita enää"},
    "reviews.decide": {"decide": "{review_item_id}:keep", "version-{review_item_id}": "0"},
    "profiles.admin_codes": {"add_code": "{code_id}", "add_reason_fi": "Tarvitaan"},
}
CROSS_QUERY = {  # GET pages whose query string names an object
    "revocations.new": ["?authorization={authorization_id}"],
    "requests.new": ["?renew={authorization_id}", "?profile={key}&holder={person_id}"],
    "profiles.show": ["?holder={person_id}"],
}


def cross_cases(world: World) -> list[tuple[str, str, str, dict]]:
    """(endpoint, method, path, form) for every route that names an object, filled with B's objects."""
    cases = []
    for rule in world.app.url_map.iter_rules():
        named = set(rule.arguments) & ID_PARAMS
        if RULES.get(rule.endpoint) in TOKEN_RULES:
            continue  # no session reaches them (the matrix); the API is tried with a token below
        if not named and rule.endpoint not in CROSS_FORM and rule.endpoint not in CROSS_QUERY:
            continue
        path = world.url(rule.endpoint, world.b) if named else rule.rule
        for method in sorted(rule.methods & {"GET", "POST"}):
            form = {
                k.format(**world.b.ids): v if isinstance(v, list) else v.format(**world.b.ids)
                for k, v in CROSS_FORM.get(rule.endpoint, {}).items()
            }
            if method == "POST" and (named or form):
                cases.append((rule.endpoint, method, path, form))
            if method == "GET" and named:
                cases.append((rule.endpoint, method, path, {}))
            if method == "GET":
                cases += [
                    (rule.endpoint, method, path + q.format(**world.b.ids), {})
                    for q in CROSS_QUERY.get(rule.endpoint, [])
                ]
    return cases


def snapshot(world: World) -> dict:
    """Organisation B's rows that a stray POST could change."""
    org = world.b.id
    with world.host.db.reader() as s:

        def rows(query):
            return sorted(tuple(r) for r in s.execute(query).all())

        return {
            "tokens": rows(select(ApiToken.id, ApiToken.revoked_at).where(ApiToken.organisation_id == org)),
            "endpoints": rows(
                select(WebhookEndpoint.id, WebhookEndpoint.active, WebhookEndpoint.secret).where(
                    WebhookEndpoint.organisation_id == org
                )
            ),
            "uploads": rows(select(ImportUpload.id).where(ImportUpload.organisation_id == org)),
            "tasks": rows(select(HumanTask.id, HumanTask.status).where(HumanTask.organisation_id == org)),
            "instances": rows(
                select(ProcessInstance.id, ProcessInstance.status).where(ProcessInstance.organisation_id == org)
            ),
            "outbox": rows(select(OutboxMessage.id, OutboxMessage.status).where(OutboxMessage.organisation_id == org)),
            "read": rows(select(Notification.id, Notification.read_at).where(Notification.organisation_id == org)),
            "codes": rows(
                select(AuthorizationCode.id, AuthorizationCode.status, AuthorizationCode.name).where(
                    AuthorizationCode.organisation_id == org
                )
            ),
            "profiles": rows(select(RoleProfile.id, RoleProfile.name).where(RoleProfile.organisation_id == org)),
            "review": rows(
                select(ReviewItem.id, ReviewItem.decision)
                .join(ProcessInstance)
                .where(ProcessInstance.organisation_id == org)
            ),
        }


def test_a_user_of_one_organisation_gets_nothing_of_another_on_any_route(world):
    client, token = world.client(VISITOR)
    before, seen = snapshot(world), set()
    for endpoint, method, path, form in cross_cases(world):
        seen.add(endpoint)
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data={"csrf_token": token, **form})
        said = f"{method} {path} as A's pääkäyttäjä: {response.status_code}"
        assert response.status_code in (403, 404), said
        body = response.get_data(as_text=True)
        assert not [m for m in markers(world.b) if m in body], said
    mark = client.post("/notifications/read", data={"csrf_token": token, "id": world.b.ids["notification_id"]})
    assert mark.status_code == 303  # the id is looked up among one's own notifications only
    assert snapshot(world) == before  # nothing of B changed (B's notification is still unread)
    # every route with an id in its URL was tried (a new one is picked up by its parameter's name)
    assert {
        "tasks.complete",
        "webhooks.retry",
        "api_admin.revoke",
        "imports.confirm",
        "profiles.admin_edit",
        "requests.create",
        "revocations.create",
        "reviews.decide",
        "code_proposals.show",
    } <= seen


def test_pages_that_list_show_nothing_of_another_organisation(world):
    client, _token = world.client(VISITOR)
    pages = [
        r
        for r in world.app.url_map.iter_rules()
        if "GET" in r.methods and not r.arguments - set(FIXED) and RULES.get(r.endpoint) not in ("public", *TOKEN_RULES)
    ]
    assert len(pages) > 20
    for rule in pages:
        path = world.url(rule.endpoint, world.a)
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.get_data().decode("utf-8", "replace")  # (downloads too)
        assert not [m for m in markers(world.b) if m in body], path
    # B's process owner deployed version 2 of a shared diagram: A sees the version, not who deployed it
    diff = client.get("/processes/authorization_request/diff?old=1&new=2")
    assert diff.status_code == 200 and not [m for m in markers(world.b) if m in diff.get_data(as_text=True)]


def test_the_api_answers_a_token_of_one_organisation_with_nothing_of_another(world):
    client = world.app.test_client()
    headers = {"Authorization": f"Bearer {world.a.api_token}"}
    b = world.b.ids
    for path in (f"/api/v1/authorizations/{b['authorization_id']}", f"/api/v1/people/{b['person_id']}"):
        assert client.get(path, headers=headers).status_code == 404, path
    assert client.patch(f"/api/v1/codes/{b['code_id']}", json={"agency": "Toinen"}, headers=headers).status_code == 404
    dates = {k: v for k, v in request_form([]).items() if k.startswith("valid")}
    request = {"holder_id": b["person_id"], "codes": [b["code_id"]], "justification": "Palkanlaskenta vaatii.", **dates}
    assert client.post("/api/v1/requests", headers=headers, json=request).status_code == 404
    request["holder_id"] = world.a.people["employee"]  # one's own person, another organisation's code
    assert client.post("/api/v1/requests", headers=headers, json=request).status_code == 422
    for query in (f"person={b['person_id']}", f"code={b['code_id']}"):
        assert client.get(f"/api/v1/authorizations?{query}", headers=headers).get_json()["items"] == []
    for path, theirs in ids_of(world.host, world.b.id).items():
        response = client.get(f"/api/v1/{path}?limit={MAX_LIMIT}", headers=headers)
        assert response.status_code == 200, path
        assert not [m for m in markers(world.b) if m in response.get_data(as_text=True)], path
        assert theirs and not {item["id"] for item in response.get_json()["items"]} & theirs, path


def ids_of(host: Host, organisation_id: int) -> dict[str, set]:
    """The ids of an organisation's rows, by the API list that would show them."""
    tables = {
        "authorizations": Authorization,
        "people": Person,
        "units": Unit,
        "codes": AuthorizationCode,
        "tasks": HumanTask,
    }
    with host.db.reader() as s:
        return {
            path: set(s.scalars(select(t.id).where(t.organisation_id == organisation_id))) for path, t in tables.items()
        }


def test_filters_and_forms_of_ones_own_pages_take_nothing_of_another_organisation(world):
    client, token = world.client(VISITOR)
    b = world.b.ids
    with world.host.db.reader() as s:
        b_unit = s.scalar(select(Unit.id).where(Unit.organisation_id == world.b.id))
    for query in (f"?person={b['person_id']}", f"?unit={b_unit}", f"?code={b['code_id']}"):
        for page in ("/authorizations", "/authorizations/export.csv", "/overview"):
            response = client.get(page + query)
            assert response.status_code == 200, page + query
            assert not [m for m in markers(world.b) if m in response.get_data(as_text=True)], page + query

    def counts():
        with world.host.db.reader() as s:
            return s.scalar(select(func.count(ProcessInstance.id))), s.scalar(
                select(func.count(RoleProfileCode.code_id))
            )

    before = counts()
    profile = client.post(
        f"/admin/role-profiles/{world.a.ids['key']}/codes",
        data={"csrf_token": token, "add_code": b["code_id"], "add_reason_fi": "Tarvitaan"},
    )
    assert profile.status_code == 422  # a code of another organisation is no choice
    employee, employee_token = world.client("employee")
    started = employee.post("/requests/new", data={**request_form([b["code_id"]]), "csrf_token": employee_token})
    assert started.status_code == 422
    assert counts() == before


def test_hr_events_of_one_organisation_cannot_reach_a_person_of_another(world):
    set_hr_token(world, world.a, "hr-secret-a")
    client = world.app.test_client()
    event = {"event_id": "matrix-leaver-1", "type": "leaver", "email": "worker@toinen.example", "date": "2026-01-01"}
    answer = client.post("/api/hr/events", json=event, headers={"Authorization": "Bearer hr-secret-a"})
    assert answer.status_code == 422
    event["event_id"] = "matrix-leaver-2"
    answer = client.post("/api/v1/hr-events", json=event, headers={"Authorization": f"Bearer {world.a.api_token}"})
    assert answer.status_code == 422, answer.get_data(as_text=True)
    with world.host.db.reader() as s:
        assert s.get(Person, world.b.people["employee"]).active
